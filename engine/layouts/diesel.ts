/**
 * diesel: one directory per migration, `<version>_<name>/up.sql` (and `down.sql`, never run), the version being the
 * name before the first `_` with every `-` removed, ordered by version; an optional `metadata.toml` whose
 * `run_in_transaction = false` runs it outside a transaction (diesel-rs/diesel `diesel_migrations/migrations_internals/src/lib.rs`:
 * `version_from_string`, `TomlMetadata`; `diesel_migrations/src/file_based_migrations.rs`). Note diesel's rule as
 * written: with no metadata.toml a migration runs in a transaction, but a metadata.toml that does not set
 * `run_in_transaction` reads as false (`#[serde(default)]` on a bool). A metadata.toml diesel cannot parse it
 * silently ignores; lockstep refuses it. Its history is `__diesel_schema_migrations (version VARCHAR(50), run_on)`
 * (`diesel/src/migration/setup_migration_table.sql`).
 */
import { parse } from 'smol-toml';
import type { MigrationFileProblem } from '../errors.ts';
import {
  byVersion,
  digitsVersion,
  type Entry,
  hasFile,
  inToolOrder,
  type LayoutMigration,
  layoutMigration,
  pathOf,
  readSource,
  versionedSource,
} from './layout.ts';

export function readDiesel(dir: string, entries: readonly Entry[]): LayoutMigration[] {
  const problems: MigrationFileProblem[] = [];
  const migrations: LayoutMigration[] = [];
  for (const entry of entries) {
    if (!entry.directory || entry.name.startsWith('.')) continue;
    const file = `${entry.name}/up.sql`;
    const toolId = (entry.name.split('_')[0] ?? '').replace(/-/g, '');
    const version = /^\d+$/.test(toolId) ? digitsVersion(toolId) : `version "${toolId}" is not a number`;
    const source = versionedSource(pathOf(dir, entry.name, 'up.sql'), file, version, problems);
    if (source === undefined || typeof version !== 'bigint') continue;
    const inTransaction = runInTransaction(dir, entry.name, problems);
    migrations.push(
      layoutMigration({
        version,
        file,
        description: entry.name.slice(entry.name.indexOf('_') + 1).replace(/_/g, ' '),
        source,
        sql: source,
        noTransaction: !inTransaction,
        toolId,
      }),
    );
  }
  return inToolOrder('diesel', migrations, problems, byVersion);
}

function runInTransaction(dir: string, name: string, problems: MigrationFileProblem[]): boolean {
  if (!hasFile(pathOf(dir, name), 'metadata.toml')) return true;
  const file = `${name}/metadata.toml`;
  try {
    const value = (parse(readSource(pathOf(dir, name, 'metadata.toml')) ?? '') as Record<string, unknown>)
      .run_in_transaction;
    if (value === undefined) return false;
    if (typeof value === 'boolean') return value;
    problems.push({ file, problem: 'run_in_transaction must be true or false' });
  } catch (err) {
    problems.push({
      file,
      problem: `is not valid TOML (diesel would ignore it silently): ${(err as Error).message}`,
    });
  }
  return true;
}
