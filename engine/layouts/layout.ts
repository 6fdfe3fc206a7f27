/**
 * A migrations directory as another tool lays it out, read as that tool reads it: which files are migrations, in
 * what order, what part of each file runs (never a down section), and whether it runs in a transaction. Each layout
 * is one file beside this one, its rules cited from the tool's own source. Every layout yields lockstep's
 * {@link MigrationText}: an integer version (the history table's key), the file's path relative to the directory,
 * and the SQL lockstep runs; plus `toolId`, the name the tool records the migration under in its own history table,
 * which `lockstep adopt` matches rows by.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrationChecksum } from '../checksum.ts';
import { readHeader } from '../directives.ts';
import { InvalidInputError, InvalidMigrationError, type MigrationFileProblem } from '../errors.ts';
import { MAX_VERSION, type MigrationText } from '../migration.ts';

export const LAYOUT_NAMES = [
  'lockstep',
  'prisma',
  'flyway',
  'golang-migrate',
  'dbmate',
  'diesel',
  'sqlx',
  'node-pg-migrate',
] as const;
export type LayoutName = (typeof LAYOUT_NAMES)[number];

/** A migration as a layout read it. */
export interface LayoutMigration extends MigrationText {
  /** What the tool records it as in its history table: a directory or file name, or a version. */
  readonly toolId: string;
  /** The file's whole text as the tool reads it (a byte-order mark kept), for the tool's own checksum. */
  readonly source: string;
}

/** One directory entry, as `readdirSync(dir, { withFileTypes: true })` gives it. */
export interface Entry {
  readonly name: string;
  readonly directory: boolean;
}

export function listEntries(dir: string): Entry[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).map((e) => ({
      name: e.name,
      directory: e.isDirectory(),
    }));
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : String(err);
    throw new InvalidInputError('migrations directory', `${dir}: ${reason}`);
  }
}

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A file's text with any byte-order mark kept; `undefined` when it is missing or not UTF-8. */
export function readSource(path: string): string | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return undefined;
  }
  try {
    return strict.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Whether a directory holds a file of this name. */
export function hasFile(dir: string, name: string): boolean {
  try {
    return readdirSync(dir).includes(name);
  } catch {
    return false;
  }
}

/**
 * The text of a migration file whose name gave `version`, or undefined with the reason recorded in `problems`: the
 * version does not fit, or the file is missing or not UTF-8.
 */
export function versionedSource(
  path: string,
  file: string,
  version: bigint | string,
  problems: MigrationFileProblem[],
): string | undefined {
  if (typeof version !== 'bigint') {
    problems.push({ file, problem: version });
    return undefined;
  }
  const source = readSource(path);
  if (source === undefined) problems.push({ file, problem: 'is missing or not valid UTF-8' });
  return source;
}

/** The migration lockstep runs for `sql` (the part of `source` that runs, BOM dropped). */
export function layoutMigration(fields: {
  readonly version: bigint;
  readonly file: string;
  readonly description: string;
  readonly source: string;
  readonly sql: string;
  readonly noTransaction: boolean;
  readonly toolId: string;
  readonly ownTransactions?: boolean;
}): LayoutMigration {
  const sql = fields.sql.charCodeAt(0) === 0xfeff ? fields.sql.slice(1) : fields.sql;
  return {
    version: fields.version,
    file: fields.file,
    description: fields.description,
    checksum: migrationChecksum(sql),
    noTransaction: fields.noTransaction,
    // A lockstep directive at the top of another tool's file counts as it does in a lockstep file.
    ...(readHeader(sql).afterDeploy ? { afterDeploy: true } : {}),
    sql,
    toolId: fields.toolId,
    source: fields.source,
    ...(fields.ownTransactions ? { ownTransactions: true } : {}),
  };
}

/** A version from digits, or a problem when it does not fit the history table's bigint. */
export function digitsVersion(digits: string): bigint | string {
  const version = BigInt(digits);
  return version > MAX_VERSION ? `version ${digits} is larger than ${MAX_VERSION}` : version;
}

/**
 * The layout's migrations in the tool's own order, or {@link InvalidMigrationError} naming every problem: lockstep
 * keys history by the integer version, so two files may not share one, and the versions must rise in the tool's
 * order (otherwise lockstep would run them in another order than the tool does).
 */
export function inToolOrder(
  layout: LayoutName,
  migrations: readonly LayoutMigration[],
  problems: MigrationFileProblem[],
  compare: (a: LayoutMigration, b: LayoutMigration) => number,
): LayoutMigration[] {
  const ordered = [...migrations].sort(compare);
  const seen = new Map<bigint, string>();
  let previous: LayoutMigration | undefined;
  for (const m of ordered) {
    const clash = seen.get(m.version);
    if (clash)
      problems.push({ file: m.file, problem: `duplicate version ${m.version}: also used by ${clash}` });
    else if (previous && m.version < previous.version)
      problems.push({
        file: m.file,
        problem: `${layout} runs it after ${previous.file}, but its version ${m.version} is lower than that file's ${previous.version}: lockstep orders by version, so it would run them in another order than ${layout} does (rename one)`,
      });
    seen.set(m.version, m.file);
    previous = m;
  }
  if (problems.length > 0) throw new InvalidMigrationError(problems);
  return ordered;
}

export const byName = (a: LayoutMigration, b: LayoutMigration) =>
  a.file < b.file ? -1 : a.file > b.file ? 1 : 0;
export const byVersion = (a: LayoutMigration, b: LayoutMigration) =>
  a.version < b.version ? -1 : a.version > b.version ? 1 : 0;

/** `join(dir, name)`. */
export const pathOf = (dir: string, ...names: string[]) => join(dir, ...names);

/** Whether the text before `end` is only blank lines and `--` comments (what may precede a tool's up marker). */
export function onlyCommentsBefore(text: string, end: number): boolean {
  return text
    .slice(0, end)
    .split('\n')
    .every((line) => /^\s*(--.*)?$/.test(line.replace(/^\uFEFF/, '')));
}
