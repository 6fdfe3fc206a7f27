/**
 * The command line's flags and environment, declared and validated in one place. Everything the rest of the
 * CLI reads comes out of {@link parseOptions} typed and checked; a bad value is an {@link InvalidInputError}
 * naming the flag (exit code 2) before anything connects.
 */
import type { Command } from 'commander';
import { InvalidInputError } from '../engine/errors.ts';
import { HistoryTable } from '../engine/history.ts';
import { LAYOUT_NAMES, type LayoutName, parseLayoutName } from '../engine/layouts/read.ts';
import type { PhaseSelection } from '../engine/plan.ts';
import { ENGINE_DEFAULTS, type EngineOptions } from '../engine/settings.ts';

export type CommandName = 'migrate' | 'plan' | 'status' | 'repair';

/** Defaults shown in `--help` and applied by {@link parseOptions}. */
export const DEFAULTS = {
  dir: './migrations',
  historyTable: ENGINE_DEFAULTS.historyTable,
  lockWaitSeconds: String(ENGINE_DEFAULTS.lockWaitMs / 1000),
  lockTimeoutMs: String(ENGINE_DEFAULTS.lockTimeoutMs),
  statementTimeoutMs: String(ENGINE_DEFAULTS.statementTimeoutMs),
  lockRetries: String(ENGINE_DEFAULTS.lockRetries),
} as const;

/** The flags as commander hands them over: strings and booleans, unvalidated. */
export interface RawOptions {
  readonly dir?: string;
  readonly databaseUrl?: string;
  readonly release?: string;
  readonly json?: boolean;
  readonly historyTable?: string;
  readonly lockWait?: string;
  readonly lockTimeout?: string;
  readonly statementTimeout?: string;
  readonly lockRetries?: string;
  readonly maxDuration?: string;
  readonly allowOutOfOrder?: boolean;
  readonly refuseDatabaseAhead?: boolean;
  readonly phase?: string;
  readonly acceptChecksum?: string;
  readonly reason?: string;
  readonly summary?: string;
  readonly codequality?: string;
  readonly layout?: string;
  readonly resolve?: string;
  readonly applied?: boolean;
  readonly rolledBack?: boolean;
}

/** What a run needs, validated. */
export interface CliOptions {
  readonly dir: string;
  /** Undefined: use the embedded PostgreSQL. Holds a password: never print it. */
  readonly databaseUrl: string | undefined;
  /** Recorded as `applied_by` and shown in `application_name`. */
  readonly release: string;
  readonly json: boolean;
  /** Options for the engine; `deadline` is already absolute. */
  readonly engine: EngineOptions;
  /** `repair`: the version whose current file to accept, or whose in-doubt row to settle, and why. */
  readonly repair?: {
    readonly version: bigint;
    readonly reason: string;
    /** Absent: --accept-checksum. */
    readonly resolve?: 'applied' | 'rolled-back';
  };
  /** `--layout`: read the directory as this tool lays it out; absent: detect it. */
  readonly layout?: LayoutName;
}

/** What {@link parseOptions} reads besides the flags. */
export interface OptionsContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly hostname: string;
  /** Epoch milliseconds, for `--max-duration`. */
  readonly now: number;
}

