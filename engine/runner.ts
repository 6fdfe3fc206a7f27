/**
 * The migration run, top to bottom: read the history, validate, take the lock, read again, apply in order. The
 * executors beside it apply migrations (transaction-executor.ts, statement-executor.ts); this file decides what runs.
 */

import type { ApplyContext, ApplyHooks } from './apply-context.ts';
import { ForeignHistoryError, InvalidMigrationError, LockTimeoutError } from './errors.ts';
import type { AppliedMigration, EngineEvent } from './events.ts';
import { findForeignHistory } from './foreign-history.ts';
import { HistoryTable, readHistory } from './history.ts';
import { MigrationLock, withAdvisoryLock } from './lock.ts';
import { analyzePending } from './migration.ts';
import type { MigrationFile } from './migration-files.ts';
import { computePlan, type PendingMigration, type Plan, planProblem } from './plan.ts';
import { applySelfManaged } from './self-managed-executor.ts';
import { rethrowConnectionLoss } from './server-errors.ts';
import type { SqlSession } from './session.ts';
import { ENGINE_DEFAULTS, type EngineOptions, resolveSettings, type Settings } from './settings.ts';
import type { Statement } from './sql-text.ts';
import { applyStatementByStatement } from './statement-executor.ts';
import { applyInTransactions, nextGroup } from './transaction-executor.ts';

export type { AppliedMigration, EngineEvent } from './events.ts';
export { ENGINE_DEFAULTS, type EngineOptions } from './settings.ts';

export interface EngineDeps {
  readonly session: SqlSession;
  /** @default Date.now */
  readonly now?: () => number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Progress, for human output and logs. */
  readonly onEvent?: (event: EngineEvent) => void;
}

export interface MigrateResult {
  readonly applied: readonly AppliedMigration[];
  /** What is still pending after this run, of the phase it ran. */
  readonly pending: readonly PendingMigration[];
  /** Pending migrations of the other phase, left for their run (`-- lockstep:after-deploy` ones, after a before-deploy run). */
  readonly deferred: readonly PendingMigration[];
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

/** What would run, and any drift, without changing anything. */
export async function plan(
  deps: EngineDeps,
  files: readonly MigrationFile[],
  options: Pick<EngineOptions, 'historyTable' | 'phase'> = {},
): Promise<Plan> {
  const history = new HistoryTable(options.historyTable ?? ENGINE_DEFAULTS.historyTable);
  const rows = await readHistory(deps.session, history).catch(rethrowConnectionLoss);
  await refuseForeignHistory(deps.session, rows);
  const p = computePlan(files, rows ?? [], options.phase ?? ENGINE_DEFAULTS.phase);
  if (p.pending.length === 0) return p;
  const { problems } = await analyzePending(pendingFiles(p, files));
  return { ...p, invalid: problems };
}

/** Applied and pending migrations. */
export async function status(
  deps: EngineDeps,
  files: readonly MigrationFile[],
  options: Pick<EngineOptions, 'historyTable' | 'phase'> = {},
): Promise<StatusResult> {
  const { applied, pending, databaseAhead } = await plan(deps, files, options);
  return { applied, pending, databaseAhead };
}

/**
 * Applies pending migrations, one transaction each (or statement by statement for `-- lockstep:no-transaction`
 * files), under an advisory lock. Validates everything before changing anything. Every migration starts from the
 * session as lockstep connected (session-reset.ts), so the outcome does not depend on how many migrations one run
 * applies. The session is handed back reset the same way: settings as it connected, no temp tables or prepared
 * statements, and no session advisory locks (the caller's own included).
 */
export function migrate(
  deps: EngineDeps,
  files: readonly MigrationFile[],
  options: EngineOptions,
): Promise<MigrateResult> {
  return runMigrations(deps, files, options).catch(rethrowConnectionLoss);
}

async function runMigrations(
  deps: EngineDeps,
  files: readonly MigrationFile[],
  options: EngineOptions,
): Promise<MigrateResult> {
  const settings = resolveSettings(options);
  const history = new HistoryTable(settings.historyTable);
  const run: RunContext = {
    session: deps.session,
    now: deps.now ?? Date.now,
    sleep: deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms))),
    emit: deps.onEvent ?? (() => {}),
    history,
    settings,
  };

  // 1. One round trip: when everything is applied and nothing drifted, that is all a run costs.
  const rows = await readHistory(run.session, history);
  await refuseForeignHistory(run.session, rows);
  const before = computePlan(files, rows ?? [], settings.phase);
  const problem = planProblem(before, settings);
  if (problem) throw problem;
  if (before.pending.length === 0) return result([], before, false);

  // 2. Parse everything pending before touching anything: syntax errors and unsafe statements stop the run here.
  const { parsed, problems, selfManaged } = await analyzePending(pendingFiles(before, files));
  if (problems.length > 0) throw new InvalidMigrationError(problems);

  // 3. One run at a time; 4. under the lock, read again: a run that waited finds the work done.
  const lock = new MigrationLock(run.session, history);
  await takeLock(run, lock);
  return withAdvisoryLock(
    lock,
    () => applyPending(run, files, parsed, selfManaged),
    (reason) => run.emit({ type: 'cleanup-failed', action: 'release the migration lock', reason }),
  );
}

type RunContext = Omit<ApplyContext, 'appliedBefore'>;

/**
 * With no lockstep history, another tool's history table holding rows means that tool migrated this database: refuse
 * ({@link ForeignHistoryError}) rather than apply everything again from the start. Costs nothing once lockstep has history.
 */
