/**
 * Checking migrations ahead of a run that will not parse them: `lockstep publish` and the synth (bundled migrations)
 * split every file, applied or not, with PostgreSQL's parser and validate it as the CLI validates pending files, then
 * record the split, and each file's migration lint (./lint/lint-file.ts), in the manifest (./manifest.ts) the migrate
 * function runs from.
 */
import { InvalidMigrationError, type MigrationFileProblem } from './errors.ts';
import { lintFile } from './lint/lint-file.ts';
import {
  createManifest,
  type Manifest,
  type ManifestEntry,
  manifestEntry,
  type Publication,
  type PublishedManifest,
  uncoveredSql,
} from './manifest.ts';
import { parseMigrationFiles } from './migration-files.ts';
import { TextIndex } from './sql-text.ts';

type MigrationBytes = ReadonlyArray<readonly [name: string, bytes: Buffer]>;

/**
 * The manifest of these files, or {@link InvalidMigrationError} naming every problem in any of them, with file, line
 * and column. `published` is the release label and time of `lockstep publish`; a bundle made at synth has none, so
 * the same files always make the same manifest.
 */
export async function prepareManifest(files: MigrationBytes): Promise<Manifest>;
export async function prepareManifest(
  files: MigrationBytes,
  published: Publication,
): Promise<PublishedManifest>;
export async function prepareManifest(files: MigrationBytes, published?: Publication): Promise<Manifest> {
  const migrations = parseMigrationFiles(files);
  const bytesOf = new Map(files);
  const problems: MigrationFileProblem[] = [];
  const entries: ManifestEntry[] = [];
  for (const m of migrations) {
    const analysis = await m.analyze();
    problems.push(...analysis.problems);
    if (analysis.problems.length > 0) continue;
    const lint = await lintFile(m, analysis.statements);
    const entry = manifestEntry(bytesOf.get(m.file) as Buffer, m, analysis.statements, lint);
    // The migrate function checks the split covers the file; a split it would refuse is refused here, not there.
    const uncovered = uncoveredSql(m.sql, entry.statements);
    if (uncovered !== undefined) {
      problems.push({
        file: m.file,
        ...new TextIndex(m.sql).lineColumn(uncovered),
        problem:
          'lockstep cannot record the statements of this file so that the migrate function can check them: text here lies outside every statement PostgreSQL found',
      });
      continue;
    }
    entries.push(entry);
  }
  if (problems.length > 0) throw new InvalidMigrationError(problems);
  return published ? createManifest(entries, published) : createManifest(entries);
}
