/**
 * SQL text handling: statement boundaries come from PostgreSQL's own parser (libpg-query, compiled to
 * WebAssembly), so dollar quotes, nested comments, E'' strings, quoted identifiers and BEGIN ATOMIC
 * bodies split exactly as the server would split them. The parser is loaded on first use only: a run
 * with nothing pending never pays for it.
 */
import { setFlagsFromString } from 'node:v8';

export interface Statement {
  /** The statement's text, without the terminating semicolon. */
  readonly text: string;
  /** UTF-16 index of its first character in the file. */
  readonly start: number;
  /** 1-based line and column of its first character. */
  readonly line: number;
  readonly column: number;
  /** The parse-tree node type, e.g. `IndexStmt`, `TransactionStmt`. */
  readonly kind: string;
  /** Why the statement cannot run inside a transaction block, if it cannot. */
  readonly needsNoTransaction: string | undefined;
  /** Why the statement must not appear in a migration lockstep wraps in a transaction, if so. */
  readonly controlsTransaction: string | undefined;
}

export class SqlSyntaxError extends Error {
  constructor(
    message: string,
    /** UTF-16 index in the text. */
    readonly index: number,
  ) {
    super(message);
    this.name = 'SqlSyntaxError';
  }
}

type Parser = typeof import('libpg-query');
let parser: Promise<Parser> | undefined;
function loadParser(): Promise<Parser> {
  // V8's optimising WebAssembly tier recompiles the parser's 1.7 MB module in the background, and an exiting
  // process waits for it: 0.1–0.2 s more per run than the baseline tier alone (bench/RESULTS.md).
  // Set before the module is compiled; it affects only WebAssembly compiled later, and this is the process's only
  // module.
  parser ??= (async () => {
    setFlagsFromString('--liftoff-only');
    const mod = await import('libpg-query');
    await mod.loadModule();
    return mod;
  })();
  return parser;
}

const FORBIDDEN_TRANSACTION_KINDS: Record<string, string> = {
  TRANS_STMT_BEGIN: 'BEGIN',
  TRANS_STMT_START: 'START TRANSACTION',
  TRANS_STMT_COMMIT: 'COMMIT',
  TRANS_STMT_ROLLBACK: 'ROLLBACK',
  TRANS_STMT_PREPARE: 'PREPARE TRANSACTION',
  TRANS_STMT_COMMIT_PREPARED: 'COMMIT PREPARED',
  TRANS_STMT_ROLLBACK_PREPARED: 'ROLLBACK PREPARED',
};

function classify(
  node: Record<string, unknown>,
): Pick<Statement, 'kind' | 'needsNoTransaction' | 'controlsTransaction'> {
  const [kind, body] = Object.entries(node)[0] ?? ['Unknown', {}];
  const fields = (body ?? {}) as Record<string, unknown>;
  let needsNoTransaction: string | undefined;
  let controlsTransaction: string | undefined;
  if (kind === 'TransactionStmt') {
    controlsTransaction = FORBIDDEN_TRANSACTION_KINDS[String(fields.kind)];
  } else if (kind === 'IndexStmt' && fields.concurrent) {
    needsNoTransaction = 'CREATE INDEX CONCURRENTLY';
  } else if (kind === 'DropStmt' && fields.concurrent) {
    needsNoTransaction = 'DROP INDEX CONCURRENTLY';
  } else if (
    kind === 'ReindexStmt' &&
    Array.isArray(fields.params) &&
    fields.params.some((p) => (p as { DefElem?: { defname?: string } }).DefElem?.defname === 'concurrently')
  ) {
    needsNoTransaction = 'REINDEX CONCURRENTLY';
  } else if (kind === 'VacuumStmt') {
    needsNoTransaction = fields.is_vacuumcmd ? 'VACUUM' : undefined;
  } else if (kind === 'CreatedbStmt' || kind === 'DropdbStmt') {
    needsNoTransaction = kind === 'CreatedbStmt' ? 'CREATE DATABASE' : 'DROP DATABASE';
  } else if (kind === 'AlterSystemStmt') {
    needsNoTransaction = 'ALTER SYSTEM';
  }
  return { kind, needsNoTransaction, controlsTransaction };
}