/** Adds the flags `command` takes. */
export function addOptions(command: Command, name: CommandName): Command {
  command
    .option('--dir <path>', 'migrations directory', DEFAULTS.dir)
    .option(
      '--database-url <url>',
      'postgres:// URL (env: DATABASE_URL); without either, an embedded PostgreSQL in .lockstep/pg is used',
    )
    .option('--release <label>', 'release label, recorded as applied_by (default: "cli@<hostname>")')
    .option('--json', 'print one JSON document on stdout instead of text')
    .option('--history-table <schema.table>', 'history table, also the lock key', DEFAULTS.historyTable)
    .option(
      '--layout <tool>',
      `read --dir as this tool lays it out (${LAYOUT_NAMES.join(', ')}); default: detected`,
    );
  if (name !== 'repair') {
    command
      .option('--summary <file>', 'append the result as Markdown to this file (a CI job summary)')
      .option('--codequality <file>', 'write problems at file:line as a GitLab Code Quality report');
  }
  if (name === 'repair') {
    command
      .option(
        '--accept-checksum <version>',
        'accept the current file of this applied migration as the one that ran: record its checksum',
      )
      .option(
        '--resolve <version>',
        'settle a migration in doubt (started, never recorded as finished): with --applied or --rolled-back',
      )
      .option('--applied', 'with --resolve: it all committed; record it as applied')
      .option('--rolled-back', 'with --resolve: none of it committed; it runs again next time')
      .requiredOption('--reason <text>', 'why; recorded with who and when')
      .option(
        '--lock-wait <seconds>',
        "how long to wait for a migration run's lock; 0 fails at once",
        DEFAULTS.lockWaitSeconds,
      );
  }
  if (name === 'migrate') {
    command
      .option(
        '--lock-wait <seconds>',
        "how long to wait for another run's lock; 0 fails at once",
        DEFAULTS.lockWaitSeconds,
      )
      .option(
        '--lock-timeout <ms>',
        'lock_timeout for each migration statement (> 0)',
        DEFAULTS.lockTimeoutMs,
      )
      .option(
        '--statement-timeout <ms>',
        'statement_timeout for each migration statement; 0 for none',
        DEFAULTS.statementTimeoutMs,
      )
      .option(
        '--lock-retries <n>',
        'retries of a migration that hit lock_timeout or a deadlock',
        DEFAULTS.lockRetries,
      )
      .option(
        '--max-duration <seconds>',
        'stop between migrations so the run ends within this time (exit 6: run again); ' +
          'no migration starts with less than 10 s left',
      );
  }
  if (name === 'migrate' || name === 'plan') {
    command
      .option(
        '--phase <phase>',
        'which pending migrations: before-deploy, after-deploy (files starting -- lockstep:after-deploy, ' +
          'once no before-deploy one is pending) or all (before-deploy ones first)',
        'all',
      )
      .option('--allow-out-of-order', 'apply pending migrations older than the highest applied one')
      .option(
        '--refuse-database-ahead',
        'fail when the database has migrations this release has no file for',
      );
  }
  return command;
}

const MAX_MS = 2_147_483_647; // PostgreSQL's limit for lock_timeout and statement_timeout
const WHOLE = /^\d+$/;
const MAX_VERSION = 9223372036854775807n; // versions are bigint
const DECIMAL = /^\d+(\.\d+)?$/;

