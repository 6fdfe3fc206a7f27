/**
 * `lockstep lint`'s flags, declared and validated in one place; the command itself is ./commands/lint.ts, loaded only
 * when it runs.
 */
import type { Command } from 'commander';
import { InvalidInputError } from '../engine/errors.ts';
import { SEVERITIES } from '../engine/lint/finding.ts';
import { type FailOn, LINT_DEFAULTS, type LintThresholds } from '../engine/lint/report.ts';
import { DEFAULTS } from './options.ts';

export interface RawLintOptions {
  readonly dir?: string;
  readonly databaseUrl?: string;
  readonly historyTable?: string;
  readonly json?: boolean;
  readonly format?: string;
  readonly failOn?: string;
  readonly since?: string;
  readonly smallTable?: string;
  readonly largeTable?: string;
  readonly longTransaction?: string;
}

export const LINT_HELP = `
Rules, severities and the safe form of each: README, "Lint". Accept one finding with a comment above its statement:
  -- lockstep:allow <rule> <reason>

Examples:
  lockstep lint                                          # static, every file
  lockstep lint --since 20260101000000 --format github   # CI: the files of this change, as annotations
  lockstep lint --database-url "$STAGING_URL"             # pending files, with live sizes and blocking sessions

Exit codes: 0 nothing at or above --fail-on; 9 a finding at or above it (UnsafeMigrationError); 2 usage error;
5 a file lockstep would refuse to run (InvalidMigrationError); 7 cannot connect.`;

/** Adds `lint`'s flags. */
export function addLintOptions(command: Command): Command {
  return command
    .option('--dir <path>', 'migrations directory', DEFAULTS.dir)
    .option(
      '--database-url <url>',
      'postgres:// URL (env: DATABASE_URL): lint only pending files, with live sizes and sessions; without it, static only',
    )
    .option('--history-table <schema.table>', 'history table, to tell pending files', DEFAULTS.historyTable)
    .option('--json', 'print one JSON document (same as --format json)')
    .option('--format <format>', 'text, json, or github (workflow annotations)', 'text')
    .option(
      '--fail-on <severity>',
      'exit 9 on a finding this severe or worse: info, warning or error; never: report only',
      'error',
    )
    .option('--since <version>', 'without a database: treat files before this version as applied')
    .option('--small-table <size>', 'a locking rewrite of a smaller table is info (e.g. 10MB)', '10MB')
    .option('--large-table <size>', 'of a table this size or larger, an error (e.g. 1GB)', '1GB')
    .option('--long-transaction <seconds>', 'name transactions open longer than this', '60')
    .addHelpText('after', LINT_HELP);
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|kB|KB|MB|GB|TB)?$/i;
const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 };

function bytes(flag: string, value: string): number {
  const m = SIZE.exec(value.trim());
  if (!m) throw new InvalidInputError(flag, `must be a size such as 500kB, 10MB or 1GB, got "${value}"`);
  return Math.round(Number(m[1]) * (UNITS[(m[2] ?? 'b').toLowerCase()] ?? 1));
}

export interface LintOptions {
  readonly format: 'text' | 'json' | 'github';
  readonly failOn: FailOn;
  readonly since: bigint | undefined;
  readonly thresholds: LintThresholds;
}

export function parseLintOptions(raw: RawLintOptions): LintOptions {
  const format = raw.json ? 'json' : (raw.format ?? 'text');
  if (format !== 'text' && format !== 'json' && format !== 'github')
    throw new InvalidInputError('--format', `must be text, json or github, got "${format}"`);
  const failOn = raw.failOn ?? 'error';
  if (![...SEVERITIES, 'never'].includes(failOn))
    throw new InvalidInputError('--fail-on', `must be info, warning, error or never, got "${failOn}"`);
  if (raw.since !== undefined && !/^\d+$/.test(raw.since.trim()))
    throw new InvalidInputError('--since', `must be a migration version (digits), got "${raw.since}"`);
  const thresholds = {
    smallTableBytes: bytes('--small-table', raw.smallTable ?? '10MB'),
    largeTableBytes: bytes('--large-table', raw.largeTable ?? '1GB'),
    longTransactionSeconds: Number(raw.longTransaction ?? LINT_DEFAULTS.longTransactionSeconds),
  };
  if (!Number.isSafeInteger(thresholds.longTransactionSeconds) || thresholds.longTransactionSeconds < 0)
    throw new InvalidInputError(
      '--long-transaction',
      `must be a whole number of seconds, got "${raw.longTransaction}"`,
    );
  if (thresholds.smallTableBytes > thresholds.largeTableBytes)
    throw new InvalidInputError('--small-table', 'must not be larger than --large-table');
  return {
    format,
    failOn: failOn as FailOn,
    since: raw.since === undefined ? undefined : BigInt(raw.since.trim()),
    thresholds,
  };
}
