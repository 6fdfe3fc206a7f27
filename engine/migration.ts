/**
 * What a migration file is, without a parser: its name (`<version>_<description>.sql`), its text, its checksum and its
 * no-transaction directive, and where its statements come from. Statements are found before anything runs, by the
 * `analyze` each file carries: PostgreSQL's parser on first need for files read from a directory
 * (./migration-files.ts, the CLI), or the split `lockstep publish` or the synth made, for files verified against a
 * manifest (./manifest.ts, the migrate function). The runner asks only for pending files, so a run with nothing
 * pending never splits anything.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrationChecksum } from './checksum.ts';
import { readHeader } from './directives.ts';
import { InvalidInputError, InvalidMigrationError, type MigrationFileProblem } from './errors.ts';
import type { FileLint } from './lint/finding.ts';
import type { Statement } from './sql-text.ts';

/** One `<version>_<description>.sql` file. */
export interface MigrationFile {
  /** Numeric version; ordering and identity. */
  readonly version: bigint;
  /** File name, relative to the migrations directory. */
  readonly file: string;
  readonly description: string;
  /** sha256 of the text with line endings and BOM normalized, hex: see ./checksum.ts. */
  readonly checksum: string;
  /** The file starts with `-- lockstep:no-transaction` (./directives.ts). */
  readonly noTransaction: boolean;
  /** The file starts with `-- lockstep:after-deploy`: it runs after the new version is rolled out (./directives.ts). */
  readonly afterDeploy?: boolean;
  /** The SQL lockstep runs: the file's text decoded as UTF-8, a leading byte-order mark dropped (another tool's down section cut off). */
  readonly sql: string;
  /**
   * The file may hold its own `BEGIN`/`COMMIT` (a Prisma project's): such a file runs as one script, the way its tool
   * runs it, recorded as started before and finished after (./self-managed-executor.ts).
   */
  readonly ownTransactions?: boolean;
  /** Its statements, and what stops it from running as written; asked for pending files, before anything runs. */
  readonly analyze: () => Promise<FileAnalysis>;
}

/** A migration file's text and what its name and first line say, before its statements are known. */
export type MigrationText = Omit<MigrationFile, 'analyze'>;

export interface FileAnalysis {
  readonly statements: readonly Statement[];
  /** Everything that stops the file from running as written, each with its line and column. */
  readonly problems: readonly MigrationFileProblem[];
  /** The file controls its own transactions (allowed with `ownTransactions`): it runs as one script. */
  readonly selfManaged?: boolean;
  /** The migration lint's view of the file, when a manifest carries it (./lint/lint-file.ts made it at publish or synth). */
  readonly lint?: FileLint;
}

/** Finds a file's statements and problems: PostgreSQL's parser (./analyze.ts), or a manifest's split. */
export type Analyzer = (migration: MigrationText) => Promise<FileAnalysis>;

export const FILE_PATTERN = /^(\d+)_([^/\\]+)\.sql$/;
export { NO_TRANSACTION_DIRECTIVE } from './directives.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
export const MAX_VERSION = 9223372036854775807n; // the history table stores versions as bigint

/**
 * The `.sql` files of a directory, names and bytes. Synchronous on purpose: a thousand small files read 3× faster
 * without a thread-pool hop per file, and nothing else runs while a migration run starts.
 */
export function readMigrationDirectory(dir: string): Array<readonly [name: string, bytes: Buffer]> {
  let names: string[];
  try {
    const entries = readdirSync(dir, { withFileTypes: true });
    names = entries.filter((e) => e.isFile() && e.name.toLowerCase().endsWith('.sql')).map((e) => e.name);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : String(err);
    throw new InvalidInputError('migrations directory', `${dir}: ${reason}`);
  }
  return names.map((name) => [name, readFileSync(join(dir, name))] as const);
}

