/**
 * The first step of every release: validate and normalize the input (before any AWS call), refuse when another
 * execution is already releasing to this database, and make sure this release's migrations exist.
 */

import type { Logger } from '@aws-lambda-powertools/logger';
import type { S3Client } from '@aws-sdk/client-s3';
import { ExecutionStatus, paginateListExecutions, type SFNClient } from '@aws-sdk/client-sfn';
import * as z from 'zod/mini';
import { InvalidInputError, ReleaseInProgressError } from '../shared/errors.ts';
import { parseEvent } from '../shared/events.ts';
import { invocationKeys, runHandler } from '../shared/handler.ts';
import type { Log } from '../shared/logger.ts';
import { assertPublished, type S3Location } from '../shared/migrations-s3.ts';
import { type MigrationsSource, parseReleaseInput, type ReleaseInput } from '../shared/release-input.ts';

export interface PreflightConfig {
  readonly defaultMigrations: MigrationsSource;
  readonly s3: S3Location | undefined;
  /** The database this state machine releases to, for messages. */
  readonly database: string;
}

export interface PreflightDeps {
  readonly sfn: SFNClient;
  readonly s3: S3Client;
  readonly log: Log;
  readonly config: PreflightConfig;
}

/** What the state machine passes: the raw release input and its own context object's fields. */
export interface PreflightEvent {
  readonly input: unknown;
  readonly execution: { readonly id: string; readonly startTime: string; readonly stateMachineArn: string };
}

export interface PreflightOutput {
  readonly release: ReleaseInput;
  readonly executionId: string;
  readonly database: string;
}

const eventSchema = z.object({
  input: z.unknown(),
  execution: z.object({
    id: z.string().check(z.startsWith('arn:')),
    startTime: z.string().check(z.minLength(1)),
    stateMachineArn: z.string().check(z.startsWith('arn:')),
  }),
});

export async function preflight(deps: PreflightDeps, rawEvent: unknown): Promise<PreflightOutput> {
  const event = parseEvent(eventSchema, rawEvent);
  const { execution } = event;
  // 1. Bad input is rejected here, naming the field, before anything touches AWS.
  const release = parseReleaseInput(event.input, { migrations: deps.config.defaultMigrations });
  if (release.migrations === 's3' && !deps.config.s3) {
    throw new InvalidInputError('migrations', '"s3" was asked for, but this stack has no migrations bucket');
  }
  // 2. One release at a time per database.
  await assertNoOtherRelease(deps, execution);
  // 3. The migrations this release will run exist.
  if (release.migrations === 's3' && deps.config.s3)
    await assertPublished(deps.s3, deps.config.s3, release.release);
  deps.log.info('preflight passed', {
    image: release.image,
    migrations: release.migrations,
    ...release.options,
  });
  return { release, executionId: execution.id, database: deps.config.database };
}

/**
 * Every execution of this state machine releases to the same database, so any other RUNNING one is a
 * conflict. When two start together each sees the other: the older one (then the smaller ARN) goes on, the
 * newer one stops — never both.
 */
async function assertNoOtherRelease(deps: PreflightDeps, self: PreflightEvent['execution']): Promise<void> {
  const selfStart = Date.parse(self.startTime);
  const pages = paginateListExecutions(
    { client: deps.sfn },
    { stateMachineArn: self.stateMachineArn, statusFilter: ExecutionStatus.RUNNING },
  );
  for await (const page of pages) {
    for (const other of page.executions ?? []) {
      if (!other.executionArn || other.executionArn === self.id) continue;
      const otherStart = other.startDate?.getTime() ?? Number.NEGATIVE_INFINITY;
      const otherIsOlder =
        otherStart < selfStart || (otherStart === selfStart && other.executionArn < self.id);
      if (otherIsOlder) throw new ReleaseInProgressError(other.executionArn, other.startDate?.toISOString());
    }
  }
}

/** The Lambda handler over these deps: ./handler.ts wires the AWS ones, the local rehearsal its stand-ins. */
export function createPreflightHandler(deps: PreflightDeps, logger: Logger) {
  return async (event: unknown): Promise<PreflightOutput> => {
    const { executionId, release } = invocationKeys(event);
    return runHandler(logger, { executionId, release, step: 'preflight' }, () => preflight(deps, event));
  };
}
