/**
 * Applies transactional migrations. Consecutive ones share one script, each still in its own transaction: the
 * session reset, BEGIN, timeouts, the migration, its history row, COMMIT. The server stops at the first error, so
 * nothing after a failed migration runs and every migration before it has committed; each COMMIT's result says
 * which.
 */
import {
  type ApplyContext,
  type ApplyHooks,
  type StatementTimeout,
  statementTimeout,
  timeoutStatements,
} from './apply-context.ts';
import {
  LockLostError,
  LockNotAvailableError,
  MigrationFailedError,
  type MigrationFailure,
} from './errors.ts';
import { HistoryTable } from './history.ts';
import { withLockRetries } from './lock-retries.ts';
import type { MigrationFile } from './migration-files.ts';
import type { PendingMigration } from './plan.ts';
import { describeServerError, hintFor, isLostConnection, withTimeoutHint } from './server-errors.ts';
import { ScriptFailedError, type StatementResult } from './session.ts';
import { AS_CONNECTED, BEFORE_COMMIT, isLockLost, resetStatements, script } from './session-reset.ts';
import { codePointLength, excerpt, type Statement, TextIndex } from './sql-text.ts';

/** At most this many migrations, and this much SQL, go to the server in one script. */
const GROUP_MAX_MIGRATIONS = 100;
const GROUP_MAX_CHARS = 1_000_000;

/**
 * The migrations to send next. A no-transaction file goes alone, and so does one in `alone` (it runs its own
 * transactions). Transactional files are grouped when `grouping`
 * allows, so the server runs them back to back instead of waiting a round trip for each.
 */
export function nextGroup(
  remaining: readonly PendingMigration[],
  byVersion: ReadonlyMap<string, MigrationFile>,
  grouping: boolean,
  alone: ReadonlySet<bigint> = new Set(),
): MigrationFile[] {
  const files = remaining.map((p) => byVersion.get(p.version) as MigrationFile);
  const first = files[0] as MigrationFile;
  if (first.noTransaction || alone.has(first.version) || !grouping) return [first];
  const group: MigrationFile[] = [];
  let chars = 0;
  for (const m of files) {
    if (m.noTransaction || alone.has(m.version) || group.length === GROUP_MAX_MIGRATIONS) break;
    if (group.length > 0 && chars + m.sql.length > GROUP_MAX_CHARS) break;
    group.push(m);
    chars += m.sql.length;
  }
  return group;
}

/** Where the history row's execution time is measured from: statement_timestamp() is per script, not per statement. */
const STARTED_SETTING = 'lockstep.migration_started';
const STARTED_AT = `coalesce(nullif(pg_catalog.current_setting('${STARTED_SETTING}', true), '')::timestamptz, pg_catalog.statement_timestamp())`;
const EXECUTION_MS = 'lockstep_execution_ms';

/** Where one migration's transaction sits in a group's script, and how many of the statements around it are lockstep's. */
interface Segment {
  readonly migration: MigrationFile;
  readonly statements: readonly Statement[];
  /** Characters (code points, as the server counts positions) before the migration's own SQL. */
  readonly bodyChar: number;
  /** lockstep's statements in this transaction before the migration's own, BEGIN included. */
  readonly before: number;
  /** lockstep's statements after the migration's own and before COMMIT: timeouts and role back, history row, UNLISTEN. */
  readonly after: number;
}

/**
 * The script for a group. Every migration after the first starts with a notice: the server buffers results until a
 * script ends but sends a notice at once, with everything before it, so the previous migration's COMMIT reaches the
 * runner as it happens, not when the whole group is done.
 */
