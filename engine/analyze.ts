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
      if (!m.noTransaction && st.controlsTransaction) {
        problems.push({
          file: m.file,
          line: st.line,
          column: st.column,
          problem: `${st.controlsTransaction} is not allowed: lockstep runs each migration in its own transaction (remove it, or make the file -- lockstep:no-transaction)`,
        });
      } else if (!m.noTransaction && st.needsNoTransaction) {
        problems.push({
          file: m.file,
          line: st.line,
          column: st.column,
          problem: `${st.needsNoTransaction} cannot run inside a transaction: add "-- lockstep:no-transaction" as the file's first line`,
        });
      }
    }
    parsed.set(m.version, statements);
  }
  return { parsed, problems };
}
