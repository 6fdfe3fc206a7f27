/**
 * Applies a migration that runs its own transactions (a Prisma file with `BEGIN; … COMMIT;`) the way its tool runs
 * it: the whole file as one script to the server. lockstep cannot wrap it in a transaction of its own, so it records
 * the attempt first, as Prisma does in `_prisma_migrations` (a row with `started_at` and no `finished_at`): a row
 * "started, in doubt" committed before the file runs, replaced by the applied row once the file has run. A run killed
 * in between leaves the in-doubt row, which the next run refuses to guess about (./plan.ts) until someone records what
 * happened (`lockstep repair --resolve`). A file that fails stays in doubt too: what it committed before the error is
 * unknown to lockstep (statements before its BEGIN, or an earlier transaction of its own).
 */
import { type ApplyContext, statementTimeout, timeoutStatements } from './apply-context.ts';
import { MigrationFailedError } from './errors.ts';
import { IN_DOUBT_STATEMENT, quoteLiteral } from './history.ts';
import type { MigrationFile } from './migration-files.ts';
import { describeServerError, hintFor, isLostConnection } from './server-errors.ts';
import { ScriptFailedError } from './session.ts';
import { resetStatements, script } from './session-reset.ts';
import { excerpt, type Statement, TextIndex } from './sql-text.ts';

const STARTED =
  'started as a self-managed migration (it runs its own transactions) and not recorded as finished: the run was killed or lost its connection while the file ran';

export async function applySelfManaged(
  ctx: ApplyContext,
  m: MigrationFile,
  statements: readonly Statement[],
): Promise<'applied'> {
  const record = (outcome: { success: true } | { success: false; error: string }, startedAt: string) =>
    ctx.history.recordSql(
      m,
      ctx.settings.appliedBy,
      outcome.success
        ? { success: true, startedAt }
        : { success: false, startedAt, failedStatement: IN_DOUBT_STATEMENT, error: outcome.error },
    );
  const [started] = (
    await ctx.session.script(
      inTransaction(ctx, [
        `${record({ success: false, error: STARTED }, 'pg_catalog.clock_timestamp()')} RETURNING applied_at::text AS started`,
      ]),
    )
  ).filter((r) => r.rows[0]?.started !== undefined);
  const startedAt = `${quoteLiteral(started?.rows[0]?.started as string)}::timestamptz`;

  const timeout = statementTimeout(ctx);
  await ctx.session.script(script(timeoutStatements(ctx, timeout, false)));
  try {
    await ctx.session.script(m.sql);
  } catch (err) {
    if (!(err instanceof ScriptFailedError) || isLostConnection(err)) throw err; // the started row stays in doubt
    // A failure inside the file's own BEGIN leaves the session in an aborted transaction.
    await ctx.session.script('ROLLBACK').catch(() => {});
    const message = describeServerError(err.serverError);
    await ctx.session
      .script(inTransaction(ctx, [record({ success: false, error: `failed: ${message}` }, startedAt)]))
      .catch((recordErr: unknown) =>
        ctx.emit({
          type: 'cleanup-failed',
          action: 'record the failed migration',
          reason: String(recordErr),
        }),
      );
    throw new MigrationFailedError(message, failure(ctx, m, statements, err), { cause: err.serverError });
  }
  await ctx.session.script(inTransaction(ctx, [record({ success: true }, startedAt)]));
  return 'applied';
}

function inTransaction(ctx: ApplyContext, statements: readonly string[]): string {
  return script(['BEGIN', ...resetStatements(ctx.history), ...statements, 'COMMIT']);
}

/** Where it failed: the script is the file itself, so the server's position and statement count are the file's. */
function failure(
  ctx: ApplyContext,
  m: MigrationFile,
  statements: readonly Statement[],
  err: ScriptFailedError,
) {
  const index = new TextIndex(m.sql);
  const position = err.serverError.position ? Number(err.serverError.position) - 1 : undefined;
  const at = position === undefined ? undefined : index.fromCharOffset(position);
  const statement =
    at === undefined
      ? statements[err.completed.length]
      : [...statements].reverse().find((st) => st.start <= at);
  const location = at === undefined ? (statement ?? { line: 1, column: 1 }) : index.lineColumn(at);
  return {
    version: m.version.toString(),
    location: { file: m.file, line: location.line, column: location.column },
    sqlState: err.serverError.code,
    statementExcerpt: statement ? excerpt(statement.text) : undefined,
    appliedBefore: ctx.appliedBefore(),
    hint:
      hintFor(err.serverError) ??
      `this file runs its own transactions, so lockstep cannot tell what of it committed before the error: it is recorded as in doubt. Look at the database, then run lockstep repair --resolve ${m.version} --applied or --rolled-back with --reason`,
  };
}
