/**
 * SQL text without a parser: statement positions, the whitespace and comments between statements, and conversions
 * between the offsets PostgreSQL reports (UTF-8 bytes, characters), UTF-16 indexes, lines and columns. Splitting a
 * file into statements is ./sql-parser.ts (PostgreSQL's own parser); what runs a migration needs only this module,
 * so the migrate function, which receives its statements split, never loads the parser.
 */

/** One statement of a migration file: where it is and what it says. */
export interface Statement {
  /** The statement's text, without the terminating semicolon. */
  readonly text: string;
  /** UTF-16 index of its first character in the file. */
  readonly start: number;
  /** 1-based line and column of its first character. */
  readonly line: number;
  readonly column: number;
}

/** A comment between statements. */
export interface SqlComment {
  /** UTF-16 index of its first character. */
  readonly start: number;
  /** From `--` to the end of the line, or from `/*` to its end. */
  readonly text: string;
}

/**
 * Scans whitespace (PostgreSQL's: space, tab, newline, carriage return, form feed, vertical tab) and comments (and semicolons, with `semicolons`) from `from`, stopping before `to`; reports each
 * comment to `onComment`. Returns where the scan stopped: the start of the next statement, or `to`.
 */
export function skipTrivia(
  sql: string,
  from: number,
  to: number,
  options: { readonly semicolons?: boolean; readonly onComment?: (comment: SqlComment) => void } = {},
): number {
  let i = from;
  while (i < to) {
    const ch = sql[i];
    if (
      ch === ' ' ||
      ch === '\t' ||
      ch === '\n' ||
      ch === '\r' ||
      ch === '\f' ||
      ch === '\v' ||
      (options.semicolons && ch === ';')
    ) {
      i++;
    } else if (ch === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      const end = nl === -1 || nl > to ? to : nl;
      options.onComment?.({ start: i, text: sql.slice(i, end).trimEnd() });
      i = end;
    } else if (ch === '/' && sql[i + 1] === '*') {
      const start = i;
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
      options.onComment?.({ start, text: sql.slice(start, i) });
    } else break;
  }
  return Math.min(i, to);
}

const HIGH_SURROGATE = /[\uD800-\uDBFF]/;

/** Code points in a string, as PostgreSQL counts characters (a UTF-8 database); without copying it. */
export function codePointLength(text: string): number {
  // Without a high surrogate there is no pair: one native scan instead of a loop over every character (the runner
  // measures each migration's script this way, twice).
  if (!HIGH_SURROGATE.test(text)) return text.length;
  let pairs = 0;
  for (let i = 0; i < text.length - 1; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        pairs++;
        i++;
      }
    }
  }
  return text.length - pairs;
}

/** UTF-16 units between checkpoints: a conversion reads at most this much text after a binary search. */
const STEP = 512;
const ASCII_ONLY = /^[\0-\x7f]*$/;

/**
 * Converts between the offsets PostgreSQL reports (UTF-8 bytes, characters), UTF-16 indexes, lines and columns.
 * Every conversion costs O(log n) plus a bounded scan, so converting every statement of a file is linear in its size:
 * a pure-ASCII text needs no table, other text gets one checkpoint per {@link STEP} units, built on first use.
 */
export class TextIndex {
  private lineStarts: number[] | undefined;
  private readonly ascii: boolean;
  /** Per checkpoint: its UTF-16 index, and the UTF-8 bytes and code points before it. */
  private units: number[] = [];
  private bytes: number[] = [];
  private chars: number[] = [];

  constructor(private readonly text: string) {
    this.ascii = ASCII_ONLY.test(text);
  }

  /** UTF-16 index of a UTF-8 byte offset (the end of the character it falls inside). */
  fromByteOffset(byteOffset: number): number {
    if (this.ascii) return clamp(byteOffset, this.text.length);
    return this.scan(this.checkpoint(this.bytes, byteOffset), (_, bytes) => bytes >= byteOffset).index;
  }

  /** UTF-16 index of a 0-based character (code point) offset, as PostgreSQL counts error positions. */
  fromCharOffset(charOffset: number): number {
    if (this.ascii) return clamp(charOffset, this.text.length);
    return this.scan(this.checkpoint(this.chars, charOffset), (_, __, chars) => chars >= charOffset).index;
  }

  /** UTF-8 bytes before a UTF-16 index. */
  byteOffset(index: number): number {
    if (this.ascii) return clamp(index, this.text.length);
    return this.scan(this.checkpoint(this.units, index), (i) => i >= index).bytes;
  }

  /** Characters (code points) before a UTF-16 index. */
  charOffset(index: number): number {
    if (this.ascii) return clamp(index, this.text.length);
    return this.scan(this.checkpoint(this.units, index), (i) => i >= index).chars;
  }

  /** 1-based line and column (in characters) of a UTF-16 index. */
  lineColumn(index: number): { line: number; column: number } {
    if (!this.lineStarts) {
      this.lineStarts = [0];
      for (let i = this.text.indexOf('\n'); i !== -1; i = this.text.indexOf('\n', i + 1))
        this.lineStarts.push(i + 1);
    }
    const lo = lastAtMost(this.lineStarts, index);
    const lineStart = this.lineStarts[lo] as number;
    return { line: lo + 1, column: this.charOffset(index) - this.charOffset(lineStart) + 1 };
  }

  /** The last checkpoint at or before `value` in `measure` (one of the three tables), built on first use. */
  private checkpoint(measure: readonly number[], value: number): number {
    if (this.units.length === 0) {
      const { text } = this;
      let bytes = 0;
      let chars = 0;
      let next = 0;
      for (let i = 0; i < text.length; chars++) {
        if (i >= next) {
          this.units.push(i);
          this.bytes.push(bytes);
          this.chars.push(chars);
          next = i + STEP;
        }
        const cp = text.codePointAt(i) as number;
        bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        i += cp > 0xffff ? 2 : 1;
      }
    }
    return lastAtMost(measure, value);
  }

  /** Walks code points from checkpoint `k` until `done` or the end of the text. */
  private scan(
    k: number,
    done: (index: number, bytes: number, chars: number) => boolean,
  ): { index: number; bytes: number; chars: number } {
    let i = this.units[k] as number;
    let bytes = this.bytes[k] as number;
    let chars = this.chars[k] as number;
    while (i < this.text.length && !done(i, bytes, chars)) {
      const cp = this.text.codePointAt(i) as number;
      bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      i += cp > 0xffff ? 2 : 1;
      chars++;
    }
    return { index: i, bytes, chars };
  }
}

const clamp = (n: number, max: number) => Math.max(0, Math.min(n, max));

/** Index of the last element of an ascending array that is ≤ value (0 if none is). */
function lastAtMost(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((sorted[mid] as number) <= value) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The first lines of a statement, for error messages. */
export function excerpt(statement: string, maxChars = 240): string {
  const oneLine = statement.replace(/\s+/g, ' ').trim();
  return oneLine.length <= maxChars ? oneLine : `${oneLine.slice(0, maxChars - 1)}…`;
}
