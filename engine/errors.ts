/**
 * Every failure lockstep expects is a subclass of {@link LockstepError}. The class name is a contract:
 * Step Functions Retry/Catch rules match on `name`, and the CLI maps `code` to its exit code. Do not
 * rename these casually.
 */

/** The engine's codes. The AWS functions add their own (functions/shared/errors.ts) on the same base class. */
export type EngineErrorCode =
  | 'INVALID_INPUT'
  | 'INVALID_MIGRATION'
  | 'CHECKSUM_MISMATCH'
  | 'OUT_OF_ORDER'
  | 'PHASE_ORDER'
  | 'DATABASE_AHEAD'
  | 'NO_MIGRATION_FILES'
  | 'LOCK_TIMEOUT'
  | 'LOCK_NOT_AVAILABLE'
  | 'LOCK_LOST'
  | 'MIGRATION_FAILED'
  | 'DATABASE_UNAVAILABLE'
  | 'IN_DOUBT'
  | 'FOREIGN_HISTORY'
  | 'ADOPT_REFUSED'
  | 'UNSAFE_MIGRATION';

/** Marks lockstep's errors, whichever copy of the code made them (`Symbol.for` is one symbol per process). */
const BRAND = Symbol.for('lockstep.LockstepError');

export abstract class LockstepError<Code extends string = string> extends Error {
  abstract readonly code: Code;

  /** Each subclass sets this to its class name as a string literal, so no bundler or minifier can change it. */
  abstract override readonly name: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    Object.defineProperty(this, BRAND, { value: true });
  }

  /**
   * `instanceof` across copies of this code: the installed CLI loads the rehearsal from its own bundle, whose
   * errors are other classes of the same names. An error from another copy is a LockstepError by its brand, and
   * an instance of a subclass by the subclass's name (a contract: see `name` above).
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noUselessThisAlias: named once, for the type; see below.
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class `instanceof` asks about, often a subclass.
    const target: abstract new (...args: never[]) => unknown = this;
    if (Function.prototype[Symbol.hasInstance].call(target, value)) return true;
    if (typeof value !== 'object' || value === null || (value as Record<symbol, unknown>)[BRAND] !== true)
      return false;
    return target === LockstepError || (value as Error).name === target.name;
  }

  /** A plain object for `--json` output and Lambda error payloads; never holds secrets. */
  toJSON(): Record<string, unknown> {
    const { name, code, message } = this;
    return { name, code, message, ...this.details() };
  }

  protected details(): Record<string, unknown> {
    return {};
  }
}

/** An option or argument is malformed. Nothing was changed. */
export class InvalidInputError extends LockstepError<EngineErrorCode> {
  override readonly name = 'InvalidInputError';
  readonly code = 'INVALID_INPUT';
  constructor(
    readonly field: string,
    /** What is wrong with it, without the field's name. */
    readonly problem: string,
  ) {
    super(`${field}: ${problem}`);
  }
  protected override details() {
    return { field: this.field };
  }
}

export interface MigrationFileProblem {
  /** File name relative to the migrations directory. */
  readonly file: string;
  readonly line?: number;
  readonly column?: number;
  readonly problem: string;
}

/** A migration file is misnamed, duplicated, unparsable or unsafe to run as written. Nothing was changed. */
export class InvalidMigrationError extends LockstepError<EngineErrorCode> {
  override readonly name = 'InvalidMigrationError';
  readonly code = 'INVALID_MIGRATION';
  constructor(readonly problems: readonly MigrationFileProblem[]) {
    super(
      `invalid migration files:\n${problems
        .map((p) => `  ${p.file}${p.line === undefined ? '' : `:${p.line}:${p.column ?? 1}`}: ${p.problem}`)
        .join('\n')}`,
    );
  }
  protected override details() {
    return { problems: this.problems };
  }
}

export interface ChangedMigration {
  readonly version: string;
  readonly file: string;
  readonly appliedChecksum: string;
  readonly fileChecksum: string;
}

