/**
 * sqlx: `<version>_<description>.sql`, or `.up.sql` / `.down.sql` for reversible ones, the version an i64 before the
 * first `_`, ordered by version; a file whose text starts with `-- no-transaction` runs outside a transaction
 * (launchbadge/sqlx `sqlx-core/src/migrate/source.rs`: `splitn(2, '_')`, `MigrationType::from_filename`,
 * `sql.starts_with("-- no-transaction")`). Down files never run. Its history is `_sqlx_migrations`, with the sha384
 * of the file's text as `checksum` (`sqlx-core/src/migrate/migration.rs`, `sqlx-postgres/src/migrate.rs`).
 */
import type { MigrationFileProblem } from '../errors.ts';
import {
  byVersion,
  digitsVersion,
  type Entry,
  inToolOrder,
  type LayoutMigration,
  layoutMigration,
  pathOf,
  versionedSource,
} from './layout.ts';

export const SQLX_NO_TRANSACTION = '-- no-transaction';

export function readSqlx(dir: string, entries: readonly Entry[]): LayoutMigration[] {
  const problems: MigrationFileProblem[] = [];
  const migrations: LayoutMigration[] = [];
  for (const entry of entries) {
    if (entry.directory) continue;
    const underscore = entry.name.indexOf('_');
    const rest = entry.name.slice(underscore + 1);
    if (underscore < 0 || !rest.endsWith('.sql') || rest.endsWith('.down.sql')) continue;
    const digits = entry.name.slice(0, underscore);
    const version = /^\d+$/.test(digits) ? digitsVersion(digits) : `version "${digits}" is not a number`;
    const source = versionedSource(pathOf(dir, entry.name), entry.name, version, problems);
    if (source === undefined || typeof version !== 'bigint') continue;
    migrations.push(
      layoutMigration({
        version,
        file: entry.name,
        description: rest.replace(/(\.up)?\.sql$/, '').replace(/_/g, ' '),
        source,
        sql: source,
        noTransaction: source.startsWith(SQLX_NO_TRANSACTION),
        toolId: version.toString(),
      }),
    );
  }
  return inToolOrder('sqlx', migrations, problems, byVersion);
}