function wholeNumber(flag: string, value: string, { min, max }: { min: number; max: number }): number {
  const n = WHOLE.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new InvalidInputError(flag, `must be a whole number from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

function secondsToMs(flag: string, value: string, { min }: { min: number }): number {
  const n = DECIMAL.test(value.trim()) ? Number(value) : Number.NaN;
  const ms = Math.round(n * 1000);
  if (!Number.isFinite(n) || n < min || ms > MAX_MS) {
    throw new InvalidInputError(
      flag,
      `must be a number of seconds from ${min} to ${Math.floor(MAX_MS / 1000)}, got "${value}"`,
    );
  }
  return ms;
}

/**
 * The user name and password part of a database URL, taken as the safest reading allows: everything between
 * `scheme://` and the LAST `@`. A URL parser (WHATWG's, which pg uses) ends the host part at the first `/`, `?` or
 * `#` instead, so a password holding one of those plus an `@` is split differently by it; this reading is never
 * shorter, so it covers every fragment a parser could show as a host, port or database.
 */
export function urlUserinfo(url: string): string | undefined {
  const rest = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(.*)$/s.exec(url)?.[1];
  const at = rest?.lastIndexOf('@') ?? -1;
  return rest !== undefined && at >= 0 ? rest.slice(0, at) : undefined;
}

/** What of a database URL must never be printed: the URL, and its user name and password part and password. */
export function urlSecrets(url: string): string[] {
  const userinfo = urlUserinfo(url);
  const colon = userinfo?.indexOf(':') ?? -1;
  // A user name alone is no secret, and redacting a short one ("app") would mangle every line that holds it.
  if (userinfo === undefined || colon < 0) return [url];
  const password = userinfo.slice(colon + 1);
  let decoded = password;
  try {
    decoded = decodeURIComponent(password);
  } catch {
    // not percent-encoded as a whole: the raw form is the one to hide
  }
  return [url, userinfo, password, decoded];
}

/** Where the URL came from, for messages; the URL itself is never echoed. */
function databaseUrl(raw: RawOptions, env: OptionsContext['env']): string | undefined {
  const [source, url] = raw.databaseUrl
    ? ['--database-url', raw.databaseUrl]
    : env.DATABASE_URL
      ? ['DATABASE_URL', env.DATABASE_URL]
      : [undefined, undefined];
  if (source === undefined || url === undefined) return undefined;
  if (/[/?#]/.test(urlUserinfo(url) ?? '')) {
    throw new InvalidInputError(
      source,
      'is ambiguous: the user name or password (everything before the last "@") holds a "/", "?" or "#", ' +
        'which a URL parser reads as the end of the host, taking part of the password for the host, port or ' +
        'database; percent-encode them in the password (/ as %2F, ? as %3F, # as %23, @ as %40)',
    );
  }
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new InvalidInputError(
      source,
      'is not a valid URL (expected postgres://user:password@host:port/db)',
    );
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
    throw new InvalidInputError(source, `must be a postgres:// or postgresql:// URL, not ${protocol}//`);
  }
  return url;
}

const PHASES = ['before-deploy', 'after-deploy', 'all'] as const;

function phaseOption(value: string | undefined): PhaseSelection {
  const phase = (value ?? 'all').trim();
  if (!(PHASES as readonly string[]).includes(phase))
    throw new InvalidInputError('--phase', `must be one of ${PHASES.join(', ')}, got "${value}"`);
  return phase as PhaseSelection;
}

/** Validates the flags; throws {@link InvalidInputError} naming the first bad one. */
export function parseOptions(raw: RawOptions, context: OptionsContext): CliOptions {
  const release = (raw.release ?? `cli@${context.hostname}`).trim();
  if (release.length === 0 || release.length > 200) {
    throw new InvalidInputError('--release', 'must be a label of 1 to 200 characters');
  }
  const historyTable = raw.historyTable ?? DEFAULTS.historyTable;
  try {
    new HistoryTable(historyTable);
  } catch (err) {
    throw err instanceof InvalidInputError ? new InvalidInputError('--history-table', err.problem) : err;
  }
  const lockTimeoutMs = wholeNumber('--lock-timeout', raw.lockTimeout ?? DEFAULTS.lockTimeoutMs, {
    min: 1,
    max: MAX_MS,
  });
  const engine: EngineOptions = {
    appliedBy: release,
    historyTable,
    lockWaitMs: secondsToMs('--lock-wait', raw.lockWait ?? DEFAULTS.lockWaitSeconds, { min: 0 }),
    lockTimeoutMs,
    statementTimeoutMs: wholeNumber(
      '--statement-timeout',
      raw.statementTimeout ?? DEFAULTS.statementTimeoutMs,
      { min: 0, max: MAX_MS },
    ),
    lockRetries: wholeNumber('--lock-retries', raw.lockRetries ?? DEFAULTS.lockRetries, { min: 0, max: 100 }),
    allowOutOfOrder: raw.allowOutOfOrder ?? false,
    refuseDatabaseAhead: raw.refuseDatabaseAhead ?? false,
    phase: phaseOption(raw.phase),
  };
  let deadline: number | undefined;
  if (raw.maxDuration !== undefined) {
    const ms = secondsToMs('--max-duration', raw.maxDuration, { min: 0 });
    // The engine starts no migration with less than 10 s left: a shorter run could never apply anything.
    if (ms <= 10_000) {
      throw new InvalidInputError(
        '--max-duration',
        `must be more than 10 seconds (no migration starts with less than 10 s left), got "${raw.maxDuration}"`,
      );
    }
    deadline = context.now + ms;
  }
  let repair: CliOptions['repair'];
  if (raw.acceptChecksum !== undefined || raw.resolve !== undefined || raw.reason !== undefined) {
    if ((raw.acceptChecksum === undefined) === (raw.resolve === undefined))
      throw new InvalidInputError('--accept-checksum', 'give exactly one of --accept-checksum and --resolve');
    const flag = raw.acceptChecksum !== undefined ? '--accept-checksum' : '--resolve';
    const given = (raw.acceptChecksum ?? raw.resolve ?? '').trim();
    if (!WHOLE.test(given) || BigInt(given) > MAX_VERSION) {
      throw new InvalidInputError(
        flag,
        `must be a migration version (the number lockstep keys the file by, as status shows it), got "${given}"`,
      );
    }
    const reason = (raw.reason ?? '').trim();
    if (reason.length === 0 || reason.length > 1000) {
      throw new InvalidInputError('--reason', 'must say why, in 1 to 1000 characters');
    }
    let resolve: 'applied' | 'rolled-back' | undefined;
    if (raw.resolve !== undefined) {
      if (raw.applied === raw.rolledBack)
        throw new InvalidInputError('--resolve', 'needs exactly one of --applied and --rolled-back');
      resolve = raw.applied ? 'applied' : 'rolled-back';
    }
    repair = { version: BigInt(given), reason, ...(resolve ? { resolve } : {}) };
  }
  return {
    ...(repair ? { repair } : {}),
    ...(raw.layout === undefined ? {} : { layout: parseLayoutName(raw.layout) }),
    dir: raw.dir ?? DEFAULTS.dir,
    databaseUrl: databaseUrl(raw, context.env),
    release,
    json: raw.json ?? false,
    engine: deadline === undefined ? engine : { ...engine, deadline },
  };
}