/** An applied migration's file was edited after it ran. Nothing was changed. */
export class ChecksumMismatchError extends LockstepError<EngineErrorCode> {
  override readonly name = 'ChecksumMismatchError';
  readonly code = 'CHECKSUM_MISMATCH';
  constructor(readonly changed: readonly ChangedMigration[]) {
    super(
      `applied migrations were edited after they ran (restore the original files and write a new migration instead):\n${changed
        .map(
          (c) =>
            `  ${c.file}: applied sha256 ${c.appliedChecksum.slice(0, 12)}…, file sha256 ${c.fileChecksum.slice(0, 12)}…`,
        )
        .join('\n')}`,
    );
  }
  protected override details() {
    return { changed: this.changed };
  }
}

/** A pending migration's version is lower than the highest applied one. Nothing was changed. */
export class OutOfOrderError extends LockstepError<EngineErrorCode> {
  override readonly name = 'OutOfOrderError';
  readonly code = 'OUT_OF_ORDER';
  constructor(
    readonly files: readonly string[],
    readonly highestApplied: string,
  ) {
    super(
      `pending migrations are older than the highest applied version ${highestApplied}: ${files.join(', ')} ` +
        '(renumber them, or allow out-of-order migrations explicitly)',
    );
  }
  protected override details() {
    return { files: this.files, highestApplied: this.highestApplied };
  }
}

/**
 * The after-deploy phase was asked for while before-deploy migrations are pending: the release's before-deploy
 * phase (and its deploy) has not happened. Nothing was changed.
 */
export class PhaseOrderError extends LockstepError<EngineErrorCode> {
  override readonly name = 'PhaseOrderError';
  readonly code = 'PHASE_ORDER';
  constructor(readonly beforeDeploy: readonly string[]) {
    super(
      `after-deploy migrations run once no before-deploy migration is pending, and ${beforeDeploy.length} is: ${beforeDeploy.join(', ')} ` +
        '(run the before-deploy phase and deploy first: lockstep migrate --phase before-deploy)',
    );
  }
  protected override details() {
    return { beforeDeploy: this.beforeDeploy };
  }
}

/** The database has applied versions this code has no file for, and the caller refused that. */
export class DatabaseAheadError extends LockstepError<EngineErrorCode> {
  override readonly name = 'DatabaseAheadError';
  readonly code = 'DATABASE_AHEAD';
  constructor(readonly versions: readonly string[]) {
    super(
      `the database has applied migrations this release does not contain: ${versions.join(', ')} ` +
        '(is this an older release being rolled back?)',
    );
  }
  protected override details() {
    return { versions: this.versions };
  }
}

/**
 * There are no migration files, but the database has applied migrations: almost always a wrong or empty
 * migrations directory (a typo in CI), not a release that means to have none. Nothing was changed.
 */
export class NoMigrationFilesError extends LockstepError<EngineErrorCode> {
  override readonly name = 'NoMigrationFilesError';
  readonly code = 'NO_MIGRATION_FILES';
  constructor(
    readonly appliedCount: number,
    readonly newestApplied: string,
  ) {
    super(
      `no migration files were found, but the database has ${appliedCount} applied migration${appliedCount === 1 ? '' : 's'} ` +
        `(the newest ${newestApplied}): is the migrations directory right?`,
    );
  }
  protected override details() {
    return { appliedCount: this.appliedCount, newestApplied: this.newestApplied };
  }
}

export interface LockHolder {
  readonly pid: number;
  readonly applicationName: string | null;
  readonly clientAddress: string | null;
  readonly sessionStartedAt: string | null;
  readonly state: string | null;
  readonly stateSince: string | null;
}

/** Another runner held the migration lock for longer than the caller was willing to wait. Retryable. */
export class LockTimeoutError extends LockstepError<EngineErrorCode> {
  override readonly name = 'LockTimeoutError';
  readonly code = 'LOCK_TIMEOUT';
  constructor(
    readonly waitedMs: number,
    readonly holder: LockHolder | undefined,
  ) {
    super(
      `another migration run holds the lock (waited ${waitedMs} ms): ${
        holder
          ? `pid ${holder.pid}, application "${holder.applicationName ?? '?'}", client ${holder.clientAddress ?? 'local'}, ` +
            `session started ${holder.sessionStartedAt ?? '?'}, ${holder.state ?? 'unknown state'} since ${holder.stateSince ?? '?'}`
          : 'the holder has since released it or is not visible to this role'
      }`,
    );
  }
  protected override details() {
    return { waitedMs: this.waitedMs, holder: this.holder };
  }
}