function groupScript(
  ctx: ApplyContext,
  group: readonly MigrationFile[],
  parsed: ReadonlyMap<bigint, readonly Statement[]>,
  timeout: StatementTimeout,
): { text: string; segments: Segment[] } {
  const parts: string[] = [];
  const segments: Segment[] = [];
  let chars = 0;
  for (const m of group) {
    const notice =
      segments.length === 0
        ? []
        : [
            "SET LOCAL client_min_messages = 'notice'",
            `DO $lockstep$BEGIN RAISE NOTICE 'lockstep: applying migration ${m.version}'; END$lockstep$`,
          ];
    const before = [
      'BEGIN',
      ...resetStatements(ctx.history),
      ...notice,
      ...timeoutStatements(ctx, timeout, true),
      `SELECT pg_catalog.set_config('${STARTED_SETTING}', pg_catalog.clock_timestamp()::text, true)`,
    ];
    const record = `${ctx.history.recordSql(m, ctx.settings.appliedBy, { success: true, startedAt: STARTED_AT })} RETURNING execution_ms AS ${EXECUTION_MS}`;
    const prefix = script(before);
    // lockstep's timeouts again first: a migration that ends with SET statement_timeout = '50ms' must not cut off
    // its own history row.
    const after = [...timeoutStatements(ctx, timeout, true), ...AS_CONNECTED, record, ...BEFORE_COMMIT];
    const text = `${prefix}${m.sql}\n;\n${script(after)}COMMIT;\n`;
    segments.push({
      migration: m,
      statements: parsed.get(m.version) ?? [],
      bodyChar: chars + codePointLength(prefix),
      before: before.length,
      // the record is one string of RECORD_STATEMENTS statements
      after: after.length - 1 + HistoryTable.RECORD_STATEMENTS,
    });
    parts.push(text);
    chars += codePointLength(text);
  }
  return { text: parts.join(''), segments };
}

/** A group's progress across attempts: one record, updated as results arrive. */
interface GroupProgress {
  /** Index in the group of the first migration not yet committed. */
  next: number;
  /** Index of the last migration reported as started. */
  announced: number;
  /** The last failed attempt: the migration it failed in, and whether it committed any before that. */
  failed: { readonly segment: Segment; readonly progressed: boolean } | undefined;
  /** The statement_timeout the last attempt ran with. */
  timeout: StatementTimeout;
}

/**
 * Applies transactional migrations, grouped in one script per attempt. A migration that gives up waiting for a lock
 * is retried with backoff, together with the rest of the group; the ones before it stay committed.
 */
export async function applyInTransactions(
  ctx: ApplyContext,
  group: readonly MigrationFile[],
  parsed: ReadonlyMap<bigint, readonly Statement[]>,
  hooks: ApplyHooks,
): Promise<'applied' | 'deadline'> {
  const progress: GroupProgress = {
    next: 0,
    announced: -1,
    failed: undefined,
    timeout: statementTimeout(ctx),
  };
  const announce = (i: number) => {
    if (i <= progress.announced || i >= group.length) return;
    progress.announced = i;
    hooks.started();
  };
  const attempt = async () => {
    progress.timeout = statementTimeout(ctx);
    const { text, segments } = groupScript(ctx, group.slice(progress.next), parsed, progress.timeout);
    const results = new AttemptResults(ctx, segments, hooks, (committed) =>
      announce(progress.next + committed),
    );
    announce(progress.next);
    try {
      results.takeRest(await ctx.session.script(text, (r) => results.take(r)));
    } catch (err) {
      if (!(err instanceof ScriptFailedError)) throw err;
      results.takeRest(err.completed);
      // After an error inside an explicit BEGIN the session sits in an aborted transaction until ROLLBACK.
      await rollback(ctx, err);
      results.throwHookError();
      progress.failed = {
        segment: segments[results.committed] as Segment,
        progressed: results.committed > 0,
      };
      progress.next += results.committed;
      throw err;
    }
    results.throwHookError();
    if (results.committed !== segments.length)
      throw new Error(`expected ${segments.length} COMMITs from the group, saw ${results.committed}`);
  };

  const locate = (err: ScriptFailedError) =>
    locateFailure(ctx, (progress.failed as { segment: Segment }).segment, err);
  const outcome = await withLockRetries(
    ctx,
    () => progress.failed?.segment.migration.file ?? '',
    attempt,
    (err, attempts) =>
      new LockNotAvailableError(attempts, locate(err).failure, err.message, { cause: err.serverError }),
    () => progress.failed?.progressed ?? false,
  ).catch((err: unknown) => {
    if (!(err instanceof ScriptFailedError) || isLostConnection(err)) throw err;
    const { failure, message } = locate(err);
    if (isLockLost(err)) throw new LockLostError(failure.version, { cause: err.serverError });
    throw new MigrationFailedError(message, withTimeoutHint(failure, err.serverError, progress.timeout), {
      cause: err.serverError,
    });
  });
  return outcome === 'deadline' ? 'deadline' : 'applied';
}

