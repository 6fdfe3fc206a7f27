/**
 * Validation of a migration file before anything runs: the file split with PostgreSQL's parser, then every statement,
 * comment and directive checked against how lockstep will run the file. Every problem names its file, line and column.
 * The CLI runs it on pending files; `lockstep publish` and the synth run it on every file (./prepare.ts), so the
 * migrate function receives files already checked and split.
 */

import { AFTER_DEPLOY_DIRECTIVE, NO_TRANSACTION_DIRECTIVE, readHeader } from './directives.ts';
import type { MigrationFileProblem } from './errors.ts';
import { BACKWARD_COMPATIBLE_DIRECTIVE } from './lint/compatibility.ts';
import { ALLOW_DIRECTIVE } from './lint/suppressions.ts';
import type { FileAnalysis, MigrationText } from './migration.ts';
import { type ParsedStatement, SqlSyntaxError, splitStatements } from './sql-parser.ts';
import { type SqlComment, skipTrivia, TextIndex } from './sql-text.ts';

/** Splits a file and finds what cannot run safely as written, naming line and column. */
export async function analyzeMigration(
  m: MigrationText,
): Promise<FileAnalysis & { readonly statements: readonly ParsedStatement[] }> {
  const problems: MigrationFileProblem[] = [];
  let statements: ParsedStatement[];
  try {
    statements = await splitStatements(m.sql);
  } catch (err) {
    if (!(err instanceof SqlSyntaxError)) throw err;
    return { statements: [], problems: [{ file: m.file, ...(await syntaxProblem(m.sql, err)) }] };
  }
  const index = new TextIndex(m.sql);
  const headerLines = readHeader(m.sql).lines;
  for (const comment of comments(m.sql, statements)) {
    const problem = directiveProblem(headerLines, comment, index);
    if (problem) problems.push({ file: m.file, ...index.lineColumn(comment.start), problem });
  }
  if (statements.length === 0)
    problems.push({
      file: m.file,
      problem:
        'has no SQL statement (it is empty, or only whitespace and comments): a migration that does nothing is probably a mistake; write its statements, or delete the file if it never ran anywhere',
    });
  const selfManaged = m.ownTransactions === true && statements.some((st) => st.controlsTransaction);
  for (const st of statements) {
    const problem = selfManaged ? selfManagedProblem(st) : statementProblem(m, st);
    if (problem) problems.push({ file: m.file, line: st.line, column: st.column, problem });
  }
  return selfManaged ? { statements, problems, selfManaged } : { statements, problems };
}

/**
 * In a file that runs its own transactions (as Prisma runs a file: one script to the server), only what cannot run
 * in that script: a statement that needs to run outside any transaction block fails in a multi-statement script.
 */
function selfManagedProblem(st: ParsedStatement): string | undefined {
  if (st.unsupported) return st.unsupported;
  if (st.needsNoTransaction)
    return `${st.needsNoTransaction} cannot run in a multi-statement script, which is how this file runs (as its tool runs it): give it a migration of its own`;
  return undefined;
}