/** Where in which file a migration failed. Lines and columns are 1-based. */
export interface FailureLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export interface MigrationFailure {
  readonly version: string;
  readonly location: FailureLocation;
  /** SQLSTATE, when PostgreSQL gave one. */
  readonly sqlState: string | undefined;
  /** The first lines of the statement that failed. */
  readonly statementExcerpt: string | undefined;
  /** Versions applied by this run before the failure. */
  readonly appliedBefore: readonly string[];
  /** What to do about it, when lockstep knows. */
  readonly hint: string | undefined;
}

/** Versions for a message: all of a few, else the count with the first and last five (the full list is in `appliedBefore`). */
function listVersions(versions: readonly string[]): string {
  if (versions.length === 0) return 'none';
  if (versions.length <= 12) return versions.join(', ');
  return `${versions.length} migrations: ${versions.slice(0, 5).join(', ')}, …, ${versions.slice(-5).join(', ')}`;
}

function describeFailure(message: string, f: MigrationFailure): string {
  const where = `${f.location.file}:${f.location.line}:${f.location.column}`;
  const lines = [
    `migration ${f.version} failed at ${where}${f.sqlState ? ` [SQLSTATE ${f.sqlState}]` : ''}: ${message}`,
  ];
  if (f.statementExcerpt) lines.push(`  statement: ${f.statementExcerpt}`);
  if (f.hint) lines.push(`  hint: ${f.hint}`);
  lines.push(`  applied before it in this run: ${listVersions(f.appliedBefore)}`);
  return lines.join('\n');
}

/** A migration's SQL failed. A transactional migration left no trace; a non-transactional one is recorded as failed. */
export class MigrationFailedError extends LockstepError<EngineErrorCode> {
  override readonly name = 'MigrationFailedError';
  readonly code = 'MIGRATION_FAILED';
  constructor(
    readonly postgresMessage: string,
    readonly failure: MigrationFailure,
    options?: { cause?: unknown },
  ) {
    super(describeFailure(postgresMessage, failure), options);
  }
  protected override details() {
    return { ...this.failure, postgresMessage: this.postgresMessage };
  }
}

/** A migration kept hitting lock_timeout (55P03) on a table another session holds, and retries ran out. Retryable later. */
export class LockNotAvailableError extends LockstepError<EngineErrorCode> {
  override readonly name = 'LockNotAvailableError';
  readonly code = 'LOCK_NOT_AVAILABLE';
  constructor(
    readonly attempts: number,
    readonly failure: MigrationFailure,
    postgresMessage: string,
    options?: { cause?: unknown },
  ) {
    super(
      describeFailure(
        `${postgresMessage} (gave up after ${attempts} attempts; a long transaction holds a lock this migration needs)`,
        failure,
      ),
      options,
    );
  }
  protected override details() {
    return { ...this.failure, attempts: this.attempts };
  }
}

/** The database could not be reached or refused the credentials. Retryable. */
export class DatabaseUnavailableError extends LockstepError<EngineErrorCode> {
  override readonly name = 'DatabaseUnavailableError';
  readonly code = 'DATABASE_UNAVAILABLE';
}

/**
 * A migration released lockstep's advisory lock (`pg_advisory_unlock_all()`, or an unlock of its key) and another run
 * took it before lockstep could take it back. Nothing after the migration ran. Retryable: the other run is migrating.
 */
export class LockLostError extends LockstepError<EngineErrorCode> {
  override readonly name = 'LockLostError';
  readonly code = 'LOCK_LOST';
  constructor(
    /** The migration under way when the loss was found: not recorded as applied. */
    readonly version: string,
    options?: { cause?: unknown },
  ) {
    super(
      `lockstep lost its migration lock at migration ${version}: a migration released it (pg_advisory_unlock_all() or an unlock of lockstep's key) and another run holds it now. This run stopped: migration ${version} is not recorded as applied, and nothing after it ran`,
      options,
    );
  }
  protected override details() {
    return { version: this.version };
  }
}

export interface InDoubtMigration {
  readonly version: string;
  readonly file: string;
  /** When the run that started it recorded the start. */
  readonly startedAt: string;
  /** What that run recorded: the file failed, or nothing (killed, or its connection lost). */
  readonly error: string | null;
}

