/**
 * The first step of every release: validate and normalize the input (before any AWS call), take the database's
 * release lock (./release-lock.ts; refused while another execution holds it), and make sure this release's
 * migrations exist — giving the lock back if they do not. The rollback state machine (issue 16) starts with it too
 * (`flow: "rollback"`): its input validated, the same lock taken, but never waited for (./rollback.ts).
 */

import type { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import * as z from 'zod/mini';
import { InvalidInputError, ReleaseInProgressError, RollbackRefusedError } from '../shared/errors.ts';
import { parseEvent } from '../shared/events.ts';
import { invocationKeys, runHandler } from '../shared/handler.ts';
import type { Log } from '../shared/logger.ts';
import { assertPublished, type S3Location } from '../shared/migrations-s3.ts';
import { type MigrationsSource, parseReleaseInput, type ReleaseInput } from '../shared/release-input.ts';
import { parseRollbackInput, type RollbackInput } from '../shared/rollback-input.ts';
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
  /** The rollback state machine's preflight; absent, a release's. */
  readonly flow?: 'rollback';
  readonly input: unknown;
  readonly execution: { readonly id: string; readonly startTime: string; readonly stateMachineArn: string };
}

export interface PreflightOutput {
  readonly release: ReleaseInput;
  readonly executionId: string;
  readonly database: string;
}

/** What the rollback state machine's preflight returns: `release` is what its deploy steps are given. */
export interface RollbackPreflightOutput extends PreflightOutput {
  readonly rollback: RollbackInput;
  /** The snapshot restored from, or "none" (image only): what the record and the alerts name. */
  readonly snapshot: { readonly snapshotId: string };
}

const eventSchema = z.object({
  flow: z.optional(z.literal('rollback')),
  input: z.unknown(),
  execution: z.object({
    id: z.string().check(z.startsWith('arn:')),
    startTime: z.string().check(z.minLength(1)),
    stateMachineArn: z.string().check(z.startsWith('arn:')),
  }),
});

export async function preflight(deps: PreflightDeps, rawEvent: unknown): Promise<PreflightOutput> {
  const event = parseEvent(eventSchema, rawEvent);
  if (event.flow === 'rollback') return rollbackPreflight(deps, event);
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

/**
 * The rollback's preflight: its input validated (before any AWS call), then the release lock taken, which it holds
 * to its end. A release or another rollback holding it refuses the rollback at once, naming it: unlike a release, a
 * rollback does not queue behind one (someone is deciding, and what runs now may change that decision).
 */
async function rollbackPreflight(
  deps: PreflightDeps,
  event: { readonly input: unknown; readonly execution: { readonly id: string } },
): Promise<RollbackPreflightOutput> {
  const rollback = parseRollbackInput(event.input);
  const lock = deps.lock;
  if (lock) {
    try {
      await acquireReleaseLock(
        { dynamodb: lock.dynamodb, sfn: deps.sfn, log: deps.log, now: deps.now ?? (() => new Date()) },
        lock.config,
        event.execution.id,
      );
    } catch (err) {
      if (!(err instanceof ReleaseInProgressError)) throw err;
      throw new RollbackRefusedError(
        `the rollback was refused: another release or rollback holds the release lock of ${deps.config.database}: ` +
          `${err.otherExecutionArn}${err.otherStartedAt ? ` (started ${err.otherStartedAt})` : ''}. Nothing was changed. ` +
          `Let it end, or stop it (aws stepfunctions stop-execution --execution-arn ${err.otherExecutionArn}), then start the rollback again`,
        { cause: err },
      );
    }
  }
  deps.log.info('rollback preflight passed', {
    to: rollback.to.release,
    restore: rollback.restore?.snapshotId ?? 'none',
    requestedBy: rollback.requestedBy,
  });
  return {
    rollback,
    // What the deploy steps take: the rollback's label, the target's image (recorded in the image parameter once live).
    release: {
      release: rollback.rollback,
      image: rollback.to.image,
      migrations: deps.config.defaultMigrations,
      options: { skipSnapshot: true, dryRun: false },
    },
    executionId: event.execution.id,
    database: deps.config.database,
    snapshot: { snapshotId: rollback.restore?.snapshotId ?? 'none' },
  };
}

/** The Lambda handler over these deps: ./handler.ts wires the AWS ones, the local rehearsal its stand-ins. */
export function createPreflightHandler(deps: PreflightDeps, logger: Logger) {
  return async (event: unknown): Promise<PreflightOutput> => {
    const { executionId, release } = invocationKeys(event);
    return runHandler(logger, { executionId, release, step: 'preflight' }, () => preflight(deps, event));
  };
}
