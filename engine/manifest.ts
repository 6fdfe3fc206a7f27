/**
 * The manifest that travels with migrations checked ahead of the run: written by `lockstep publish` (S3) and by the
 * synth (migrations bundled into the migrate function), both through ./prepare.ts, which validates every file with
 * PostgreSQL's parser first. For every file it records its bytes' sha256 and size, the checksum the history table will
 * hold, the no-transaction directive, and where each of its statements starts and ends. The migrate function runs from
 * it without a parser: it checks that the files are exactly the ones listed, that what each entry says about a file is
 * what the file says (checksum, directive), and that the statements cover the file's SQL; anything else is a mismatch.
 */
import { createHash } from 'node:crypto';
import type { FileLint } from './lint/finding.ts';
import {
  type FileAnalysis,
  type MigrationFile,
  type MigrationText,
  readMigrationFiles,
} from './migration.ts';
import { type Statement, skipTrivia, TextIndex } from './sql-text.ts';

export const MANIFEST_FILE = 'manifest.json';
const FORMAT = 'lockstep-migrations/2';
/** Published by lockstep before statements were split at publish: names and sha256 only. */
const FORMAT_WITHOUT_STATEMENTS = 'lockstep-migrations/1';

export interface ManifestEntry {
  readonly name: string;
  /** sha256 of the file's bytes, hex. */
  readonly sha256: string;
  readonly bytes: number;
  /** What the history table records for the file (./checksum.ts), so a run records what the CLI would. */
  readonly checksum: string;
  /** The file's first line is `-- lockstep:no-transaction`. */
  readonly noTransaction: boolean;
  /**
   * Each statement's `[start, end)`, in file order: UTF-16 indexes into the file's text (decoded as UTF-8, a leading
   * byte-order mark dropped), end before the semicolon and the whitespace before it.
   */
  readonly statements: ReadonlyArray<readonly [start: number, end: number]>;
  /**
   * The migration lint of the file on its own (engine/lint/lint-file.ts): findings, what it creates, what it locks. The
   * migrate function's plan step puts the pending files' lints in release order and reads the live database, without
   * a parser. Absent from manifests written before the lint.
   */
  readonly lint?: FileLint;
}

export interface Manifest {
  readonly format: typeof FORMAT;
  /** The release label it was published under; a manifest made at synth has none. */
  readonly release?: string;
  readonly createdAt?: string;
  readonly files: readonly ManifestEntry[];
}

/** A manifest `lockstep publish` wrote: it names its release. */
export type PublishedManifest = Manifest & { readonly release: string; readonly createdAt: string };

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** The entry for one checked file. */
export function manifestEntry(
  bytes: Uint8Array,
  migration: MigrationText,
  statements: readonly Statement[],
  lint?: FileLint,
): ManifestEntry {
  return {
    name: migration.file,
    sha256: sha256(bytes),
    bytes: bytes.length,
    checksum: migration.checksum,
    noTransaction: migration.noTransaction,
    statements: statements.map((st) => [st.start, st.start + st.text.length] as const),
    ...(lint ? { lint } : {}),
  };
}

/** A lint as the manifest must hold one: its three lists (their entries are the lint's own, read as data). */
const isFileLint = (l: unknown): l is FileLint =>
  typeof l === 'object' &&
  l !== null &&
  Array.isArray((l as FileLint).findings) &&
  Array.isArray((l as FileLint).events) &&
  Array.isArray((l as FileLint).locks);

export interface Publication {
  readonly release: string;
  readonly createdAt: Date;
}

/** A manifest of checked files, in name order. */
export function createManifest(entries: readonly ManifestEntry[]): Manifest;
export function createManifest(entries: readonly ManifestEntry[], published: Publication): PublishedManifest;
export function createManifest(entries: readonly ManifestEntry[], published?: Publication): Manifest {
  return {
    format: FORMAT,
    ...(published ? { release: published.release, createdAt: published.createdAt.toISOString() } : {}),
    files: [...entries].sort((a, b) => a.name.localeCompare(b.name)),
  };
}

/** A `[start, end)` pair of integers, as a manifest (or a kept analysis, ./analysis-cache.ts) records a statement. */
export const isSpan = (s: unknown): s is readonly [number, number] =>
  Array.isArray(s) && s.length === 2 && Number.isSafeInteger(s[0]) && Number.isSafeInteger(s[1]);