/**
 * A migration that runs its own transactions (a Prisma file with `BEGIN; … COMMIT;`) was recorded as started and never
 * as finished: the run was killed, lost its connection, or the file failed partway. What it committed is unknown, so
 * lockstep refuses to run anything until someone who looked records what happened (`lockstep repair --resolve`).
 * Nothing was changed.
 */
export class InDoubtMigrationError extends LockstepError<EngineErrorCode> {
  override readonly name = 'InDoubtMigrationError';
  readonly code = 'IN_DOUBT';
  constructor(readonly migrations: readonly InDoubtMigration[]) {
    super(
      `migrations that run their own transactions were started and never recorded as finished, so lockstep cannot know what of them committed:\n${migrations
        .map(
          (m) => `  ${m.file} (version ${m.version}), started ${m.startedAt}${m.error ? `: ${m.error}` : ''}`,
        )
        .join('\n')}\n` +
        'Look at the database, then record what happened: lockstep repair --resolve <version> --applied (it all committed: mark it applied) or --rolled-back (none of it did: it runs again next time), with --reason',
    );
  }
  protected override details() {
    return { migrations: this.migrations };
  }
}

export interface ForeignHistory {
  /** The tool whose table it is. */
  readonly tool: string;
  /** `schema.table`. */
  readonly table: string;
  readonly rows: number;
}

/**
 * lockstep has no history here, but another tool's history table holds rows: running the files from the start would
 * apply again what that tool applied. Nothing was changed.
 */
export class ForeignHistoryError extends LockstepError<EngineErrorCode> {
  override readonly name = 'ForeignHistoryError';
  readonly code = 'FOREIGN_HISTORY';
  constructor(readonly found: readonly ForeignHistory[]) {
    super(
      `lockstep has no history in this database, but ${found
        .map((f) => `${f.table} (${f.tool}) holds ${f.rows} row${f.rows === 1 ? '' : 's'}`)
        .join(', ')}: running the migrations from the start would apply again what that tool applied. ` +
        `Take its history over first: lockstep adopt --from ${found[0]?.tool ?? '<tool>'} (try --dry-run)`,
    );
  }
  protected override details() {
    return { found: this.found };
  }
}

/** `lockstep adopt` found a reason not to take the other tool's history over; each problem names a migration. Nothing was changed. */
export class AdoptRefusedError extends LockstepError<EngineErrorCode> {
  override readonly name = 'AdoptRefusedError';
  readonly code = 'ADOPT_REFUSED';
  constructor(
    readonly tool: string,
    readonly problems: readonly string[],
  ) {
    super(
      `lockstep adopt --from ${tool} refused, nothing was written:\n${problems.map((p) => `  ${p}`).join('\n')}`,
    );
  }
  protected override details() {
    return { tool: this.tool, problems: this.problems };
  }
}

/** One finding of the migration lint, as an error carries it (engine/lint/finding.ts has the whole shape). */
export interface UnsafeFinding {
  readonly rule: string;
  readonly severity: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly detail: string;
  readonly effect: string;
  readonly safe: string;
}

/**
 * The migration lint found what would lock or rewrite a table, or break the running app version, at or above the
 * severity that stops a release (`lockstep lint --fail-on`, the stack's lint threshold). Nothing was changed.
 */
export class UnsafeMigrationError extends LockstepError<EngineErrorCode> {
  override readonly name = 'UnsafeMigrationError';
  readonly code = 'UNSAFE_MIGRATION';
  constructor(
    readonly findings: readonly UnsafeFinding[],
    readonly failOn: string,
  ) {
    const shown = findings.slice(0, 10).map(
      (f) => `  ${f.file}:${f.line}:${f.column} ${f.severity} ${f.rule}: ${f.detail}
    ${f.effect}
    safe: ${f.safe}`,
    );
    const more = findings.length > shown.length ? [`  … and ${findings.length - shown.length} more`] : [];
    super(
      `${findings.length} migration lint finding${findings.length === 1 ? '' : 's'} at or above ${failOn}; nothing was changed (fix them, or accept one with "-- lockstep:allow <rule> <reason>" above its statement):\n${[...shown, ...more].join('\n')}`,
    );
  }
  protected override details() {
    return { failOn: this.failOn, findings: this.findings };
  }
}