/** Splits SQL into statements with PostgreSQL's parser. Throws {@link SqlSyntaxError} on invalid SQL. */
export async function splitStatements(sql: string): Promise<Statement[]> {
  const pg = await loadParser();
  const index = new TextIndex(sql);
  let result: ReturnType<Parser['parseSync']>;
  try {
    result = pg.parseSync(sql);
  } catch (err) {
    const details = (err as { sqlDetails?: { message?: string; cursorPosition?: number } }).sqlDetails;
    // libpg-query reports the error's position as a 0-based count of characters (code points), as PostgreSQL's
    // errposition does, unlike stmt_location and stmt_len, which count UTF-8 bytes.
    const charPos = Math.max(0, details?.cursorPosition ?? 0);
    throw new SqlSyntaxError(details?.message ?? String(err), index.fromCharOffset(charPos));
  }
  const statements: Statement[] = [];
  for (const raw of result.stmts ?? []) {
    const byteStart = raw.stmt_location ?? 0;
    const byteLen = raw.stmt_len ?? 0;
    const start = index.fromByteOffset(byteStart);
    const end = byteLen > 0 ? index.fromByteOffset(byteStart + byteLen) : sql.length;
    // The parser's location includes leading whitespace and comments after the previous semicolon.
    const leading = leadingTrivia(sql, start, end);
    const { line, column } = index.lineColumn(start + leading);
    statements.push({
      text: sql.slice(start + leading, end).trimEnd(),
      start: start + leading,
      line,
      column,
      ...classify((raw.stmt ?? {}) as Record<string, unknown>),
    });
  }
  return statements;
}

/** Length of whitespace and comments at `from`, stopping before `to`. */
function leadingTrivia(sql: string, from: number, to: number): number {
  let i = from;
  while (i < to) {
    const ch = sql[i];
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\f') {
      i++;
    } else if (ch === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl === -1 ? to : nl + 1;
    } else if (ch === '/' && sql[i + 1] === '*') {
      let depth = 1;
      i += 2;
      while (i < to && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
    } else break;
  }
  return Math.min(i, to) - from;
}

/** Converts between the offsets PostgreSQL reports (bytes, characters) and UTF-16 indexes, lines and columns. */
export class TextIndex {
  private lineStarts: number[] | undefined;
  constructor(private readonly text: string) {}

  /** UTF-16 index of a UTF-8 byte offset. */
  fromByteOffset(byteOffset: number): number {
    let bytes = 0;
    let i = 0;
    while (i < this.text.length && bytes < byteOffset) {
      const cp = this.text.codePointAt(i) as number;
      bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      i += cp > 0xffff ? 2 : 1;
    }
    return i;
  }

  /** UTF-16 index of a 0-based character (code point) offset, as PostgreSQL counts error positions. */
  fromCharOffset(charOffset: number): number {
    let chars = 0;
    let i = 0;
    while (i < this.text.length && chars < charOffset) {
      i += (this.text.codePointAt(i) as number) > 0xffff ? 2 : 1;
      chars++;
    }
    return i;
  }

  /** 1-based line and column (in characters) of a UTF-16 index. */
  lineColumn(index: number): { line: number; column: number } {
    if (!this.lineStarts) {
      this.lineStarts = [0];
      for (let i = 0; i < this.text.length; i++) if (this.text[i] === '\n') this.lineStarts.push(i + 1);
    }
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.lineStarts[mid] as number) <= index) lo = mid;
      else hi = mid - 1;
    }
    const lineStart = this.lineStarts[lo] as number;
    return { line: lo + 1, column: [...this.text.slice(lineStart, index)].length + 1 };
  }
}

/** The first lines of a statement, for error messages. */
export function excerpt(statement: string, maxChars = 240): string {
  const oneLine = statement.replace(/\s+/g, ' ').trim();
  return oneLine.length <= maxChars ? oneLine : `${oneLine.slice(0, maxChars - 1)}…`;
}
