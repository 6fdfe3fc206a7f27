/**
 * The rollback state machine's input (issue 16): what `lockstep rollback` starts it with, and what the rollback flow
 * reads. One contract, here, imported by both sides (cli/ and the construct's flow; neither imports the other):
 *
 * ```json
 * { "rollback": "rollback-to-v1.3.0",
 *   "to": { "release": "v1.3.0", "recordKey": "<the target record's sort key>", "image": "<image>",
 *           "taskDefinitionArn": "<the target release's task-definition revision after it released>" },
 *   "restore": null | { "snapshotId": "<snapshot id>", "snapshotCreatedAt": "<ISO time>" },
 *   "requestedBy": "<caller identity ARN>", "reason": "<text>" }
 * ```
 *
 * The flow holds the release lock throughout; restores `restore.snapshotId` when it is set (the snapshot taken by the
 * first release after the target: it holds the database as the target release left it); redeploys
 * `to.taskDefinitionArn`; writes a record of the rollback (its `input` attribute is this input, which is how
 * `lockstep releases` tells a rollback from a release); alerts on failure.
 */
import * as z from 'zod/mini';
import { parseEvent } from './events.ts';
import { RELEASE_LABEL, RELEASE_LABEL_RULE } from './release-label.ts';

export interface RollbackTarget {
  /** The release rolled back to, as its record names it. */
  readonly release: string;
  /** Its record's sort key, `<start time>#<execution name>`. */
  readonly recordKey: string;
  /** The image it released. */
  readonly image: string;
  /** The task-definition revision the service ran after it released: what the rollback redeploys. */
  readonly taskDefinitionArn: string;
}

export interface RollbackRestore {
  /** The RDS snapshot (DB snapshot, or cluster snapshot for Aurora) to restore. */
  readonly snapshotId: string;
  /** When it was taken (ISO 8601): data written after it is lost by the restore. */
  readonly snapshotCreatedAt: string;
}

export interface RollbackInput {
  /** This rollback's label, e.g. `rollback-to-v1.3.0`. */
  readonly rollback: string;
  readonly to: RollbackTarget;
  /** `null`: image only, the database keeps its schema. */
  readonly restore: RollbackRestore | null;
  /** The ARN of the identity that asked for it (STS GetCallerIdentity). */
  readonly requestedBy: string;
  readonly reason: string;
}

const label = z.string().check(z.regex(RELEASE_LABEL, RELEASE_LABEL_RULE));
const nonEmpty = (max: number) => z.string().check(z.minLength(1), z.maxLength(max));
const TASK_DEFINITION_ARN =
  /^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition\/[A-Za-z0-9_-]{1,255}:\d+$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

export const rollbackInputSchema = z.strictObject({
  rollback: label,
  to: z.strictObject({
    release: label,
    recordKey: nonEmpty(400),
    image: nonEmpty(1024),
    taskDefinitionArn: z
      .string()
      .check(
        z.regex(
          TASK_DEFINITION_ARN,
          'must be an ECS task-definition revision ARN (…:task-definition/family:N)',
        ),
      ),
  }),
  restore: z.nullable(
    z.strictObject({
      // RDS identifiers: 1-255 letters, digits and hyphens (a shared or copied snapshot may be named by ARN).
      snapshotId: z
        .string()
        .check(
          z.regex(
            /^(arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:(cluster-)?snapshot:)?[A-Za-z][A-Za-z0-9-]{0,254}$/,
            'must be an RDS snapshot identifier',
          ),
        ),
      snapshotCreatedAt: z
        .string()
        .check(z.regex(ISO_TIME, 'must be an ISO 8601 UTC time such as 2026-01-31T12:00:00Z')),
    }),
  ),
  requestedBy: nonEmpty(2048),
  reason: nonEmpty(1024),
});

/** Validates a rollback input; throws InvalidInputError naming the first bad field (`to.taskDefinitionArn`). */
export function parseRollbackInput(raw: unknown): RollbackInput {
  return parseEvent(rollbackInputSchema, raw, 'input');
}
