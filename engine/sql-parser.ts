/**
 * Statement boundaries from PostgreSQL's own parser (libpg-query, compiled to WebAssembly), so dollar quotes, nested
 * comments, E'' strings, quoted identifiers and BEGIN ATOMIC bodies split exactly as the server would split them. The
 * parser is loaded on first use only: a run with nothing pending never pays for it. The engine sets no V8 flags: which
 * WebAssembly tiers compile the parser is the process's choice, made in {@link beforeParserLoads} (the CLI's entry
 * makes one, cli/parser-tier.ts).
 *
 * Only what validates migrations imports this module (the CLI, `lockstep publish`, the synth): the migrate function
 * runs statements split ahead of time and never loads it.
 */
import { type Statement, skipTrivia, TextIndex } from './sql-text.ts';

/** A statement as the parser found it: where it is, and what lockstep's rules need to know about it. */
export interface ParsedStatement extends Statement {
  /** The parse-tree node type, e.g. `IndexStmt`, `TransactionStmt`. */
  readonly kind: string;
  /** Why the statement cannot run inside a transaction block, if it cannot. */
  readonly needsNoTransaction: string | undefined;
  /** The transaction control it is (`BEGIN`, `COMMIT`, `SET TRANSACTION`…), which no migration may contain. */
  readonly controlsTransaction: string | undefined;
  /** The statement that fails or does nothing outside a transaction block (`SAVEPOINT`, `SET LOCAL`…), if it is one. */
  readonly needsTransaction: string | undefined;
  /** Why lockstep cannot run the statement at all, if it cannot. */
  readonly unsupported: string | undefined;
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
let beforeLoad: () => void = () => {};

/** `hook` runs once, just before the parser's WebAssembly module loads and compiles, if it ever does. */
export function beforeParserLoads(hook: () => void): void {
  beforeLoad = hook;
}

function loadParser(): Promise<Parser> {
  parser ??= (async () => {
    beforeLoad();
    // In a CommonJS bundle (the CLI's), its CommonJS entry: bin/code-cache.cjs runs that bundle from V8's code cache,
    // where Node 20 has no import().
    const mod: Parser = typeof require === 'function' ? require('libpg-query') : await import('libpg-query');
    await mod.loadModule();
    return mod;
  })();
  return parser;
}

/**
 * The parse tree of one statement (libpg-query's JSON, the statement's node such as `{ "AlterTableStmt": {...} }`), for
 * the lint (./lint/lint-file.ts). `text` is one statement as {@link splitStatements} found it.
 */
export async function parseTree(text: string): Promise<unknown> {
  const pg = await loadParser();
  return pg.parseSync(text).stmts?.[0]?.stmt;
}

const TRANSACTION_CONTROL: Record<string, string> = {
  TRANS_STMT_BEGIN: 'BEGIN',
  TRANS_STMT_START: 'START TRANSACTION',
  TRANS_STMT_COMMIT: 'COMMIT',
  TRANS_STMT_ROLLBACK: 'ROLLBACK',
  TRANS_STMT_PREPARE: 'PREPARE TRANSACTION',
  TRANS_STMT_COMMIT_PREPARED: 'COMMIT PREPARED',
  TRANS_STMT_ROLLBACK_PREPARED: 'ROLLBACK PREPARED',
};
/** Transaction statements that are fine inside a transaction and fail outside one. */
const SAVEPOINTS: Record<string, string> = {
  TRANS_STMT_SAVEPOINT: 'SAVEPOINT',
  TRANS_STMT_RELEASE: 'RELEASE SAVEPOINT',
  TRANS_STMT_ROLLBACK_TO: 'ROLLBACK TO SAVEPOINT',
};
/** DeclareCursorStmt's options bit for WITH HOLD (CURSOR_OPT_HOLD). */
const CURSOR_OPT_HOLD = 0x20;

type Classification = Pick<
  ParsedStatement,
  'kind' | 'needsNoTransaction' | 'controlsTransaction' | 'needsTransaction' | 'unsupported'
>;

function classify(node: Record<string, unknown>): Classification {
  const [kind, body] = Object.entries(node)[0] ?? ['Unknown', {}];
  const fields = (body ?? {}) as Record<string, unknown>;
  const c: { -readonly [K in keyof Classification]: Classification[K] } = {
    kind,
    needsNoTransaction: undefined,
    controlsTransaction: undefined,
    needsTransaction: undefined,
    unsupported: undefined,
  };
  if (kind === 'TransactionStmt') {
    c.controlsTransaction = TRANSACTION_CONTROL[String(fields.kind)];
    c.needsTransaction = SAVEPOINTS[String(fields.kind)];
  } else if (kind === 'VariableSetStmt' && fields.name === 'TRANSACTION') {
    c.controlsTransaction = 'SET TRANSACTION';
  } else if (kind === 'VariableSetStmt' && fields.is_local) {
    c.needsTransaction = 'SET LOCAL';
  } else if (kind === 'ConstraintsSetStmt') {
    c.needsTransaction = 'SET CONSTRAINTS';
  } else if (kind === 'LockStmt') {
    c.needsTransaction = 'LOCK TABLE';
  } else if (kind === 'DeclareCursorStmt' && !(Number(fields.options) & CURSOR_OPT_HOLD)) {
    c.needsTransaction = 'DECLARE CURSOR without WITH HOLD';
  } else if (kind === 'CopyStmt' && fields.is_from && fields.filename === undefined) {
    c.unsupported =
      'COPY … FROM STDIN needs data from the client, which a migration file cannot send: use INSERT, or COPY FROM a server file';
  } else if (kind === 'IndexStmt' && fields.concurrent) {
    c.needsNoTransaction = 'CREATE INDEX CONCURRENTLY';
  } else if (kind === 'DropStmt' && fields.concurrent) {
    c.needsNoTransaction = 'DROP INDEX CONCURRENTLY';
  } else if (
    kind === 'ReindexStmt' &&
    Array.isArray(fields.params) &&
    fields.params.some((p) => (p as { DefElem?: { defname?: string } }).DefElem?.defname === 'concurrently')
  ) {
    c.needsNoTransaction = 'REINDEX CONCURRENTLY';
  } else if (kind === 'VacuumStmt') {
    c.needsNoTransaction = fields.is_vacuumcmd ? 'VACUUM' : undefined;
  } else if (kind === 'CreatedbStmt' || kind === 'DropdbStmt') {
    c.needsNoTransaction = kind === 'CreatedbStmt' ? 'CREATE DATABASE' : 'DROP DATABASE';
  } else if (kind === 'AlterSystemStmt') {
    c.needsNoTransaction = 'ALTER SYSTEM';
  }
  return c;
}

/**
 * How much text one parser call takes, in UTF-16 units. The parser is synchronous: between calls the event loop runs,
 * so a signal (SIGTERM) is handled within one call's time, and the parse tree held at once stays small (bench: "one
 * large file").
 */
const CHUNK = 128 * 1024;
/** Shorter cuts tried in a chunk that did not parse before it is doubled. */
const RETRIES = 8;

type RawStatement = NonNullable<ReturnType<Parser['parseSync']>['stmts']>[number];

/**
 * Splits SQL into statements with PostgreSQL's parser. Throws {@link SqlSyntaxError} on invalid SQL.
 *
 * The text goes to the parser in chunks, so the work is linear in the file's size and the process stays responsive.
 * A chunk starts right after a statement's semicolon, where the parser is in the same state as at the start of a
 * file, and is cut after a semicolon that ends a line. A statement the chunk's parse ends with a semicolon is
 * final: the parser decided it at that semicolon, from the same text before it as in the whole file. A statement the
 * cut left without its semicolon is parsed again at the start of the next chunk. A chunk that does not parse was
 * probably cut inside something (a dollar-quoted body, a multi-line string): it is cut again before the error, a few
 * times, then doubled. Only a chunk that reaches the end of the text reports a syntax error; the parser stops at the
 * first error, so the retries before it cost little.
 */
export async function splitStatements(sql: string): Promise<ParsedStatement[]> {
  const pg = await loadParser();
  const index = new TextIndex(sql);
  const statements: ParsedStatement[] = [];
  let from = 0;
  let size = CHUNK;
  while (from < sql.length) {
    const window = Math.min(sql.length, from + size);
    let cut =
      window === sql.length ? window : lineEndingSemicolon(sql, from, window) || surrogateSafe(sql, window);
    let raws: RawStatement[] | undefined;
    for (let attempt = 0; attempt <= RETRIES && raws === undefined; attempt++) {
      try {
        raws = pg.parseSync(sql.slice(from, cut)).stmts ?? [];
      } catch (err) {
        const details = (err as { sqlDetails?: { message?: string; cursorPosition?: number } }).sqlDetails;
        // libpg-query reports the error's position as a 0-based count of characters (code points), as PostgreSQL's
        // errposition does, unlike stmt_location and stmt_len, which count UTF-8 bytes.
        const at = index.fromCharOffset(index.charOffset(from) + Math.max(0, details?.cursorPosition ?? 0));
        if (cut === sql.length) throw new SqlSyntaxError(details?.message ?? String(err), at);
        const shorter = lineEndingSemicolon(sql, from, Math.min(at, cut - 1));
        if (shorter === 0) break;
        cut = shorter;
      }
    }
    const fromByte = index.byteOffset(from);
    // Every statement but the last ends at a semicolon; the last one does if stmt_len is set.
    const final = raws?.filter(
      (raw, i) => cut === sql.length || i < raws.length - 1 || (raw.stmt_len ?? 0) > 0,
    );
    if (!final || (final.length === 0 && cut < sql.length)) {
      size *= 2;
      await nextTurn();
      continue;
    }
    for (const raw of final) {
      const byteStart = fromByte + (raw.stmt_location ?? 0);
      const byteLen = raw.stmt_len ?? 0;
      const start = index.fromByteOffset(byteStart);
      const end = byteLen > 0 ? index.fromByteOffset(byteStart + byteLen) : cut;
      // The parser's location includes leading whitespace and comments after the previous semicolon.
      const leading = skipTrivia(sql, start, end) - start;
      const { line, column } = index.lineColumn(start + leading);
      statements.push({
        text: trimEndWhitespace(sql.slice(start + leading, end)),
        start: start + leading,
        line,
        column,
        ...classify((raw.stmt ?? {}) as Record<string, unknown>),
      });
    }
    const lastFinal = final.at(-1);
    if (cut === sql.length || !lastFinal) break;
    // Past the semicolon (one byte) that ends the last final statement.
    from = index.fromByteOffset(fromByte + (lastFinal.stmt_location ?? 0) + (lastFinal.stmt_len ?? 0) + 1);
    size = CHUNK;
    await nextTurn();
  }
  return statements;
}

/** Just past the last `;` before `to` (and after `from`) that ends a line; 0 if there is none. */
function lineEndingSemicolon(sql: string, from: number, to: number): number {
  for (let nl = sql.lastIndexOf('\n', to - 1); nl > from; nl = sql.lastIndexOf('\n', nl - 1)) {
    let i = nl - 1;
    while (i > from && (sql[i] === '\r' || sql[i] === ' ' || sql[i] === '\t')) i--;
    if (sql[i] === ';' && i >= from) return i + 1;
  }
  return 0;
}

/** `to`, or one more if it would separate the halves of a surrogate pair. */
function surrogateSafe(sql: string, to: number): number {
  const code = sql.charCodeAt(to - 1);
  return code >= 0xd800 && code <= 0xdbff ? to + 1 : to;
}

/** Without the whitespace PostgreSQL skips at its end (not all that `trimEnd` removes: a no-break space is not). */
function trimEndWhitespace(text: string): string {
  let end = text.length;
  while (end > 0 && ' \t\n\r\f\v'.includes(text[end - 1] as string)) end--;
  return end === text.length ? text : text.slice(0, end);
}

/** Lets the event loop run (signals, timers, I/O) between parser calls. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
