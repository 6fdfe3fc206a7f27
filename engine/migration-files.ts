import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrationChecksum } from './checksum.ts';
import { InvalidInputError, InvalidMigrationError, type MigrationFileProblem } from './errors.ts';

/** One `<version>_<description>.sql` file. */
export interface MigrationFile {
  /** Numeric version; ordering and identity. */
  readonly version: bigint;
  /** File name, relative to the migrations directory. */
  readonly file: string;
  readonly description: string;
  /** sha256 of the text with line endings and BOM normalized, hex: see ./checksum.ts. */
  readonly checksum: string;
  /** The file starts with `-- lockstep:no-transaction`. */
  readonly noTransaction: boolean;
  readonly sql: string;
}

export const FILE_PATTERN = /^(\d+)_([^/\\]+)\.sql$/;
/** The one directive, as the whole of a file's first line; analyze.ts refuses anything like it anywhere else. */
export const NO_TRANSACTION_DIRECTIVE = /^--\s*lockstep:no-transaction\s*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
export const MAX_VERSION = 9223372036854775807n; // the history table stores versions as bigint

/**
 * Reads a migrations directory. Misnamed `.sql` files and duplicate versions are errors naming every file.
 * Synchronous on purpose: a thousand small files read 3× faster without a thread-pool hop per file, and
 * nothing else runs while a migration run starts.
 */
export async function loadMigrations(dir: string): Promise<MigrationFile[]> {
  let names: string[];
  try {
    const entries = readdirSync(dir, { withFileTypes: true });
    names = entries.filter((e) => e.isFile() && e.name.toLowerCase().endsWith('.sql')).map((e) => e.name);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : String(err);
    throw new InvalidInputError('migrations directory', `${dir}: ${reason}`);
  }
  // `join(dir, name)` for every name, normalizing `dir` once: path.join costs more than the read of a small file.
  const prefix = join(dir, ' ').slice(0, -1);
  return migrationsFrom(names.map((name) => [name, readText(prefix + name)] as const));
}

/**
 * A file's text as {@link decodeMigrationBytes} decodes its bytes, or `undefined` when they are not UTF-8. Node
 * reads and decodes `readFileSync(path, 'utf8')` in one native call, replacing each invalid sequence with U+FFFD;
 * only a text with a U+FFFD in it (invalid bytes, or the character itself) is read again and decoded strictly.
 */
function readText(path: string): string | undefined {
  const text = readFileSync(path, 'utf8');
  if (text.includes(REPLACEMENT_CHARACTER)) return decodeMigrationBytes(readFileSync(path));
  return text.charCodeAt(0) === BOM_CODE ? text.slice(1) : text;
}

const REPLACEMENT_CHARACTER = '\uFFFD';
const BOM_CODE = 0xfeff;

/** UTF-8 bytes as text, a leading byte-order mark dropped; `undefined` when they are not valid UTF-8. */
function decodeMigrationBytes(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Turns file names and bytes into ordered migrations, or throws {@link InvalidMigrationError}. */
export function parseMigrationFiles(
  files: ReadonlyArray<readonly [name: string, bytes: Buffer]>,
): MigrationFile[] {
  return migrationsFrom(files.map(([name, bytes]) => [name, decodeMigrationBytes(bytes)] as const));
}

/** Files' names and decoded texts (`undefined`: not UTF-8) as ordered migrations, or {@link InvalidMigrationError}. */
function migrationsFrom(
  files: ReadonlyArray<readonly [name: string, sql: string | undefined]>,
): MigrationFile[] {
  const problems: MigrationFileProblem[] = [];
  const byVersion = new Map<bigint, MigrationFile>();
  for (const [file, sql] of files) {
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
    if (sql === undefined) {
      problems.push({ file, problem: 'is not valid UTF-8' });
      continue;
    }
    const firstLine = sql.split(/\r?\n/, 1)[0] ?? '';
    const migration: MigrationFile = {
      version,
      file,
      description: (match[2] as string).replace(/_/g, ' '),
      checksum: migrationChecksum(sql),
      noTransaction: NO_TRANSACTION_DIRECTIVE.test(firstLine),
      sql,
    };
    const clash = byVersion.get(version);
    if (clash) {
      problems.push({ file, problem: `duplicate version ${version}: also used by ${clash.file}` });
      continue;
    }
    byVersion.set(version, migration);
  }
  if (problems.length > 0) throw new InvalidMigrationError(problems);
  return [...byVersion.values()].sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
}
