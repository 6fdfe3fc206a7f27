/**
 * Applies a `-- lockstep:no-transaction` migration statement by statement, each on its own, outside any transaction.
 * Before the first statement it records the attempt (a failed row that says which statement it has reached), so a
 * runner killed partway leaves a visible record of a partly applied file; the row becomes the outcome when the file
 * succeeds or fails.
 */
import {
  type ApplyContext,
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
import { quoteLiteral } from './history.ts';
import { withLockRetries } from './lock-retries.ts';
import type { MigrationFile } from './migration-files.ts';
import { describeServerError, hintFor, isLostConnection, withTimeoutHint } from './server-errors.ts';
import { ScriptFailedError, type ServerError } from './session.ts';
import { AS_CONNECTED, isLockLost, resetStatements, script } from './session-reset.ts';
import { excerpt, type Statement, TextIndex } from './sql-text.ts';

/** What the history row of an attempt says while the attempt is under way. */
const interrupted = (statement: number) =>
  `the run stopped during statement ${statement} (killed, or its connection was lost): the statements before it are applied; the next run starts this file again from the top`;

export async function applyStatementByStatement(
  ctx: ApplyContext,
  m: MigrationFile,
  statements: readonly Statement[],
): Promise<'applied' | 'deadline'> {
  return applyUnwrapped(ctx, m, statements).catch((err: unknown) => {
    if (isLockLost(err)) throw new LockLostError(m.version.toString(), { cause: err });
    throw err;
  });
}

async function applyUnwrapped(
  ctx: ApplyContext,
  m: MigrationFile,
  statements: readonly Statement[],
): Promise<'applied' | 'deadline'> {
  const startedAt = await recordStart(ctx, m);
  const index = new TextIndex(m.sql);
  // The statement under way, and the statement_timeout it ran with: what a failure report names.
  const at: { statement: number; timeout: StatementTimeout } = {
    statement: 0,
    timeout: statementTimeout(ctx),
  };
  const current = () => statements[at.statement] as Statement;
  const record = (outcome: { failedStatement: number; error: string } | undefined) =>
    ctx.history.recordSql(
      m,
      ctx.settings.appliedBy,
      outcome ? { success: false, startedAt, ...outcome } : { success: true, startedAt },
    );

  let attempts = 0;
  const outcome = await withLockRetries(
    ctx,
    () => m.file,
    // A retry after lock_timeout or a deadlock starts the file again from the top, from a clean session: the statement
    // that timed out may have left something behind (an INVALID index) that only the statements before it clean up.
    async () => {
      if (attempts++ > 0) await ctx.session.script(inTransaction(ctx, []));
      for (at.statement = 0; at.statement < statements.length; at.statement++) {
        at.timeout = statementTimeout(ctx);
        await ctx.session.script(
          script([
            ...timeoutStatements(ctx, at.timeout, false),
            ...AS_CONNECTED,
            ctx.history.progressSql(m.version, at.statement + 1, interrupted(at.statement + 1)),
          ]),
        );
        await ctx.session.script(current().text);
      }
    },
    (err, n) =>
      new LockNotAvailableError(n, failureAt(ctx, m, index, current(), err.serverError), err.message, {
        cause: err.serverError,
      }),
  ).catch(async (err: unknown) => {
    if (isLostConnection(err)) throw err; // the progress row says where it stopped
    const se = err instanceof ScriptFailedError ? err.serverError : (err as { cause?: ServerError }).cause;
    if (err instanceof ScriptFailedError || err instanceof LockNotAvailableError) {
      await finish(
        ctx,
        record({ failedStatement: at.statement + 1, error: describeServerError(se as ServerError) }),
      );
    }
    if (err instanceof ScriptFailedError) {
      throw new MigrationFailedError(
        describeServerError(err.serverError),
        withTimeoutHint(failureAt(ctx, m, index, current(), err.serverError), err.serverError, at.timeout),
        { cause: err.serverError },
      );
    }
    throw err;
  });
  if (outcome === 'deadline') {
    await finish(
      ctx,
      record({
        failedStatement: at.statement + 1,
        error: `a table lock was not available, and the run stopped retrying to end before its deadline: the statements before ${at.statement + 1} are applied; the next run starts this file again from the top`,
      }),
    );
    return 'deadline';
  }
  await ctx.session.script(inTransaction(ctx, [record(undefined)]));
  return 'applied';
}

/** `statements` in one transaction, after the session is reset to how lockstep connected. */
function inTransaction(ctx: ApplyContext, statements: readonly string[]): string {
  return script(['BEGIN', ...resetStatements(ctx.history), ...statements, 'COMMIT']);
}

/** Resets the session and records the attempt; returns when it started, as an SQL timestamptz literal. */
async function recordStart(ctx: ApplyContext, m: MigrationFile): Promise<string> {
  const row = ctx.history.recordSql(m, ctx.settings.appliedBy, {
    success: false,
    startedAt: 'pg_catalog.clock_timestamp()',
    failedStatement: 1,
    error: interrupted(1),
  });
  const results = await ctx.session.script(
    inTransaction(ctx, [`${row} RETURNING applied_at::text AS started`]),
  );
  const started = results.find((r) => r.rows[0]?.started !== undefined)?.rows[0]?.started;
  return `${quoteLiteral(started as string)}::timestamptz`;
}

/**
 * Records how a failed attempt ended. The migration's failure is what the caller throws; a failure to record it is
 * reported too, and the attempt's row still names the statement it reached.
 */
async function finish(ctx: ApplyContext, recordSql: string): Promise<void> {
  try {
    await ctx.session.script(inTransaction(ctx, [recordSql]));
  } catch (err) {
    ctx.emit({
      type: 'cleanup-failed',
      action: 'record the failed migration in the history',
      reason: String(err),
    });
    await ctx.session.script('ROLLBACK').catch(() => {}); // the session is unusable if this fails too; the caller's error says why
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
