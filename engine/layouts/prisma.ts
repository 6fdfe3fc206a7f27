/**
 * Prisma Migrate: one directory per migration, `<timestamp>_<name>/migration.sql`, with `migration_lock.toml` beside
 * them naming the provider; recorded in `_prisma_migrations` under the directory's name (prisma/prisma-engines
 * `schema-engine/connectors/schema-connector/src/migrations_directory.rs`: "subfolders, named after the migration id",
 * `migration_name()` "The `{timestamp}_{name}` formatted migration name"). Applied in the order of the directory
 * names: Prisma's generated names are timestamps, so that is also their time order (the engine now receives the
 * directories from Prisma's CLI; their sorting is not verified in source here, and the tool-order check below refuses
 * any directory where name and number order differ). Prisma sends a file as one multi-statement query, so it runs as
 * one implicit transaction, and a file may hold its own `BEGIN; … COMMIT;` (prisma/orm#8080): lockstep allows that
 * here, and runs such a file the way Prisma does, recorded "started" before and "finished" after
 * (../self-managed-executor.ts).
 */
import { parse } from 'smol-toml';
import type { MigrationFileProblem } from '../errors.ts';
import {
  byName,
  digitsVersion,
  type Entry,
  inToolOrder,
  type LayoutMigration,
  layoutMigration,
  pathOf,
  readSource,
} from './layout.ts';

const NAME = /^(\d+)_(.*)$/;
export const PRISMA_LOCK_FILE = 'migration_lock.toml';

export function readPrisma(dir: string, entries: readonly Entry[]): LayoutMigration[] {
  const problems: MigrationFileProblem[] = [];
  lockFileProblem(dir, entries, problems);
  const migrations: LayoutMigration[] = [];
  for (const entry of entries) {
    if (!entry.directory || entry.name.startsWith('.')) continue;
    const file = `${entry.name}/migration.sql`;
    const source = readSource(pathOf(dir, entry.name, 'migration.sql'));
    const match = NAME.exec(entry.name);
    if (source === undefined) {
      problems.push({ file, problem: 'is missing or not valid UTF-8' });
      continue;
    }
    const version = match ? digitsVersion(match[1] as string) : undefined;
    if (typeof version !== 'bigint') {
      problems.push({
        file,
        problem:
          version ??
          'the directory name must start with digits and "_" (Prisma writes <timestamp>_<name>): lockstep keys history by that number',
      });
      continue;
    }
    migrations.push(
      layoutMigration({
        version,
        file,
        description: (match?.[2] ?? '').replace(/_/g, ' '),
        source,
        sql: source,
        noTransaction: false,
        ownTransactions: true,
        toolId: entry.name,
      }),
    );
  }
  return inToolOrder('prisma', migrations, problems, byName);
}

/** migration_lock.toml names the provider the files were written for; lockstep runs PostgreSQL's only. */
function lockFileProblem(dir: string, entries: readonly Entry[], problems: MigrationFileProblem[]): void {
  if (!entries.some((e) => !e.directory && e.name === PRISMA_LOCK_FILE)) return;
  const text = readSource(pathOf(dir, PRISMA_LOCK_FILE)) ?? '';
  let provider: unknown;
  try {
    provider = (parse(text) as { provider?: unknown }).provider;
  } catch (err) {
    problems.push({ file: PRISMA_LOCK_FILE, problem: `is not valid TOML: ${(err as Error).message}` });
    return;
  }
  if (provider !== undefined && provider !== 'postgresql' && provider !== 'postgres')
    problems.push({
      file: PRISMA_LOCK_FILE,
      problem: `says the migrations were written for provider "${String(provider)}": lockstep runs PostgreSQL migrations only`,
    });
}
