/**
 * Reading a migrations directory for a run that validates its own files (the CLI): each file's statements come from
 * PostgreSQL's parser (./analyze.ts), loaded when the first pending file is analyzed. The directory is read in its own
 * layout (./layouts/read.ts): lockstep's, or another tool's.
 */
import { type AnalysisStore, cachedAnalyzer } from './analysis-cache.ts';
import { analyzeMigration } from './analyze.ts';
import { type LayoutName, type Project, readProject } from './layouts/read.ts';
import { type MigrationFile, readMigrationFiles, readMigrationTexts } from './migration.ts';

export type { MigrationFile } from './migration.ts';
export { FILE_PATTERN, MAX_VERSION } from './migration.ts';

/** Reads a migrations directory in lockstep's layout. Misnamed `.sql` files and duplicate versions are errors naming every file. */
export async function loadMigrations(dir: string): Promise<MigrationFile[]> {
  return readMigrationFiles(readMigrationTexts(dir), analyzeMigration);
}

/**
 * Reads a migrations directory in the layout given, or the one it is detected to be in. With `store`, files it holds
 * an analysis of are not parsed again (./analysis-cache.ts).
 */
export async function loadProject(dir: string, layout?: LayoutName, store?: AnalysisStore): Promise<Project> {
  return readProject(dir, store ? cachedAnalyzer(analyzeMigration, store) : analyzeMigration, layout);
}

/** Turns file names and bytes into ordered migrations checked with PostgreSQL's parser, or throws InvalidMigrationError. */
export function parseMigrationFiles(
  files: ReadonlyArray<readonly [name: string, bytes: Buffer]>,
): MigrationFile[] {
  return readMigrationFiles(files, analyzeMigration);
}
