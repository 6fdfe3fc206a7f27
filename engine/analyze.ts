/**
 * Validation of pending migrations before anything runs: each file split with PostgreSQL's parser, then every
 * statement checked against how lockstep will run the file. Every problem names its file, line and column.
 */
import type { MigrationFileProblem } from './errors.ts';
import type { MigrationFile } from './migration-files.ts';
import { SqlSyntaxError, type Statement, splitStatements, TextIndex } from './sql-text.ts';

/** Splits every pending file and finds what cannot run safely as written, naming file, line and column. */
export async function analyzePending(
  pending: readonly MigrationFile[],
): Promise<{ parsed: Map<bigint, Statement[]>; problems: MigrationFileProblem[] }> {
  const problems: MigrationFileProblem[] = [];
  const parsed = new Map<bigint, Statement[]>();
  for (const m of pending) {
    let statements: Statement[];
    try {
      statements = await splitStatements(m.sql);
    } catch (err) {
      if (!(err instanceof SqlSyntaxError)) throw err;
      problems.push({
        file: m.file,
        ...new TextIndex(m.sql).lineColumn(err.index),
        problem: `syntax error: ${err.message}`,
      });
      continue;
    }
    for (const st of statements) {
      const problem = statementProblem(m, st);
      if (problem) problems.push({ file: m.file, line: st.line, column: st.column, problem });
    }
    parsed.set(m.version, statements);
  }
  return { parsed, problems };
}

/** What is wrong with a statement where it stands, if anything. */
function statementProblem(m: MigrationFile, st: Statement): string | undefined {
  if (st.unsupported) return st.unsupported;
  if (m.noTransaction) {
    if (st.controlsTransaction)
      return `${st.controlsTransaction} is not allowed in a -- lockstep:no-transaction file: lockstep runs such a file one statement at a time in autocommit, so a transaction the file opens or ends is not one lockstep can see or finish (split the file: what must be atomic goes in a migration without the directive)`;
    if (st.needsTransaction)
      return `${st.needsTransaction} only works inside a transaction block, and a -- lockstep:no-transaction file runs each statement on its own in autocommit: move it to a migration without the directive`;
    return undefined;
  }
  if (st.controlsTransaction)
    return `${st.controlsTransaction} is not allowed: lockstep runs each migration in its own transaction, which it starts, and commits with the history row (remove it)`;
  if (st.needsNoTransaction)
    return `${st.needsNoTransaction} cannot run inside a transaction: add "-- lockstep:no-transaction" as the file's first line`;
  return undefined;
}
