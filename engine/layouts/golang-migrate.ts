/**
 * golang-migrate: `<version>_<name>.up.<ext>` and `.down.<ext>` (golang-migrate/migrate `source/parse.go`, the regex
 * `^([0-9]+)_(.*)\.(down|up)\.(.*)$`), ordered by version. Down files never run. The postgres driver sends a file as
 * one `Exec` (`database/postgres/postgres.go` `Run`), so it runs as one implicit transaction: lockstep runs it in one
 * transaction too. Its history is one row, `schema_migrations (version bigint, dirty boolean)`.
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

export const GOLANG_MIGRATE_FILE = /^([0-9]+)_(.*)\.(down|up)\.(.*)$/;

export function readGolangMigrate(dir: string, entries: readonly Entry[]): LayoutMigration[] {
  const problems: MigrationFileProblem[] = [];
  const migrations: LayoutMigration[] = [];
  for (const entry of entries) {
    if (entry.directory) continue;
    const match = GOLANG_MIGRATE_FILE.exec(entry.name);
    if (match?.[3] !== 'up') continue;
    if (match[4] !== 'sql') {
      problems.push({ file: entry.name, problem: 'lockstep runs SQL migrations only (.up.sql)' });
      continue;
    }
    const version = digitsVersion(match[1] as string);
    const source = versionedSource(pathOf(dir, entry.name), entry.name, version, problems);
    if (source === undefined || typeof version !== 'bigint') continue;
    migrations.push(
      layoutMigration({
        version,
        file: entry.name,
        description: (match[2] as string).replace(/_/g, ' '),
        source,
        sql: source,
        noTransaction: false,
        toolId: version.toString(),
      }),
    );
  }
  return inToolOrder('golang-migrate', migrations, problems, byVersion);
}