/**
 * The `.sql` files of a directory, names and decoded texts (`undefined`: not UTF-8), for a run that reads them
 * rather than checks their bytes. Node reads and decodes `readFileSync(path, 'utf8')` in one native call,
 * replacing each invalid sequence with U+FFFD; only a text with a U+FFFD in it (invalid bytes, or the character
 * itself) is read again and decoded strictly.
 */
export function readMigrationTexts(dir: string): Array<readonly [name: string, text: string | undefined]> {
  let names: string[];
  try {
    const entries = readdirSync(dir, { withFileTypes: true });
    names = entries.filter((e) => e.isFile() && e.name.toLowerCase().endsWith('.sql')).map((e) => e.name);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : String(err);
    throw new InvalidInputError('migrations directory', `${dir}: ${reason}`);
  }
  return readMigrationTextsNamed(dir, names);
}

/** {@link readMigrationTexts} for names already listed. */
export function readMigrationTextsNamed(
  dir: string,
  names: readonly string[],
): Array<readonly [name: string, text: string | undefined]> {
  // `join(dir, name)` for every name, normalizing `dir` once: path.join costs more than the read of a small file.
  const prefix = join(dir, ' ').slice(0, -1);
  return names.map((name) => [name, readText(prefix + name)] as const);
}

function readText(path: string): string | undefined {
  const text = readFileSync(path, 'utf8');
  if (text.includes('\uFFFD')) return decode(readFileSync(path));
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** UTF-8 bytes as text, a leading byte-order mark dropped; `undefined` when they are not valid UTF-8. */
function decode(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Turns file names and bytes into ordered migrations whose statements `analyze` finds, or throws
 * {@link InvalidMigrationError} naming every misnamed file, duplicate version and file that is not UTF-8.
 */
export function readMigrationFiles(
  files: ReadonlyArray<readonly [name: string, content: Buffer | string | undefined]>,
  analyze: Analyzer,
): MigrationFile[] {
  const problems: MigrationFileProblem[] = [];
  const byVersion = new Map<bigint, MigrationFile>();
  for (const [file, content] of files) {
    const match = FILE_PATTERN.exec(file);
    if (!match) {
      problems.push({ file, problem: 'name must be <version>_<description>.sql, version being digits' });
      continue;
    }
    const version = BigInt(match[1] as string);
    if (version > MAX_VERSION) {
      problems.push({ file, problem: `version is larger than ${MAX_VERSION}` });
      continue;
    }
    // Bytes are decoded here; a text was decoded by readMigrationTexts (undefined: it was not UTF-8).
    const sql = content === undefined || typeof content === 'string' ? content : decode(content);
    if (sql === undefined) {
      problems.push({ file, problem: 'is not valid UTF-8' });
      continue;
    }
    const header = readHeader(sql);
    const text: MigrationText = {
      version,
      file,
      description: (match[2] as string).replace(/_/g, ' '),
      checksum: migrationChecksum(sql),
      noTransaction: header.noTransaction,
      ...(header.afterDeploy ? { afterDeploy: true } : {}),
      sql,
    };
    const clash = byVersion.get(version);
    if (clash) {
      problems.push({ file, problem: `duplicate version ${version}: also used by ${clash.file}` });
      continue;
    }
    byVersion.set(version, { ...text, analyze: () => analyze(text) });
  }
  if (problems.length > 0) throw new InvalidMigrationError(problems);
  return [...byVersion.values()].sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
}

/** Every pending file's statements, by version, and every problem found in any of them. */
export async function analyzePending(pending: readonly MigrationFile[]): Promise<{
  parsed: Map<bigint, readonly Statement[]>;
  problems: MigrationFileProblem[];
  selfManaged: Set<bigint>;
}> {
  const parsed = new Map<bigint, readonly Statement[]>();
  const problems: MigrationFileProblem[] = [];
  const selfManaged = new Set<bigint>();
  for (const m of pending) {
    const analysis = await m.analyze();
    parsed.set(m.version, analysis.statements);
    problems.push(...analysis.problems);
    if (analysis.selfManaged) selfManaged.add(m.version);
  }
  return { parsed, problems, selfManaged };
}
