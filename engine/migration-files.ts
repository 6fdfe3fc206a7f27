/**
 * Reading a migrations directory for a run that validates its own files (the CLI): each file's statements come from
 * PostgreSQL's parser (./analyze.ts), loaded when the first pending file is analyzed.
 */
import { analyzeMigration } from './analyze.ts';
import { type MigrationFile, readMigrationFiles, readMigrationTexts } from './migration.ts';

export type { MigrationFile } from './migration.ts';
export { FILE_PATTERN, MAX_VERSION } from './migration.ts';

/** Reads a migrations directory. Misnamed `.sql` files and duplicate versions are errors naming every file. */
export async function loadMigrations(dir: string): Promise<MigrationFile[]> {
  return readMigrationFiles(readMigrationTexts(dir), analyzeMigration);
}

/** Turns file names and bytes into ordered migrations checked with PostgreSQL's parser, or throws InvalidMigrationError. */
export function parseMigrationFiles(
  files: ReadonlyArray<readonly [name: string, bytes: Buffer]>,
): MigrationFile[] {
  return readMigrationFiles(files, analyzeMigration);
}
