/**
 * The rollback state machine's input (issue 16), as `lockstep rollback --to <release>` starts it: the contract
 * between the CLI, which decides image-only or restore from the release records, and the AWS rollback flow
 * (infra/constructs/rollback-definition.ts), which validates it in preflight before anything changes.
 *
 *   { "rollback": "rollback-to-v1.3.0",
 *     "to": { "release": "v1.3.0", "recordKey": "<start>#<execution>", "image": "<image>", "taskDefinitionArn": "<arn>" },
 *     "restore": null | { "snapshotId": "<snapshot>", "snapshotCreatedAt": "<ISO time>" },
 *     "requestedBy": "<caller identity ARN>", "reason": "<text>" }
 */
import * as z from 'zod/mini';
import { parseEvent } from './events.ts';
import { RELEASE_LABEL, RELEASE_LABEL_RULE } from './release-label.ts';

export interface RollbackTarget {
  /** The release rolled back to. */
  readonly release: string;
  /** Its record's sort key, `<start time>#<execution name>`. */
  readonly recordKey: string;
  /** The image it ran. */
  readonly image: string;
  /** The task-definition revision the service ran once it was released. */
  readonly taskDefinitionArn: string;
}

export interface RollbackRestore {
  /** The snapshot to restore the database from (the one taken before the first release rolled back). */
  readonly snapshotId: string;
  /** When it was taken: what the database goes back to. */
  readonly snapshotCreatedAt: string;
}

export interface RollbackInput {
  /** The rollback's own label: its record's `release`, and the label the deploy function logs. */
  readonly rollback: string;
  readonly to: RollbackTarget;
  /** `null`: image only, the database keeps its schema and data. */
  readonly restore: RollbackRestore | null;
  /** Who asked for it: the caller's identity ARN. */
  readonly requestedBy: string;
  readonly reason: string;
}

const label = z.string().check(z.regex(RELEASE_LABEL, RELEASE_LABEL_RULE));
const text = (max: number) =>
  z
    .string()
    .check(z.minLength(1, 'must not be empty'), z.maxLength(max, `must be at most ${max} characters`));
const TASK_DEFINITION_ARN =
  /^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition\/[A-Za-z0-9_-]{1,255}:\d+$/;
/** An RDS DB snapshot or DB cluster snapshot identifier (RDS API Reference: 1-255 letters, digits, hyphens). */
const SNAPSHOT_ID = /^[A-Za-z](?:[A-Za-z0-9]|-(?!-))*$/;

export const rollbackInputSchema = z.strictObject({
  rollback: label,
  to: z.strictObject({
    release: label,
    recordKey: text(400),
    image: text(1024),
    taskDefinitionArn: z
      .string()
      .check(
        z.regex(
          TASK_DEFINITION_ARN,
          'must be an ECS task-definition revision ARN (arn:aws:ecs:<region>:<account>:task-definition/<family>:<revision>)',
        ),
      ),
  }),
  restore: z.nullable(
    z.strictObject({
      snapshotId: z
        .string()
        .check(
          z.maxLength(255, 'must be at most 255 characters'),
          z.regex(SNAPSHOT_ID, 'must be an RDS snapshot identifier (letters, digits and single hyphens)'),
        ),
      snapshotCreatedAt: z.iso.datetime({
        offset: true,
        error: 'must be an ISO 8601 date and time, such as 2024-05-06T07:08:09Z',
      }),
    }),
  ),
  requestedBy: z
    .string()
    .check(z.regex(/^arn:aws[a-z-]*:(?:iam|sts)::\d{12}:.+$/, 'must be an IAM or STS ARN')),
  reason: text(1000),
});

/** Validates a rollback input; throws InvalidInputError naming the first bad field (`to.taskDefinitionArn`…). */
export function parseRollbackInput(raw: unknown): RollbackInput {
  return parseEvent(rollbackInputSchema, raw, 'input');
}