async function refuseForeignHistory(
  session: SqlSession,
  rows: readonly unknown[] | undefined,
): Promise<void> {
  if (rows !== undefined && rows.length > 0) return;
  const found = await findForeignHistory(session);
  if (found.length > 0) throw new ForeignHistoryError(found);
}

async function takeLock(run: RunContext, lock: MigrationLock): Promise<void> {
  if (await lock.tryAcquire()) return;
  const holder = await lock.holder();
  run.emit({
    type: 'lock-wait',
    holder: holder ? `pid ${holder.pid} (${holder.applicationName ?? 'unknown'})` : 'unknown',
  });
  const { deadline, deadlineMarginMs, lockWaitMs } = run.settings;
  const left = deadline === undefined ? Number.POSITIVE_INFINITY : deadline - run.now() - deadlineMarginMs;
  const wait = Math.min(lockWaitMs, left);
  if (wait <= 0) throw new LockTimeoutError(0, holder);
  await lock.acquire(wait, run);
}

/** What this run has applied, and what is still to do; one record, updated as migrations commit. */
interface RunProgress {
  readonly applied: AppliedMigration[];
  readonly remaining: PendingMigration[];
}

async function applyPending(
  run: RunContext,
  files: readonly MigrationFile[],
  parsed: ReadonlyMap<bigint, readonly Statement[]>,
  selfManaged: ReadonlySet<bigint>,
): Promise<MigrateResult> {
  let rows = await readHistory(run.session, run.history);
  if (rows === undefined) {
    await createHistory(run.session, run.history);
    run.emit({ type: 'history-created', table: run.history.display });
    rows = [];
  }
  const current = computePlan(files, rows, run.settings.phase);
  const problem = planProblem(current, run.settings);
  if (problem) throw problem;

  const progress: RunProgress = { applied: [], remaining: [...current.pending] };
  const ctx: ApplyContext = { ...run, appliedBefore: () => progress.applied.map((a) => a.version) };
  const hooks: ApplyHooks = {
    started: () =>
      run.emit({ type: 'migration-start', migration: progress.remaining[0] as PendingMigration }),
    applied: (version, file, durationMs) => {
      const done: AppliedMigration = { version: version.toString(), file, durationMs };
      progress.applied.push(done);
      progress.remaining.shift();
      run.emit({ type: 'migration-applied', migration: done });
    },
  };
  // Grouping needs a DO block to report each migration as it commits, and is off under a deadline:
  // statement_timeout bounds a statement, not a group.
  const grouping =
    progress.remaining.length > 1 && run.settings.deadline === undefined && (await canRunDo(run.session));
  const byVersion = new Map(files.map((m) => [m.version.toString(), m]));
  const stopForDeadline = () => {
    run.emit({ type: 'deadline-stop', remainingMs: (run.settings.deadline ?? run.now()) - run.now() });
    return result(progress.applied, { ...current, pending: progress.remaining }, true);
  };

  while (progress.remaining.length > 0) {
    if (tooCloseToDeadline(run.settings, run.now())) return stopForDeadline();
    const group = nextGroup(progress.remaining, byVersion, grouping, selfManaged);
    const first = group[0] as MigrationFile;
    const outcome =
      first.noTransaction || selfManaged.has(first.version)
        ? await applyAlone(ctx, first, parsed.get(first.version) ?? [], hooks, selfManaged.has(first.version))
        : await applyInTransactions(ctx, group, parsed, hooks);
    if (outcome === 'deadline') return stopForDeadline();
  }
  return result(progress.applied, { ...current, pending: [] }, false);
}

async function applyAlone(
  ctx: ApplyContext,
  m: MigrationFile,
  statements: readonly Statement[],
  hooks: ApplyHooks,
  selfManaged: boolean,
): Promise<'applied' | 'deadline'> {
  hooks.started();
  const started = ctx.now();
  const outcome = selfManaged
    ? await applySelfManaged(ctx, m, statements)
    : await applyStatementByStatement(ctx, m, statements);
  if (outcome === 'applied') hooks.applied(m.version, m.file, ctx.now() - started);
  return outcome;
}

function tooCloseToDeadline(s: Settings, now: number): boolean {
  return s.deadline !== undefined && s.deadline - now < s.deadlineMarginMs;
}

function pendingFiles(p: Plan, files: readonly MigrationFile[]): MigrationFile[] {
  const pending = new Set(p.pending.map((m) => m.version));
  return files.filter((f) => pending.has(f.version.toString()));
}

function result(applied: readonly AppliedMigration[], p: Plan, incomplete: boolean): MigrateResult {
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
  return {
    applied,
    pending: p.pending,
    deferred: p.deferred,
    incomplete,
    databaseAhead: p.databaseAhead,
    warnings,
  };
}

async function createHistory(session: SqlSession, history: HistoryTable): Promise<void> {
  const [found] = await session.script(history.schemaPresentSql());
  await session.script(history.createSql(found?.rows[0]?.present === 't'));
}

/** Whether this session may run a DO block (plpgsql installed and usable by the role). */
async function canRunDo(session: SqlSession): Promise<boolean> {
  const [r] = await session.script(
    "SELECT EXISTS (SELECT FROM pg_language WHERE lanname = 'plpgsql' AND has_language_privilege(oid, 'USAGE')) AS ok",
  );
  return r?.rows[0]?.ok === 't';
}
