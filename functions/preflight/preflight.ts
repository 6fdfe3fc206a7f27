/**
 * The first step of every release: validate and normalize the input (before any AWS call), take the database's
 * release lock (./release-lock.ts; refused while another execution holds it), and make sure this release's
 * migrations exist — giving the lock back if they do not.
 */

import type { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import * as z from 'zod/mini';
import { InvalidInputError } from '../shared/errors.ts';
import { parseEvent } from '../shared/events.ts';
import { invocationKeys, runHandler } from '../shared/handler.ts';
import type { Log } from '../shared/logger.ts';
import { assertPublished, type S3Location } from '../shared/migrations-s3.ts';
import { type MigrationsSource, parseReleaseInput, type ReleaseInput } from '../shared/release-input.ts';
import { acquireReleaseLock, type ReleaseLockConfig, releaseReleaseLock } from './release-lock.ts';

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
  /** The database's release lock. Left out only by the local rehearsal, where one execution runs at a time. */
  readonly lock?: { readonly dynamodb: DynamoDBClient; readonly config: ReleaseLockConfig };
  /** @default () => new Date() */
  readonly now?: () => Date;
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
  if (deps.config.defaultMigrations === 'command' && release.migrations !== 'command') {
    throw new InvalidInputError(
      'migrations',
      `"${release.migrations}" was asked for, but this stack migrates with its migration command (command mode): leave "migrations" out`,
    );
  }
  if (release.migrations === 's3' && !deps.config.s3) {
    throw new InvalidInputError('migrations', '"s3" was asked for, but this stack has no migrations bucket');
  }
  // 2. One release at a time per database.
  const lock = deps.lock;
  if (lock) {
    await acquireReleaseLock(
      { dynamodb: lock.dynamodb, sfn: deps.sfn, log: deps.log, now: deps.now ?? (() => new Date()) },
      lock.config,
      execution.id,
    );
  }
  // 3. The migrations this release will run exist; if not, the lock goes back (no later state will release it).
  try {
    if (release.migrations === 's3' && deps.config.s3)
      await assertPublished(deps.s3, deps.config.s3, release.release);
  } catch (err) {
    if (lock) {
      await releaseReleaseLock(lock, lock.config, execution.id).catch((releaseErr: unknown) =>
        deps.log.error('could not give the release lock back; it expires with the release timeout', {
          error: releaseErr instanceof Error ? releaseErr.message : String(releaseErr),
        }),
      );
    }
    throw err;
  }
  deps.log.info('preflight passed', {
    image: release.image,
    migrations: release.migrations,
    ...release.options,
  });
  return { release, executionId: execution.id, database: deps.config.database };
}

/** The Lambda handler over these deps: ./handler.ts wires the AWS ones, the local rehearsal its stand-ins. */
export function createPreflightHandler(deps: PreflightDeps, logger: Logger) {
  return async (event: unknown): Promise<PreflightOutput> => {
    const { executionId, release } = invocationKeys(event);
    return runHandler(logger, { executionId, release, step: 'preflight' }, () => preflight(deps, event));
  };
}
