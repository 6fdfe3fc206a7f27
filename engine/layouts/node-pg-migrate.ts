/**
 * node-pg-migrate's SQL migrations: `<timestamp>_<name>.sql`, the up part from a `-- Up Migration` line to a
 * `-- Down Migration` line (the whole file when there is no up line), matched by `^\s*--[\s-]*up\s+migration`,
 * case-insensitive (salsita/node-pg-migrate `src/sqlMigration.ts` `getActions`); recorded in `pgmigrations` under the
 * file name without its extension. lockstep reads SQL files only: a directory with JavaScript or TypeScript
 * migrations is refused. The down part never runs.
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

export const NODE_PG_MIGRATE_UP = /^\s*--[\s-]*up\s+migration/im;
const DOWN = /^\s*--[\s-]*down\s+migration/im;
const CODE = /\.(c|m)?(js|ts)$/;

export function readNodePgMigrate(dir: string, entries: readonly Entry[]): LayoutMigration[] {
  const problems: MigrationFileProblem[] = [];
  const migrations: LayoutMigration[] = [];
  for (const entry of entries) {
    if (entry.directory) continue;
    if (CODE.test(entry.name) && /^\d/.test(entry.name)) {
      problems.push({
        file: entry.name,
        problem: 'lockstep runs SQL migrations only, not JavaScript or TypeScript ones',
      });
      continue;
    }
    if (!entry.name.endsWith('.sql')) continue;
    const match = /^(\d+)_?(.*)\.sql$/.exec(entry.name);
    const version = match
      ? digitsVersion(match[1] as string)
      : 'the name must start with digits (a timestamp)';
    const source = versionedSource(pathOf(dir, entry.name), entry.name, version, problems);
    if (source === undefined || typeof version !== 'bigint') continue;
    const up = source.search(NODE_PG_MIGRATE_UP);
    const down = source.search(DOWN);
    const problem =
      down >= 0 && up > down
        ? '"-- Down Migration" comes before "-- Up Migration": lockstep needs the up part first'
        : up > 0 && !onlyCommentsBefore(source, up)
          ? 'has SQL before "-- Up Migration", which node-pg-migrate does not run'
          : undefined;
    if (problem) {
      problems.push({ file: entry.name, problem });
      continue;
    }
    migrations.push(
      layoutMigration({
        version,
        file: entry.name,
        description: (match?.[2] ?? '').replace(/[_-]/g, ' '),
        source,
        sql: down >= 0 ? source.slice(0, down) : source,
        noTransaction: false,
        toolId: entry.name.replace(/\.sql$/, ''),
      }),
    );
  }
  return inToolOrder('node-pg-migrate', migrations, problems, byName);
}
