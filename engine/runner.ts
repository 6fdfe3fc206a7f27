import { analyzePending } from './analyze.ts';
import {
  DatabaseUnavailableError,
  InvalidInputError,
  InvalidMigrationError,
  LockNotAvailableError,
  LockTimeoutError,
  MigrationFailedError,
  type MigrationFailure,
} from './errors.ts';
import { type HistoryRow, HistoryTable, quoteLiteral } from './history.ts';
import { MigrationLock, SESSION_SETUP_SQL } from './lock.ts';
import type { MigrationFile } from './migration-files.ts';
import {
  computePlan,
  type PendingMigration,
  type Plan,
  planProblem,
  type ValidationOptions,
} from './plan.ts';
import { ScriptFailedError, type ServerError, type SqlSession, type StatementResult } from './session.ts';
import { excerpt, type Statement, TextIndex } from './sql-text.ts';

export interface EngineOptions extends ValidationOptions {
  /** Recorded as `applied_by`: a release label such as a tag, commit or pipeline execution id. */
  readonly appliedBy: string;
  /** `<schema>.<table>` holding the history; also keys the advisory lock. @default 'lockstep.schema_history' */
  readonly historyTable?: string;
  /** How long to wait for another run's advisory lock; 0 fails at once. @default 300_000 */
  readonly lockWaitMs?: number;
  /** `lock_timeout` for every migration statement. @default 5_000 */
  readonly lockTimeoutMs?: number;
  /** `statement_timeout` for every migration statement; 0 for none (the deadline still caps it). @default 0 */
  readonly statementTimeoutMs?: number;
  /** Retries of a migration that hit `lock_timeout` (55P03) or a deadlock (40P01). @default 5 */
  readonly lockRetries?: number;
  /** First delay between those retries; it doubles each time. @default 1_000 */
  readonly lockRetryDelayMs?: number;
  /** Epoch milliseconds by which the run must have returned. @default no deadline */
  readonly deadline?: number;
  /** No migration starts with less than this left before the deadline; statements end half of it early. @default 10_000 */
  readonly deadlineMarginMs?: number;
}

export interface EngineDeps {
  readonly session: SqlSession;
  /** @default Date.now */
  readonly now?: () => number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Progress, for human output and logs. */
  readonly onEvent?: (event: EngineEvent) => void;
}

export type EngineEvent =
  | { readonly type: 'lock-wait'; readonly holder: string }
  | { readonly type: 'history-created'; readonly table: string }
  | { readonly type: 'migration-start'; readonly migration: PendingMigration }
  | { readonly type: 'migration-applied'; readonly migration: AppliedMigration }
  | {
      readonly type: 'migration-retry';
      readonly file: string;
      readonly attempt: number;
      readonly delayMs: number;
      readonly reason: string;
    }
  | { readonly type: 'deadline-stop'; readonly remainingMs: number };

export interface AppliedMigration {
  readonly version: string;
  readonly file: string;
  /** From its BEGIN to its history row, as the server measured it (as the runner saw it, for a no-transaction file). */
  readonly durationMs: number;
}

export interface MigrateResult {
  readonly applied: readonly AppliedMigration[];
  /** What is still pending after this run. */
  readonly pending: readonly PendingMigration[];
  /** The run stopped early because of the deadline; run again to continue. */
  readonly incomplete: boolean;
  readonly databaseAhead: Plan['databaseAhead'];
  readonly warnings: readonly string[];
}

export interface StatusResult {
  readonly applied: Plan['applied'];
  readonly pending: Plan['pending'];
  readonly databaseAhead: Plan['databaseAhead'];
}

/** What an option left out means. */
export const ENGINE_DEFAULTS = {
  historyTable: 'lockstep.schema_history',
  lockWaitMs: 300_000,
  lockTimeoutMs: 5_000,
  statementTimeoutMs: 0,
  lockRetries: 5,
  lockRetryDelayMs: 1_000,
  deadlineMarginMs: 10_000,
} as const;

type Settings = Required<Omit<EngineOptions, 'deadline' | 'allowOutOfOrder' | 'refuseDatabaseAhead'>> &
  EngineOptions;

