/** The snapshot function's environment, read once at cold start. */
import * as z from 'zod/mini';
import { dbIdentifier, dbKind, type Env, positiveInt, readConfig } from '../shared/config.ts';
import type { SnapshotConfig } from './snapshot.ts';

/** At most this long, so every identifier keeps room for (part of) the database name. */
const MAX_PREFIX_LENGTH = 30;

/** The environment variables, as `readConfig` takes them. */
export const snapshotEnv = {
  DB_KIND: dbKind,
  DB_IDENTIFIER: dbIdentifier,
  SNAPSHOT_PREFIX: z._default(
    z
      .string()
      .check(
        z.regex(
          /^[A-Za-z](?:[A-Za-z0-9]|-(?=[A-Za-z0-9]))*$/,
          'must be letters, digits and single hyphens, starting with a letter and not ending with a hyphen',
        ),
        z.maxLength(MAX_PREFIX_LENGTH, `must be at most ${MAX_PREFIX_LENGTH} characters`),
      ),
    'lockstep',
  ),
  SNAPSHOTS_TO_KEEP: positiveInt(10),
  SNAPSHOT_TIMEOUT_SECONDS: positiveInt(7200),
};

/** Reads and validates the snapshot function's variables; a problem is a {@link ConfigError} naming the variable. */
export function readSnapshotConfig(env: Env): SnapshotConfig {
  const vars = readConfig(env, snapshotEnv);
  return {
    dbKind: vars.DB_KIND,
    dbIdentifier: vars.DB_IDENTIFIER,
    // RDS stores snapshot identifiers in lowercase, so lockstep compares them in lowercase too.
    prefix: vars.SNAPSHOT_PREFIX.toLowerCase(),
    snapshotsToKeep: vars.SNAPSHOTS_TO_KEEP,
    snapshotTimeoutSeconds: vars.SNAPSHOT_TIMEOUT_SECONDS,
  };
}