/** Ends the aborted transaction a failed script left; a failed rollback is reported, the script's error is what counts. */
async function rollback(ctx: ApplyContext, cause: ScriptFailedError): Promise<void> {
  try {
    await ctx.session.script('ROLLBACK');
  } catch (err) {
    if (!isLostConnection(cause))
      ctx.emit({ type: 'cleanup-failed', action: 'ROLLBACK', reason: String(err) });
  }
}

/**
 * What one attempt's results said: each COMMIT is a migration done. Reported as they arrive when the session streams
 * them, else from the results once the script ends: those are the truth either way.
 */
class AttemptResults {
  /** Results taken so far. */
  private seen = 0;
  /** Migrations of this attempt whose COMMIT has been seen. */
  committed = 0;
  private executionMs: number | undefined;
  private startedAt: number;
  private hookError: unknown;

  constructor(
    private readonly ctx: ApplyContext,
    private readonly segments: readonly Segment[],
    private readonly hooks: ApplyHooks,
    private readonly onCommitted: (committed: number) => void,
  ) {
    this.startedAt = ctx.now();
  }

  take(r: StatementResult): void {
    this.seen++;
    const ms = r.rows[0]?.[EXECUTION_MS];
    if (ms !== undefined) this.executionMs = Number(ms);
    if (r.command !== 'COMMIT') return;
    const m = (this.segments[this.committed] as Segment).migration;
    this.committed++;
    try {
      this.hooks.applied(m.version, m.file, this.executionMs ?? this.ctx.now() - this.startedAt);
      this.executionMs = undefined;
      this.startedAt = this.ctx.now();
      this.onCommitted(this.committed);
    } catch (err) {
      this.hookError ??= err;
    }
  }

  takeRest(results: readonly StatementResult[]): void {
    for (const r of results.slice(this.seen)) this.take(r);
  }

  /** A progress callback that threw is raised once the script has ended: the server had the rest already. */
  throwHookError(): void {
    if (this.hookError) throw this.hookError;
  }
}

/**
 * Where a failure in a migration's transaction happened: from the server's position if it falls in the migration's
 * own SQL, else from how many of the segment's statements completed (counted from the last COMMIT in the script).
 */
function locateFailure(
  ctx: ApplyContext,
  segment: Segment,
  err: ScriptFailedError,
): { failure: MigrationFailure; message: string } {
  const { migration: m, statements } = segment;
  const se = err.serverError;
  const index = new TextIndex(m.sql);
  const completed = err.completed.length - (err.completed.map((r) => r.command).lastIndexOf('COMMIT') + 1);
  const bodyChar = se.position ? Number(se.position) - 1 - segment.bodyChar : -1;
  let location = { line: 1, column: 1 };
  let statement: Statement | undefined;
  let hint: string | undefined;
  if (bodyChar >= 0 && bodyChar < codePointLength(m.sql)) {
    const at = index.fromCharOffset(bodyChar);
    location = index.lineColumn(at);
    statement = [...statements].reverse().find((st) => st.start <= at);
  } else if (completed < segment.before) {
    hint =
      'lockstep failed to prepare the session for this migration (its reset, BEGIN or timeouts); nothing of the migration ran';
  } else if (completed < segment.before + statements.length) {
    statement = statements[completed - segment.before];
    if (statement) location = { line: statement.line, column: statement.column };
  } else if (completed < segment.before + statements.length + segment.after) {
    hint = `the migration ran, but writing its history row (as the role lockstep connected with, to ${ctx.history.schema}.${ctx.history.table}) failed, so it was rolled back`;
  } else {
    hint = 'failed while committing: a deferred constraint or trigger rejected the migration';
  }
  return {
    message: describeServerError(se),
    failure: {
      version: m.version.toString(),
      location: { file: m.file, ...location },
      sqlState: se.code,
      statementExcerpt: statement ? excerpt(statement.text) : undefined,
      appliedBefore: ctx.appliedBefore(),
      hint: hint ?? hintFor(se),
    },
  };
}