function settings(options: EngineOptions): Settings {
  const s = { ...ENGINE_DEFAULTS, ...stripUndefined(options) } as Settings;
  for (const key of [
    'lockWaitMs',
    'lockTimeoutMs',
    'statementTimeoutMs',
    'lockRetries',
    'lockRetryDelayMs',
    'deadlineMarginMs',
  ] as const) {
    const value = s[key];
    if (!Number.isInteger(value) || value < 0)
      throw new InvalidInputError(key, `must be a whole number ≥ 0, got ${value}`);
  }
  if (s.lockTimeoutMs === 0)
    throw new InvalidInputError(
      'lockTimeoutMs',
      'must be > 0: without it DDL can queue behind a long transaction and block all traffic',
    );
  if (s.deadline !== undefined && !Number.isFinite(s.deadline))
    throw new InvalidInputError('deadline', 'must be epoch milliseconds');
  if (typeof s.appliedBy !== 'string' || s.appliedBy.length === 0 || s.appliedBy.length > 200) {
    throw new InvalidInputError('appliedBy', 'must be a release label of 1 to 200 characters');
  }
  return s;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

const MISSING_HISTORY = new Set(['42P01', '3F000']);

/** Reads history in one round trip; an absent table reads as empty. */
async function readHistory(session: SqlSession, history: HistoryTable): Promise<HistoryRow[] | undefined> {
  try {
    const results = await session.script(`${SESSION_SETUP_SQL};\n${history.selectSql()}`);
    return history.parseRows(results[1]);
  } catch (err) {
    if (err instanceof ScriptFailedError && MISSING_HISTORY.has(err.serverError.code ?? '')) return undefined;
    throw err;
  }
}

/** What would run, and any drift, without changing anything. */
export async function plan(
  deps: EngineDeps,
  files: readonly MigrationFile[],
  options: Pick<EngineOptions, 'historyTable'> = {},
): Promise<Plan> {
  const history = new HistoryTable(options.historyTable ?? ENGINE_DEFAULTS.historyTable);
  const p = computePlan(files, (await readHistory(deps.session, history).catch(connectionLost)) ?? []);
  if (p.pending.length === 0) return p;
  const { problems } = await analyzePending(pendingFiles(p, files));
  return { ...p, invalid: problems };
}

function pendingFiles(p: Plan, files: readonly MigrationFile[]): MigrationFile[] {
  const pending = new Set(p.pending.map((m) => m.version));
  return files.filter((f) => pending.has(f.version.toString()));
}

/** Applied and pending migrations. */
export async function status(
  deps: EngineDeps,
  files: readonly MigrationFile[],
  options: Pick<EngineOptions, 'historyTable'> = {},
): Promise<StatusResult> {
  const { applied, pending, databaseAhead } = await plan(deps, files, options);
  return { applied, pending, databaseAhead };
}

/**
 * Applies pending migrations, one transaction each (or statement by statement for `-- lockstep:no-transaction`
 * files), under an advisory lock. Validates everything before changing anything.
 */
export function migrate(
  deps: EngineDeps,
  files: readonly MigrationFile[],
  options: EngineOptions,
): Promise<MigrateResult> {
  return migrateUnwrapped(deps, files, options).catch(connectionLost);
}

/** No SQLSTATE (the socket broke), a connection exception (08) or the server ending the session (57P01…). */
function isConnectionLoss(se: ServerError): boolean {
  const code = se.code ?? '';
  return code === '' || code.startsWith('08') || code.startsWith('57P');
}

/**
 * A script that failed because the connection broke never got its answer. Whatever was in flight
 * either committed whole or not at all; the next run reads history and carries on from there.
 */
function connectionLost(err: unknown): never {
  if (err instanceof ScriptFailedError && isConnectionLoss(err.serverError)) {
    throw new DatabaseUnavailableError(
      `lost the database connection: ${err.message} (a transactional migration in flight committed whole or not at all; a no-transaction one may be partly applied and reruns from its first statement; running again is safe)`,
      { cause: err.serverError },
    );
  }
  throw err;
}

async function migrateUnwrapped(
  deps: EngineDeps,
  files: readonly MigrationFile[],
  options: EngineOptions,
): Promise<MigrateResult> {
  const s = settings(options);
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const emit = deps.onEvent ?? (() => {});
  const history = new HistoryTable(s.historyTable);
  const byVersion = new Map(files.map((m) => [m.version.toString(), m]));

  // 1. One round trip: when everything is applied and nothing drifted, that is all a run costs.
  const before = computePlan(files, (await readHistory(deps.session, history)) ?? []);
  const problem = planProblem(before, s);
  if (problem) throw problem;
  if (before.pending.length === 0) return result([], before, false);

  // 2. Parse everything pending before touching anything: syntax errors and unsafe statements stop the run here.
  const { parsed, problems } = await analyzePending(pendingFiles(before, files));
  if (problems.length > 0) throw new InvalidMigrationError(problems);

  // 3. One run at a time. A run that waited finds the work done and returns as a no-op.
  const lock = new MigrationLock(deps.session, history);
  if (!(await lock.tryAcquire())) {
    const holder = await lock.holder();
    emit({
      type: 'lock-wait',
      holder: holder ? `pid ${holder.pid} (${holder.applicationName ?? 'unknown'})` : 'unknown',
    });
    const remaining =
      s.deadline === undefined ? Number.POSITIVE_INFINITY : s.deadline - now() - s.deadlineMarginMs;
    const wait = Math.min(s.lockWaitMs, remaining);
    if (wait <= 0) throw new LockTimeoutError(0, holder);
    await lock.acquire(wait, { now, sleep });
  }
  try {
    let rows = await readHistory(deps.session, history);
    if (rows === undefined) {
      await createHistory(deps.session, history);
      emit({ type: 'history-created', table: `${history.schema}.${history.table}` });
      rows = [];
    }
    const current = computePlan(files, rows);
    const again = planProblem(current, s);
    if (again) throw again;

    const applied: AppliedMigration[] = [];
    const remaining = [...current.pending];
    const ctx: ApplyContext = {
      session: deps.session,
      now,
      sleep,
      emit,
      history,
      settings: s,
      appliedBefore: () => applied.map((a) => a.version),
      grouping: remaining.length > 1 && s.deadline === undefined && (await canRunDo(deps.session)),
    };
    const hooks: ApplyHooks = {
      started: () => emit({ type: 'migration-start', migration: remaining[0] as PendingMigration }),
      applied: (m, durationMs) => {
        const done: AppliedMigration = { version: m.version.toString(), file: m.file, durationMs };
        applied.push(done);
        remaining.shift();
        emit({ type: 'migration-applied', migration: done });
      },
    };
    while (remaining.length > 0) {
      if (s.deadline !== undefined && s.deadline - now() < s.deadlineMarginMs) {
        emit({ type: 'deadline-stop', remainingMs: s.deadline - now() });
        return result(applied, { ...current, pending: remaining }, true);
      }
      const group = nextGroup(remaining, byVersion, ctx.grouping);
      const outcome = await applyGroup(ctx, group, parsed, hooks);
      if (outcome === 'deadline') {
        emit({ type: 'deadline-stop', remainingMs: (s.deadline ?? now()) - now() });
        return result(applied, { ...current, pending: remaining }, true);
      }
    }
    return result(applied, { ...current, pending: [] }, false);
  } finally {
    // A broken connection releases the lock by itself; do not mask the original error.
    await lock.release().catch(() => {});
  }
}

function result(applied: AppliedMigration[], p: Plan, incomplete: boolean): MigrateResult {
  const warnings: string[] = [];
  if (p.databaseAhead.length > 0) {
    warnings.push(
      `the database has ${p.databaseAhead.length} applied migration(s) this release has no file for (${p.databaseAhead
        .map((m) => m.file)
        .join(', ')}): it is ahead of this code`,
    );
  }
  if (p.outOfOrder.length > 0)
    warnings.push(`applied out of order: ${p.outOfOrder.map((m) => m.file).join(', ')}`);
  return { applied, pending: p.pending, incomplete, databaseAhead: p.databaseAhead, warnings };
}

async function createHistory(session: SqlSession, history: HistoryTable): Promise<void> {
  const [found] = await session.script(
    `SELECT to_regnamespace(${quoteLiteral(history.schema)}) IS NOT NULL AS present`,
  );
  await session.script(history.createSql(found?.rows[0]?.present === 't'));
}

interface ApplyContext {
  readonly session: SqlSession;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly emit: (event: EngineEvent) => void;
  readonly history: HistoryTable;
  readonly settings: Settings;
  /** Versions this run has applied so far. */
  readonly appliedBefore: () => readonly string[];
  /**
   * Whether consecutive transactional migrations may share a script: not under a deadline (statement_timeout
   * bounds a statement, not a group), and only if the session may run a DO block, which grouping needs to
   * report each migration as it commits (see groupScript).
   */
  readonly grouping: boolean;
}

/** How a group reports progress: each migration as it starts and as it commits, in order. */
interface ApplyHooks {
  readonly started: () => void;
  readonly applied: (m: MigrationFile, durationMs: number) => void;
}

/** At most this many migrations, and this much SQL, go to the server in one script. */
const GROUP_MAX_MIGRATIONS = 100;
const GROUP_MAX_CHARS = 1_000_000;

/**
 * The migrations to send next. A no-transaction file goes alone. Transactional files are grouped when
 * `grouping` allows, each still its own transaction, so the server runs them back to back instead of waiting a
 * round trip for each.
 */
function nextGroup(
  remaining: readonly PendingMigration[],
  byVersion: ReadonlyMap<string, MigrationFile>,
  grouping: boolean,
): MigrationFile[] {
  const files = remaining.map((p) => byVersion.get(p.version) as MigrationFile);
  const first = files[0] as MigrationFile;
  if (first.noTransaction || !grouping) return [first];
  const group: MigrationFile[] = [];
  let chars = 0;
  for (const m of files) {
    if (m.noTransaction || group.length === GROUP_MAX_MIGRATIONS) break;
    if (group.length > 0 && chars + m.sql.length > GROUP_MAX_CHARS) break;
    group.push(m);
    chars += m.sql.length;
  }
  return group;
}

const RETRYABLE = new Set(['55P03', '40P01']);

/** statement_timeout for the next statement: the configured one, capped so it ends before the deadline. */
function statementTimeout(ctx: ApplyContext): { ms: number; cappedByDeadline: boolean } {
  const { deadline, deadlineMarginMs, statementTimeoutMs } = ctx.settings;
  if (deadline === undefined) return { ms: statementTimeoutMs, cappedByDeadline: false };
  const cap = Math.max(1, Math.floor(deadline - ctx.now() - deadlineMarginMs / 2));
  if (statementTimeoutMs === 0 || cap < statementTimeoutMs) return { ms: cap, cappedByDeadline: true };
  return { ms: statementTimeoutMs, cappedByDeadline: false };
}

/**
 * Runs `attempt` and retries it on lock_timeout or deadlock with exponential backoff. Returns 'deadline' when
 * the next retry would start too close to the deadline. `file` names the migration the last attempt failed on;
 * when `progressed` says that attempt got further than the one before (a group committed some migrations),
 * the count starts again: it is the next migration's first failure.
 */
async function withLockRetries<T>(
  ctx: ApplyContext,
  file: () => string,
  attempt: () => Promise<T>,
  onGiveUp: (err: ScriptFailedError, attempts: number) => Error,
  progressed: () => boolean = () => false,
): Promise<T | 'deadline'> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof ScriptFailedError) || !RETRYABLE.has(err.serverError.code ?? '')) throw err;
      if (progressed()) n = 1;
      if (n > ctx.settings.lockRetries) throw onGiveUp(err, n);
      const delayMs = ctx.settings.lockRetryDelayMs * 2 ** (n - 1);
      const { deadline, deadlineMarginMs } = ctx.settings;
      if (deadline !== undefined && ctx.now() + delayMs > deadline - deadlineMarginMs) return 'deadline';
      ctx.emit({ type: 'migration-retry', file: file(), attempt: n, delayMs, reason: err.message });
      await ctx.sleep(delayMs);
    }
  }
}

