/** The preflight function's environment, read once at cold start. */
import * as z from 'zod/mini';
import { type Env, positiveInt, readConfig } from '../shared/config.ts';
import type { S3Location } from '../shared/migrations-s3.ts';
import type { MigrationsSource } from '../shared/release-input.ts';
import type { PreflightConfig } from './preflight.ts';
import type { ReleaseLockConfig } from './release-lock.ts';

export function preflightConfig(env: Env): PreflightConfig & { readonly lock: ReleaseLockConfig } {
  const c = readConfig(env, {
    MIGRATIONS_SOURCE: z._default(z.enum(['bundled', 's3', 'command']), 'bundled'),
    MIGRATIONS_BUCKET: z.optional(z.string().check(z.minLength(3))),
    MIGRATIONS_PREFIX: z._default(z.string(), ''),
    DB_IDENTIFIER: z.string().check(z.minLength(1)),
    LOCK_TABLE: z.string().check(z.regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name')),
    // How long a lock outlives an owner that never gives it back: the state machine's own timeout.
    RELEASE_TIMEOUT_SECONDS: positiveInt(6 * 3600),
  });
  const s3: S3Location | undefined = c.MIGRATIONS_BUCKET
    ? { bucket: c.MIGRATIONS_BUCKET, prefix: c.MIGRATIONS_PREFIX }
    : undefined;
  return {
    defaultMigrations: c.MIGRATIONS_SOURCE satisfies MigrationsSource,
    s3,
    database: c.DB_IDENTIFIER,
    lock: { table: c.LOCK_TABLE, lockId: c.DB_IDENTIFIER, ttlSeconds: c.RELEASE_TIMEOUT_SECONDS },
  };
}