/** What is wrong with a statement where it stands, if anything. */
function statementProblem(m: MigrationText, st: ParsedStatement): string | undefined {
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

/**
 * A syntax error, named for what it usually is in a file written for psql or by pg_dump: a psql meta-command
 * (`\connect`, `\set`, pg_dump's `\restrict`), or the data pg_dump writes after `COPY … FROM stdin;`.
 */
async function syntaxProblem(
  sql: string,
  err: SqlSyntaxError,
): Promise<{ line: number; column: number; problem: string }> {
  const index = new TextIndex(sql);
  const copy = await copyBefore(sql, err.index);
  if (copy)
    return {
      line: copy.line,
      column: copy.column,
      problem:
        'COPY … FROM STDIN with the data after it (as pg_dump writes it) is not supported: lockstep sends a file to the server, which cannot read the data from it; use INSERT (pg_dump --inserts), or COPY FROM a server file',
    };
  const meta = /^\\[^\s\\]*/.exec(sql.slice(err.index, err.index + 100))?.[0];
  if (meta)
    return {
      ...index.lineColumn(err.index),
      problem: `psql meta-command ${meta} is not SQL: lockstep runs files with the server, not psql (remove it)`,
    };
  return { ...index.lineColumn(err.index), problem: `syntax error: ${err.message}` };
}

/** The COPY … FROM STDIN that ends just before the line of `errorIndex`, if one does: its data is the error. */
async function copyBefore(sql: string, errorIndex: number): Promise<ParsedStatement | undefined> {
  const lineStart = sql.lastIndexOf('\n', errorIndex - 1) + 1;
  if (!/;\s*$/.test(sql.slice(Math.max(0, lineStart - 20), lineStart))) return undefined;
  try {
    const before = await splitStatements(sql.slice(0, lineStart));
    const last = before.at(-1);
    return last?.kind === 'CopyStmt' && last.unsupported ? last : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The comments before, between and after statements. (Comments inside a statement are not read: a directive there
 * would be as odd as a directive anywhere but the first line, and reading them needs PostgreSQL's lexer.)
 */
function comments(sql: string, statements: readonly ParsedStatement[]): SqlComment[] {
  const found: SqlComment[] = [];
  const onComment = (c: SqlComment) => found.push(c);
  let from = 0;
  for (const st of statements) {
    skipTrivia(sql, from, st.start, { semicolons: true, onComment });
    from = st.start + st.text.length;
  }
  skipTrivia(sql, from, sql.length, { semicolons: true, onComment });
  return found;
}

/** A comment that means to be a lockstep directive: `lockstep:` after the comment marker, or a near miss of one. */
const LOOKS_LIKE_DIRECTIVE =
  /^(--|\/\*)\s*lockstep\s*:|^(--|\/\*)\s*lockstep[\s_-]*(no[\s_-]*transaction|after[\s_-]*deploy)/i;

/**
 * Whether a comment is a directive lockstep would ignore: misplaced, misspelled or unknown. The file's directives
 * are its first `headerLines` lines (./directives.ts).
 */
function directiveProblem(headerLines: number, comment: SqlComment, index: TextIndex): string | undefined {
  if (!LOOKS_LIKE_DIRECTIVE.test(comment.text)) return undefined;
  // The lint's suppression (./lint/suppressions.ts), above any statement; the lint checks its rule and reason.
  if (ALLOW_DIRECTIVE.test(comment.text)) return undefined;
  // The rollback's declaration (./lint/compatibility.ts), anywhere between statements; its reason is the point.
  const declared = BACKWARD_COMPATIBLE_DIRECTIVE.exec(comment.text);
  if (declared)
    return declared[1]?.trim()
      ? undefined
      : '-- lockstep:backward-compatible needs a reason after it (why the app version before this migration works after it): without one it declares nothing';
  const { line } = index.lineColumn(comment.start);
  if (line <= headerLines) return undefined;
  // Right below the directives (or on line 1), yet not one of them: indented, most likely.
  const atTop = line === headerLines + 1;
  if (NO_TRANSACTION_DIRECTIVE.test(comment.text))
    return atTop
      ? '-- lockstep:no-transaction counts only as a whole line at the top of the file, from its first character: as it is, the file would run in one transaction'
      : `-- lockstep:no-transaction counts only at the top of the file (its first lines, with -- lockstep:after-deploy); here on line ${line} it would be ignored and the file run in one transaction: move it to line 1`;
  if (AFTER_DEPLOY_DIRECTIVE.test(comment.text))
    return atTop
      ? '-- lockstep:after-deploy counts only as a whole line at the top of the file, from its first character: as it is, the file would run before the deploy'
      : `-- lockstep:after-deploy counts only at the top of the file (its first lines, with -- lockstep:no-transaction); here on line ${line} it would be ignored and the file run before the deploy: move it to line 1`;
  return `${JSON.stringify(comment.text.slice(0, 60))} is not a lockstep directive: the only ones are "-- lockstep:no-transaction" and "-- lockstep:after-deploy", exactly so, as whole lines at the top of the file, "-- lockstep:allow <rule> <reason>" above a statement, and "-- lockstep:backward-compatible <reason>"`;
}
