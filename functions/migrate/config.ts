import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod/mini';
import { HistoryTable } from '../../engine/history.ts';
import { LINT_DEFAULTS } from '../../engine/lint/report.ts';
import { ENGINE_DEFAULTS } from '../../engine/runner.ts';
import { arn, type Env, readConfig } from '../shared/config.ts';
import { ConfigError } from '../shared/errors.ts';
import type { MigrateConfig } from './migrate.ts';

const wholeMs = (fallback: number) =>
  z._default(z.coerce.number().check(z.int('must be a whole number'), z.gte(0, 'must be ≥ 0')), fallback);

function isHistoryTableName(name: string): boolean {
  try {
    new HistoryTable(name);
    return true;
  } catch {
    return false;
  }
}

/** The migrate function's environment. `taskRoot` is where the bundled `migrations/` directory sits. */
export function migrateConfig(env: Env, taskRoot: string): MigrateConfig & { readonly secretId: string } {
  const c = readConfig(env, {
    DB_SECRET_ARN: arn('secretsmanager'),
    DB_HOST: z.optional(z.string().check(z.minLength(1))),
    DB_PORT: z.optional(z.coerce.number().check(z.int(), z.gte(1), z.lte(65535))),
    DB_NAME: z.optional(z.string().check(z.minLength(1))),
    DB_CA_FILE: z.optional(z.string().check(z.minLength(1))),
    MIGRATIONS_DIR: z.optional(z.string().check(z.minLength(1))),
    MIGRATIONS_BUCKET: z.optional(
      z.string().check(z.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name')),
    ),
    MIGRATIONS_PREFIX: z._default(z.string(), ''),
    // Checked here, at cold start, with the engine's own rule: a bad name is a ConfigError, not a failed release.
    HISTORY_TABLE: z._default(
      z
        .string()
        .check(
          z.refine(
            isHistoryTableName,
            'must be <schema>.<table>: unquoted parts in lower case or "Quoted" parts, not in a system schema',
          ),
        ),
      ENGINE_DEFAULTS.historyTable,
    ),
    // Short by default: the state machine retries LockTimeoutError with backoff instead of paying for a wait.
    LOCK_WAIT_SECONDS: z._default(z.coerce.number().check(z.int(), z.gte(0)), 60),
    LOCK_TIMEOUT_MS: z._default(
      z.coerce.number().check(z.int(), z.positive('must be greater than 0')),
      ENGINE_DEFAULTS.lockTimeoutMs,
    ),
    LOCK_RETRIES: z._default(
      z.coerce.number().check(z.int(), z.gte(0), z.lte(100)),
      ENGINE_DEFAULTS.lockRetries,
    ),
    STATEMENT_TIMEOUT_MS: wholeMs(ENGINE_DEFAULTS.statementTimeoutMs),
    // The plan step's migration lint: the severity that stops a release, and what counts as a small or large table.
    LINT_FAIL_ON: z._default(z.enum(['info', 'warning', 'error', 'never']), 'error'),
    LINT_SMALL_TABLE_BYTES: z._default(
      z.coerce.number().check(z.int(), z.gte(0)),
      LINT_DEFAULTS.smallTableBytes,
    ),
    LINT_LARGE_TABLE_BYTES: z._default(
      z.coerce.number().check(z.int(), z.gte(0)),
      LINT_DEFAULTS.largeTableBytes,
    ),
    LINT_LONG_TRANSACTION_SECONDS: z._default(
      z.coerce.number().check(z.int(), z.gte(0)),
      LINT_DEFAULTS.longTransactionSeconds,
    ),
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
    lint: {
      failOn: c.LINT_FAIL_ON,
      thresholds: {
        smallTableBytes: c.LINT_SMALL_TABLE_BYTES,
        largeTableBytes: c.LINT_LARGE_TABLE_BYTES,
        longTransactionSeconds: c.LINT_LONG_TRANSACTION_SECONDS,
      },
    },
  };
}