async function applyGroup(
  ctx: ApplyContext,
  group: readonly MigrationFile[],
  parsed: ReadonlyMap<bigint, Statement[]>,
  hooks: ApplyHooks,
): Promise<'applied' | 'deadline'> {
  const first = group[0] as MigrationFile;
  if (first.noTransaction) {
    hooks.started();
    const started = ctx.now();
    const outcome = await applyStatementByStatement(ctx, first, parsed.get(first.version) as Statement[]);
    if (outcome === 'applied') hooks.applied(first, ctx.now() - started);
    return outcome;
  }
  return applyInTransactions(ctx, group, parsed, hooks);
}

/** Where one migration's transaction sits in a script. */
interface Segment {
  readonly migration: MigrationFile;
  readonly statements: readonly Statement[];
  /** Characters (code points, as the server counts them) before the migration's own SQL. */
  readonly bodyChar: number;
  /** Statements of the segment before the migration's own. */
  readonly prefixStatements: number;
}

/** Whether this session may run a DO block (plpgsql installed and usable by the role). */
async function canRunDo(session: SqlSession): Promise<boolean> {
  const [r] = await session.script(
    "SELECT EXISTS (SELECT FROM pg_language WHERE lanname = 'plpgsql' AND has_language_privilege(oid, 'USAGE')) AS ok",
  );
  return r?.rows[0]?.ok === 't';
}
/** Where the history row's execution time is measured from: statement_timestamp() is per script, not per statement. */
const STARTED_SETTING = 'lockstep.migration_started';
const STARTED_AT = `coalesce(nullif(current_setting('${STARTED_SETTING}', true), '')::timestamptz, statement_timestamp())`;
const EXECUTION_MS = 'lockstep_execution_ms';

