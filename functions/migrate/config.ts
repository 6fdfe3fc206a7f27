import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { ENGINE_DEFAULTS } from '../../engine/runner.ts';
import { arn, type Env, readConfig } from '../shared/config.ts';
import { ConfigError } from '../shared/errors.ts';
import type { MigrateConfig } from './migrate.ts';

const wholeMs = (fallback: number) =>
  z.coerce.number().int('must be a whole number').min(0, 'must be ≥ 0').default(fallback);

/** The migrate function's environment. `taskRoot` is where the bundled `migrations/` directory sits. */
export function migrateConfig(env: Env, taskRoot: string): MigrateConfig & { readonly secretId: string } {
  const c = readConfig(env, {
    DB_SECRET_ARN: arn('secretsmanager'),
    DB_HOST: z.string().min(1).optional(),
    DB_PORT: z.coerce.number().int().min(1).max(65535).optional(),
    DB_NAME: z.string().min(1).optional(),
    DB_CA_FILE: z.string().min(1).optional(),
    MIGRATIONS_DIR: z.string().min(1).optional(),
    MIGRATIONS_BUCKET: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name')
      .optional(),
    MIGRATIONS_PREFIX: z.string().default(''),
    HISTORY_TABLE: z.string().default(ENGINE_DEFAULTS.historyTable),
    // Short by default: the state machine retries LockTimeoutError with backoff instead of paying for a wait.
    LOCK_WAIT_SECONDS: z.coerce.number().int().min(0).default(60),
    LOCK_TIMEOUT_MS: z.coerce
      .number()
      .int()
      .positive('must be greater than 0')
      .default(ENGINE_DEFAULTS.lockTimeoutMs),
    LOCK_RETRIES: z.coerce.number().int().min(0).max(100).default(ENGINE_DEFAULTS.lockRetries),
    STATEMENT_TIMEOUT_MS: wholeMs(ENGINE_DEFAULTS.statementTimeoutMs),
  });
  let ca: string | undefined;
  if (c.DB_CA_FILE) {
    try {
      ca = readFileSync(c.DB_CA_FILE, 'utf8');
    } catch {
      throw new ConfigError('DB_CA_FILE', `cannot read ${c.DB_CA_FILE}`);
    }
  }
  return {
    secretId: c.DB_SECRET_ARN,
    target: { secretId: c.DB_SECRET_ARN, host: c.DB_HOST, port: c.DB_PORT, database: c.DB_NAME, ca },
    bundledDir: c.MIGRATIONS_DIR ?? join(taskRoot, 'migrations'),
    s3: c.MIGRATIONS_BUCKET ? { bucket: c.MIGRATIONS_BUCKET, prefix: c.MIGRATIONS_PREFIX } : undefined,
    engine: {
      historyTable: c.HISTORY_TABLE,
      lockWaitMs: c.LOCK_WAIT_SECONDS * 1000,
      lockTimeoutMs: c.LOCK_TIMEOUT_MS,
      lockRetries: c.LOCK_RETRIES,
      statementTimeoutMs: c.STATEMENT_TIMEOUT_MS,
    },
  };
}
