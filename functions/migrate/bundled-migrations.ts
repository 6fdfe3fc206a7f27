/**
 * The migrations packaged into the function at synth (infra/constructs/bundled-migrations.ts): the `.sql` files and
 * the manifest the synth wrote after checking them with PostgreSQL's parser. Read and verified like a published
 * release (../shared/migrations-s3.ts), so the function never parses SQL.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MANIFEST_FILE, migrationsFromManifest, parseManifest } from '../../engine/manifest.ts';
import type { MigrationFile } from '../../engine/migration.ts';
import { readMigrationDirectory } from '../../engine/migration.ts';
import { ManifestMismatchError } from '../shared/errors.ts';

/** The bundled migrations, verified against their manifest, or {@link ManifestMismatchError}. */
export function readBundledMigrations(dir: string): MigrationFile[] {
  const manifestPath = join(dir, MANIFEST_FILE);
  if (!existsSync(manifestPath))
    throw new ManifestMismatchError(dir, [
      `no ${MANIFEST_FILE}: bundled migrations are checked and split at synth, which writes it beside them; deploy the stack again (or, for a local run, bundle the directory the same way)`,
    ]);
  const { manifest, problems } = parseManifest(readFileSync(manifestPath, 'utf8'));
  if (!manifest) throw new ManifestMismatchError(dir, problems);
  const verified = migrationsFromManifest(manifest, readMigrationDirectory(dir));
  if (!verified.migrations) throw new ManifestMismatchError(dir, verified.problems);
  return verified.migrations;
}