/**
 * One script with each migration in its own transaction: BEGIN, timeouts, body, history row, COMMIT. The server
 * stops at the first error, so nothing after a failed migration runs; every migration before it has committed,
 * and each COMMIT's result says which. The server buffers results until a script ends, except that it sends
 * notices at once, with everything before them: so every migration after the first starts with a notice, and
 * the previous one's COMMIT reaches the runner as it happens, not when the whole group is done.
 */
function groupScript(
  ctx: ApplyContext,
  group: readonly MigrationFile[],
  parsed: ReadonlyMap<bigint, Statement[]>,
  statementTimeoutMs: number,
): { text: string; segments: Segment[] } {
  const parts: string[] = [];
  const segments: Segment[] = [];
  let chars = 0;
  for (const m of group) {
    const statements = parsed.get(m.version) as Statement[];
    const notice =
      segments.length === 0
        ? ''
        : "SET LOCAL client_min_messages = 'notice';\n" +
          `DO $lockstep$BEGIN RAISE NOTICE 'lockstep: applying migration ${m.version}'; END$lockstep$;\n`;
    const prefix =
      `BEGIN;\n${notice}SET LOCAL lock_timeout = '${ctx.settings.lockTimeoutMs}ms';\n` +
      `SET LOCAL statement_timeout = '${statementTimeoutMs}ms';\n` +
      `SELECT set_config('${STARTED_SETTING}', clock_timestamp()::text, true);\n`;
    const record = ctx.history.recordSql(m, ctx.settings.appliedBy, { success: true, startedAt: STARTED_AT });
    const text = `${prefix}${m.sql}\n;\n${record} RETURNING execution_ms AS ${EXECUTION_MS};\nCOMMIT;\n`;
    segments.push({
      migration: m,
      statements,
      bodyChar: chars + prefix.length,
      prefixStatements: notice ? 6 : 4,
    });
    parts.push(text);
    chars += [...text].length;
  }
  return { text: parts.join(''), segments };
}