/** Parses a manifest, or returns the problems that make it unusable. */
export function parseManifest(text: string): { manifest?: Manifest; problems: string[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { problems: ['manifest.json is not JSON'] };
  }
  const m = raw as Partial<Manifest> | null;
  if ((m?.format as string) === FORMAT_WITHOUT_STATEMENTS)
    return {
      problems: [
        `manifest.json was written by an earlier lockstep (format "${FORMAT_WITHOUT_STATEMENTS}"), without the statements the migrate function runs: publish the release again with this lockstep (the same files are accepted under the same label)`,
      ],
    };
  if (m?.format !== FORMAT) return { problems: [`manifest.json: format must be "${FORMAT}"`] };
  const valid =
    (m.release === undefined || typeof m.release === 'string') &&
    Array.isArray(m.files) &&
    m.files.every(
      (f) =>
        typeof f?.name === 'string' &&
        /^[^/\\]+\.sql$/.test(f.name) &&
        typeof f.sha256 === 'string' &&
        /^[0-9a-f]{64}$/.test(f.sha256) &&
        Number.isInteger(f.bytes) &&
        typeof f.checksum === 'string' &&
        typeof f.noTransaction === 'boolean' &&
        Array.isArray(f.statements) &&
        f.statements.every(isSpan) &&
        (f.lint === undefined || isFileLint(f.lint)),
    );
  return valid
    ? { manifest: m as Manifest, problems: [] }
    : { problems: ['manifest.json: malformed file list'] };
}

/** Compares files with the manifest: missing, extra and altered files are problems, by name. */
export function verifyAgainstManifest(
  manifest: Pick<Manifest, 'files'>,
  files: ReadonlyArray<readonly [name: string, bytes: Buffer]>,
): string[] {
  const problems: string[] = [];
  const present = new Map(files);
  for (const entry of manifest.files) {
    const bytes = present.get(entry.name);
    if (!bytes) problems.push(`${entry.name}: listed in the manifest but missing`);
    else if (sha256(bytes) !== entry.sha256) problems.push(`${entry.name}: sha256 differs from the manifest`);
    present.delete(entry.name);
  }
  for (const name of present.keys()) problems.push(`${name}: present but not in the manifest`);
  return problems;
}

/**
 * The migrations a manifest describes, from their files, without parsing any SQL; or the problems that make the files
 * and the manifest disagree. Each file's statements are the manifest's split, checked to cover the file's SQL: between
 * and around them there is only whitespace, comments and semicolons.
 */
export function migrationsFromManifest(
  manifest: Manifest,
  files: ReadonlyArray<readonly [name: string, bytes: Buffer]>,
): { migrations?: MigrationFile[]; problems: string[] } {
  const problems = verifyAgainstManifest(manifest, files);
  if (problems.length > 0) return { problems };
  const entries = new Map(manifest.files.map((e) => [e.name, e]));
  const statementsOf = (m: MigrationText): Statement[] =>
    statementsAt(m.sql, entries.get(m.file)?.statements ?? []);
  const migrations = readMigrationFiles(files, async (m): Promise<FileAnalysis> => {
    const lint = entries.get(m.file)?.lint;
    return { statements: statementsOf(m), problems: [], ...(lint ? { lint } : {}) };
  });
  for (const m of migrations) {
    const entry = entries.get(m.file) as ManifestEntry;
    if (entry.checksum !== m.checksum)
      problems.push(`${m.file}: the manifest's checksum is not the file's (${m.checksum})`);
    if (entry.noTransaction !== m.noTransaction)
      problems.push(
        `${m.file}: the manifest says ${entry.noTransaction ? 'no-transaction' : 'transactional'}, the file's first line says otherwise`,
      );
    const uncovered = uncoveredSql(m.sql, entry.statements);
    if (uncovered !== undefined) {
      const { line, column } = new TextIndex(m.sql).lineColumn(uncovered);
      problems.push(
        `${m.file}:${line}:${column}: the manifest's statements do not match the file (SQL outside every statement, or positions out of order)`,
      );
    }
  }
  return problems.length > 0 ? { problems } : { migrations, problems };
}

/** The statements of `sql` at these `[start, end)` spans, with line and column. */
export function statementsAt(
  sql: string,
  spans: ReadonlyArray<readonly [start: number, end: number]>,
): Statement[] {
  const index = new TextIndex(sql);
  return spans.map(([start, end]) => ({ text: sql.slice(start, end), start, ...index.lineColumn(start) }));
}

/**
 * Where the SQL outside a split starts (or the first span that is out of order or outside the text); undefined when
 * the spans are in order, each starts with SQL, and only whitespace, comments and semicolons lie around them. A file
 * needs at least one statement (./analyze.ts refuses one without).
 */
export function uncoveredSql(
  sql: string,
  spans: ReadonlyArray<readonly [start: number, end: number]>,
): number | undefined {
  if (spans.length === 0) return 0;
  let at = 0;
  for (const [start, end] of spans) {
    if (start < at || end <= start || end > sql.length) return Math.min(at, sql.length);
    const next = skipTrivia(sql, at, start, { semicolons: true });
    if (next !== start) return next;
    if (skipTrivia(sql, start, end) !== start) return start;
    at = end;
  }
  const rest = skipTrivia(sql, at, sql.length, { semicolons: true });
  return rest === sql.length ? undefined : rest;
}
