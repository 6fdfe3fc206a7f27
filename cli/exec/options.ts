/**
 * `lockstep exec`'s flags, declared and validated in one place. The database, release, history table and lock
 * flags mean what they mean for `migrate` (and are checked by the same {@link parseOptions}); the rest are exec's.
 */
import type { Command } from 'commander';
import { InvalidInputError } from '../../engine/errors.ts';
import { ENGINE_DEFAULTS } from '../../engine/settings.ts';
import { type CliOptions, DEFAULTS, type OptionsContext, parseOptions } from '../options.ts';
import { defaultPgOptions } from './environment.ts';

export interface RawExecOptions {
  readonly databaseUrl?: string;
  readonly release?: string;
  readonly json?: boolean;
  readonly historyTable?: string;
  readonly lockWait?: string;
  readonly lockTimeout?: string;
  readonly pgoptions?: string;
  readonly timeout?: string;
  readonly gracePeriod?: string;
}

export interface ExecOptions {
  readonly databaseUrl: CliOptions['databaseUrl'];
  readonly release: string;
  readonly json: boolean;
  readonly historyTable: string;
  readonly lockWaitMs: number;
  /** `PGOPTIONS` for the command's sessions, before any the environment has; '' for none. */
  readonly pgOptions: string;
  /** Stop the command after this long; undefined: never. */
  readonly timeoutMs: number | undefined;
  /** Between SIGTERM and SIGKILL when lockstep stops the command. */
  readonly graceMs: number;
}

export const EXEC_DEFAULTS = { gracePeriod: '10s' } as const;

/** Adds `exec`'s flags. */
export function addExecOptions(command: Command): Command {
  return command
    .option(
      '--database-url <url>',
      'postgres:// URL (env: DATABASE_URL); without either, an embedded PostgreSQL in .lockstep/pg is used',
    )
    .option('--release <label>', 'release label, recorded with the run (default: "cli@<hostname>")')
    .option('--json', 'print one JSON document on stdout (the command’s stdout then goes to stderr)')
    .option(
      '--history-table <schema.table>',
      'the lock is this history table’s, as for migrate; runs are recorded in <schema>.exec_runs',
      DEFAULTS.historyTable,
    )
    .option(
      '--lock-wait <seconds>',
      "how long to wait for another run's lock; 0 fails at once",
      DEFAULTS.lockWaitSeconds,
    )
    .option(
      '--lock-timeout <ms>',
      'lock_timeout for the command’s sessions, through PGOPTIONS (-c lock_timeout=<ms>)',
      DEFAULTS.lockTimeoutMs,
    )
    .option(
      '--pgoptions <options>',
      'PGOPTIONS for the command instead of "-c lock_timeout=<--lock-timeout>"; "" for none',
    )
    .option(
      '--timeout <duration>',
      'stop the command after this long (SIGTERM, then SIGKILL after the grace period): exit 124; e.g. 90s, 15m, 2h',
    )
    .option(
      '--grace-period <duration>',
      'how long the command has to exit after SIGTERM before SIGKILL',
      EXEC_DEFAULTS.gracePeriod,
    );
}

const MAX_TIMER_MS = 2_147_483_647; // what setTimeout can wait
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `90`, `90s`, `1.5m`, `2h`, `500ms`: a positive duration, seconds when no unit is given. */
export function parseDuration(flag: string, value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  const ms = match ? Math.round(Number(match[1]) * (UNIT_MS[match[2] ?? 's'] ?? 1000)) : Number.NaN;
  if (!Number.isFinite(ms) || ms <= 0 || ms > MAX_TIMER_MS) {
    throw new InvalidInputError(
      flag,
      `must be a duration above 0 and up to 24 days: a number of seconds, or with a unit (500ms, 90s, 15m, 2h), got "${value}"`,
    );
  }
  return ms;
}

/** Validates the flags; throws {@link InvalidInputError} naming the first bad one. */
export function parseExecOptions(raw: RawExecOptions, context: OptionsContext): ExecOptions {
  const { databaseUrl, release, json, engine } = parseOptions(raw, context);
  if (raw.pgoptions?.includes('\0')) throw new InvalidInputError('--pgoptions', 'must not hold a NUL byte');
  return {
    databaseUrl,
    release,
    json,
    historyTable: engine.historyTable ?? ENGINE_DEFAULTS.historyTable,
    lockWaitMs: engine.lockWaitMs ?? ENGINE_DEFAULTS.lockWaitMs,
    pgOptions: raw.pgoptions ?? defaultPgOptions(engine.lockTimeoutMs ?? ENGINE_DEFAULTS.lockTimeoutMs),
    timeoutMs: raw.timeout === undefined ? undefined : parseDuration('--timeout', raw.timeout),
    graceMs: parseDuration('--grace-period', raw.gracePeriod ?? EXEC_DEFAULTS.gracePeriod),
  };
}