/**
 * Applies transactional migrations, grouped in one script per attempt. A migration that gives up waiting for a
 * lock is retried with backoff, together with the rest of the group; the ones before it stay committed.
 */
async function applyInTransactions(
  ctx: ApplyContext,
  group: readonly MigrationFile[],
  parsed: ReadonlyMap<bigint, Statement[]>,
  hooks: ApplyHooks,
): Promise<'applied' | 'deadline'> {
  let next = 0;
  let announced = -1;
  const announce = (i: number) => {
    if (i <= announced || i >= group.length) return;
    announced = i;
    hooks.started();
  };
  // What the last failed attempt left: the migration it failed in, and whether it committed any before that.
  let failed: { segment: Segment; progressed: boolean } | undefined;
  let timeout = statementTimeout(ctx);
  const locate = (err: ScriptFailedError) =>
    locateTransactional(ctx, (failed as { segment: Segment }).segment, err);

  const attempt = async () => {
    timeout = statementTimeout(ctx);
    const { text, segments } = groupScript(ctx, group.slice(next), parsed, timeout.ms);
    // Results arrive one by one; each COMMIT is a migration done. Reported as they arrive when the session
    // streams them, else from the results once the script ends: those are the truth either way.
    let seen = 0;
    let committed = 0;
    let executionMs: number | undefined;
    let started = ctx.now();
    let hookError: unknown;
    const take = (r: StatementResult) => {
      seen++;
      const ms = r.rows[0]?.[EXECUTION_MS];
      if (ms !== undefined) executionMs = Number(ms);
      if (r.command !== 'COMMIT') return;
      const m = (segments[committed] as Segment).migration;
      committed++;
      try {
        hooks.applied(m, executionMs ?? ctx.now() - started);
        executionMs = undefined;
        started = ctx.now();
        announce(next + committed);
      } catch (err) {
        hookError ??= err;
      }
    };
    const takeRest = (results: readonly StatementResult[]) => {
      for (const r of results.slice(seen)) take(r);
    };
    announce(next);
    try {
      takeRest(await ctx.session.script(text, take));
    } catch (err) {
      if (!(err instanceof ScriptFailedError)) throw err;
      takeRest(err.completed);
      // After an error inside an explicit BEGIN the session sits in an aborted transaction until ROLLBACK.
      await ctx.session.script('ROLLBACK').catch(() => {});
      if (hookError) throw hookError;
      failed = { segment: segments[committed] as Segment, progressed: committed > 0 };
      next += committed;
      throw err;
    }
    if (hookError) throw hookError;
    if (committed !== segments.length)
      throw new Error(`expected ${segments.length} COMMITs from the group, saw ${committed}`);
  };

  const outcome = await withLockRetries(
    ctx,
    () => failed?.segment.migration.file ?? '',
    attempt,
    (err, attempts) =>
      new LockNotAvailableError(attempts, locate(err).failure, err.message, { cause: err.serverError }),
    () => failed?.progressed ?? false,
  ).catch((err: unknown) => {
    if (!(err instanceof ScriptFailedError) || isConnectionLoss(err.serverError)) throw err;
    const { failure, message } = locate(err);
    throw new MigrationFailedError(
      message,
      failureWithTimeoutHint(failure, err.serverError, timeout.cappedByDeadline),
      { cause: err.serverError },
    );
  });
  return outcome === 'deadline' ? 'deadline' : 'applied';
}

