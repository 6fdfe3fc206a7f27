/**
 * dbmate: `<version>_<name>.sql` (amacneil/dbmate `pkg/dbmate/db.go`: `migrationFileRegexp = ^(\d+).*\.sql$`, the
 * digits being the version), applied in file-name order. A file has an up block from `-- migrate:up` to
 * `-- migrate:down`, with nothing but comments before it; `-- migrate:up transaction:false` runs it outside a
 * transaction (`pkg/dbmate/migration.go`: `upRegExp`, `downRegExp`, `parseMigrationOptions`, `Transaction()`). The
 * down block never runs. Its history is `schema_migrations (version varchar(255) primary key)`
 * (`pkg/driver/postgres/postgres.go` `CreateMigrationsTable`).
 */
import type { MigrationFileProblem } from '../errors.ts';
import {
  byName,
  digitsVersion,
  type Entry,
  inToolOrder,
  type LayoutMigration,
  layoutMigration,
  onlyCommentsBefore,
  pathOf,
  versionedSource,
} from './layout.ts';

const FILE = /^(\d+)(?:_?(.*))\.sql$/;
export const DBMATE_UP = /^--\s*migrate:up(\s*$|\s+\S+)/m;
const DOWN = /^--\s*migrate:down(\s*$|\s+\S+)$/m;

export function readDbmate(dir: string, entries: readonly Entry[]): LayoutMigration[] {
  const problems: MigrationFileProblem[] = [];
  const migrations: LayoutMigration[] = [];
  for (const entry of entries) {
    if (entry.directory || !entry.name.endsWith('.sql')) continue;
    const match = FILE.exec(entry.name);
    if (!match) continue; // dbmate ignores it too
    const version = digitsVersion(match[1] as string);
    const source = versionedSource(pathOf(dir, entry.name), entry.name, version, problems);
    if (source === undefined || typeof version !== 'bigint') continue;
    const up = DBMATE_UP.exec(source);
    const down = DOWN.exec(source);
    const problem = !up
      ? 'has no "-- migrate:up" line: dbmate requires one'
      : down && down.index < up.index
        ? '"-- migrate:down" comes before "-- migrate:up"'
        : !onlyCommentsBefore(source, up.index)
          ? 'has SQL before "-- migrate:up", which dbmate refuses'
          : undefined;
    if (problem || !up) {
      problems.push({ file: entry.name, problem: problem ?? '' });
      continue;
    }
    const options = up[0]
      .replace(/^--\s*migrate:up/, '')
      .trim()
      .split(/\s+/);
    migrations.push(
      layoutMigration({
        version,
        file: entry.name,
        description: (match[2] ?? '').replace(/_/g, ' '),
        source,
        // The down block is cut off; what precedes the up line is comments, so lines and columns stay the file's.
        sql: down ? source.slice(0, down.index) : source,
        noTransaction: options.includes('transaction:false'),
        toolId: match[1] as string,
      }),
    );
  }
  return inToolOrder('dbmate', migrations, problems, byName);
}
