/**
 * Reading a migrations directory in its own layout: detected from what the directory holds, or forced with
 * `--layout`. Detection looks at names first and at one file's first lines only where names cannot tell (dbmate,
 * node-pg-migrate and sqlx use lockstep's own `<version>_<name>.sql`), so a lockstep directory costs one directory
 * listing and one extra small read more than before.
 */
import { InvalidInputError } from '../errors.ts';
import {
  type Analyzer,
  type MigrationFile,
  readMigrationFiles,
  readMigrationTextsNamed,
} from '../migration.ts';
import { DBMATE_UP, readDbmate } from './dbmate.ts';
import { readDiesel } from './diesel.ts';
import { FLYWAY_OTHER, FLYWAY_VERSIONED, readFlyway } from './flyway.ts';
import { GOLANG_MIGRATE_FILE, readGolangMigrate } from './golang-migrate.ts';
import {
  type Entry,
  hasFile,
  LAYOUT_NAMES,
  type LayoutMigration,
  type LayoutName,
  listEntries,
  pathOf,
  readSource,
} from './layout.ts';
import { NODE_PG_MIGRATE_UP, readNodePgMigrate } from './node-pg-migrate.ts';
import { PRISMA_LOCK_FILE, readPrisma } from './prisma.ts';
import { readSqlx, SQLX_NO_TRANSACTION } from './sqlx.ts';

export type { LayoutName } from './layout.ts';
export { LAYOUT_NAMES } from './layout.ts';

/** A migration as lockstep runs it, with what its tool records it as (absent in lockstep's own layout). */
export type ProjectMigration = MigrationFile & { readonly toolId?: string; readonly source?: string };

export interface Project {
  readonly layout: LayoutName;
  /** True when the layout was detected, false when `--layout` forced it. */
  readonly detected: boolean;
  readonly migrations: ProjectMigration[];
}

const READERS: Record<
  Exclude<LayoutName, 'lockstep'>,
  (dir: string, entries: readonly Entry[]) => LayoutMigration[]
> = {
  prisma: readPrisma,
  flyway: readFlyway,
  'golang-migrate': readGolangMigrate,
  dbmate: readDbmate,
  diesel: readDiesel,
  sqlx: readSqlx,
  'node-pg-migrate': readNodePgMigrate,
};

/** The name `--layout` was given, checked. */
export function parseLayoutName(value: string): LayoutName {
  if ((LAYOUT_NAMES as readonly string[]).includes(value)) return value as LayoutName;
  throw new InvalidInputError('--layout', `must be one of ${LAYOUT_NAMES.join(', ')}, got "${value}"`);
}

/** Reads `dir` in its layout (`layout`, or the one detected), its files' statements found by `analyze`. */
export function readProject(dir: string, analyze: Analyzer, layout?: LayoutName): Project {
  const entries = listEntries(dir);
  const chosen = layout ?? detectLayout(dir, entries);
  if (chosen === 'lockstep') {
    const names = entries
      .filter((e) => !e.directory && e.name.toLowerCase().endsWith('.sql'))
      .map((e) => e.name);
    const texts = readMigrationTextsNamed(dir, names);
    // sqlx names its files as lockstep does; its directive, as a file's first characters, tells them apart.
    if (layout === undefined && texts.some(([, text]) => text?.startsWith(SQLX_NO_TRANSACTION)))
      return fromLayout('sqlx', true, READERS.sqlx(dir, entries), analyze);
    return {
      layout: 'lockstep',
      detected: layout === undefined,
      migrations: readMigrationFiles(texts, analyze),
    };
  }
  return fromLayout(chosen, layout === undefined, READERS[chosen](dir, entries), analyze);
}

function fromLayout(
  layout: LayoutName,
  detected: boolean,
  read: LayoutMigration[],
  analyze: Analyzer,
): Project {
  return { layout, detected, migrations: read.map((m) => ({ ...m, analyze: () => analyze(m) })) };
}

/** The layout a directory's contents say it is in; lockstep's own when nothing says otherwise. */
export function detectLayout(dir: string, entries: readonly Entry[]): LayoutName {
  if (entries.some((e) => !e.directory && e.name === PRISMA_LOCK_FILE)) return 'prisma';
  for (const e of entries) {
    if (!e.directory || e.name.startsWith('.')) continue;
    if (hasFile(pathOf(dir, e.name), 'migration.sql')) return 'prisma';
    if (hasFile(pathOf(dir, e.name), 'up.sql')) return 'diesel';
  }
  const sql = entries
    .filter((e) => !e.directory && e.name.endsWith('.sql'))
    .map((e) => e.name)
    .sort();
  if (sql.some((n) => FLYWAY_VERSIONED.test(n) || FLYWAY_OTHER.test(n))) return 'flyway';
  const ups = sql.filter((n) => GOLANG_MIGRATE_FILE.test(n));
  if (ups.length > 0) {
    // sqlx mixes simple <version>_<name>.sql files with reversible ones, and has its directive; golang-migrate has neither.
    const sqlx =
      ups.length < sql.length ||
      sql.some(
        (n) => readSource(pathOf(dir, n))?.startsWith(SQLX_NO_TRANSACTION) && !n.endsWith('.down.sql'),
      );
    return sqlx ? 'sqlx' : 'golang-migrate';
  }
  const first = sql[0] === undefined ? undefined : readSource(pathOf(dir, sql[0]));
  if (first !== undefined && DBMATE_UP.test(first)) return 'dbmate';
  if (first !== undefined && NODE_PG_MIGRATE_UP.test(first)) return 'node-pg-migrate';
  return 'lockstep';
}

/**
 * `lockstep publish` and the synth carry lockstep's own layout only (flat `.sql` files and a manifest the migrate
 * function checks them by): another tool's layout is refused here, clearly, before anything is uploaded or bundled.
 */
export function refuseForeignLayout(dir: string, what: string): void {
  const layout = detectLayout(dir, listEntries(dir));
  if (layout !== 'lockstep')
    throw new InvalidInputError(
      'migrations directory',
      `${dir} is laid out for ${layout}: ${what} carries lockstep's own layout only (<version>_<description>.sql files); run this project with the lockstep CLI (lockstep migrate reads ${layout}'s layout), or convert its files`,
    );
}