/**
 * Where a failure in a migration's transaction happened: from the server's position if any, else from how many
 * of its statements completed (counted from the last COMMIT in the script).
 */
function locateTransactional(
  ctx: ApplyContext,
  segment: Segment,
  err: ScriptFailedError,
): { failure: MigrationFailure; message: string } {
  const { migration: m, statements } = segment;
  const index = new TextIndex(m.sql);
  const se = err.serverError;
  let location = { line: 1, column: 1 };
  let statement: Statement | undefined;
  const position = se.position ? Number(se.position) : undefined;
  const bodyChar = position !== undefined ? position - 1 - segment.bodyChar : -1;
  const bodyChars = [...m.sql].length;
  const completed = err.completed.length - (err.completed.map((r) => r.command).lastIndexOf('COMMIT') + 1);
  if (bodyChar >= 0 && bodyChar < bodyChars) {
    const at = index.fromCharOffset(bodyChar);
    location = index.lineColumn(at);
    statement = [...statements].reverse().find((st) => st.start <= at);
  } else {
    statement = statements[completed - segment.prefixStatements];
    if (statement) location = { line: statement.line, column: statement.column };
  }
  const atCommit = !statement && completed >= segment.prefixStatements + statements.length;
  return {
    message: describeServerError(se),
    failure: {
      version: m.version.toString(),
      location: { file: m.file, ...location },
      sqlState: se.code,
      statementExcerpt: statement ? excerpt(statement.text) : undefined,
      appliedBefore: ctx.appliedBefore(),
      hint:
        hintFor(se) ??
        (atCommit
          ? 'failed while committing: a deferred constraint or trigger rejected the migration'
          : undefined),
    },
  };
}

/** Statement by statement, outside any transaction; progress is recorded so a failure names where it stopped. */
async function applyStatementByStatement(
  ctx: ApplyContext,
  m: MigrationFile,
  statements: readonly Statement[],
): Promise<'applied' | 'deadline'> {
  const [clock] = await ctx.session.script('SELECT clock_timestamp() AS started');
  const startedAt = `${quoteLiteral(clock?.rows[0]?.started as string)}::timestamptz`;
  const index = new TextIndex(m.sql);
  try {
    let i = 0;
    let timeout = statementTimeout(ctx);
    const current = () => statements[i] as Statement;
    // A retry after lock_timeout or a deadlock starts the file again from the top: the statement that timed out
    // may have left something behind (an INVALID index) that only the statements before it clean up.
    const outcome = await withLockRetries(
      ctx,
      () => m.file,
      async () => {
        for (i = 0; i < statements.length; i++) {
          timeout = statementTimeout(ctx);
          await ctx.session.script(
            `SET lock_timeout = '${ctx.settings.lockTimeoutMs}ms';\nSET statement_timeout = '${timeout.ms}ms'`,
          );
          await ctx.session.script(current().text);
        }
      },
      (err, attempts) =>
        new LockNotAvailableError(
          attempts,
          failureAt(ctx, m, index, current(), err.serverError),
          err.message,
          {
            cause: err.serverError,
          },
        ),
    ).catch(async (err: unknown) => {
      const se =
        err instanceof ScriptFailedError
          ? err.serverError
          : err instanceof LockNotAvailableError
            ? (err.cause as ServerError)
            : undefined;
      if (se) {
        await ctx.session
          .script(
            ctx.history.recordSql(m, ctx.settings.appliedBy, {
              success: false,
              startedAt,
              failedStatement: i + 1,
              error: describeServerError(se),
            }),
          )
          .catch(() => {});
      }
      if (err instanceof ScriptFailedError && !isConnectionLoss(err.serverError)) {
        throw new MigrationFailedError(
          describeServerError(err.serverError),
          failureWithTimeoutHint(
            failureAt(ctx, m, index, current(), err.serverError),
            err.serverError,
            timeout.cappedByDeadline,
          ),
          { cause: err.serverError },
        );
      }
      throw err;
    });
    if (outcome === 'deadline') return 'deadline';
    await ctx.session.script(ctx.history.recordSql(m, ctx.settings.appliedBy, { success: true, startedAt }));
    return 'applied';
  } finally {
    await ctx.session.script('RESET lock_timeout;\nRESET statement_timeout').catch(() => {});
  }
}

function failureAt(
  ctx: ApplyContext,
  m: MigrationFile,
  index: TextIndex,
  st: Statement,
  se: ServerError,
): MigrationFailure {
  let location = { line: st.line, column: st.column };
  const position = se.position ? Number(se.position) : undefined;
  if (position !== undefined)
    location = index.lineColumn(st.start + new TextIndex(st.text).fromCharOffset(position - 1));
  return {
    version: m.version.toString(),
    location: { file: m.file, ...location },
    sqlState: se.code,
    statementExcerpt: excerpt(st.text),
    appliedBefore: ctx.appliedBefore(),
    hint:
      hintFor(se) ??
      'this migration runs outside a transaction: statements before this one stay applied, so it must be safe to re-run',
  };
}

function failureWithTimeoutHint(
  f: MigrationFailure,
  se: ServerError,
  cappedByDeadline: boolean,
): MigrationFailure {
  if (se.code === '57014' && cappedByDeadline) {
    return {
      ...f,
      hint: 'statement_timeout was shortened to end before the deadline: run this migration where it has more time',
    };
  }
  return f;
}

function describeServerError(se: ServerError): string {
  return [se.message, se.detail && `detail: ${se.detail}`, se.where && `context: ${se.where}`]
    .filter(Boolean)
    .join('; ');
}

function hintFor(se: ServerError): string | undefined {
  if (se.code === '25001')
    return 'this statement cannot run inside a transaction: add "-- lockstep:no-transaction" as the first line of the file';
  if (se.code === '57014') return 'statement_timeout cancelled the statement';
  return se.hint;
}
