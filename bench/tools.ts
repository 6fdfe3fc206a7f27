/**
 * The migration tools the apply and no-op benchmarks run, each as a whole process applying a migration set
 * to a database URL, one transaction per migration:
 *
 *   lockstep         `bin/lockstep.cjs migrate` (the bundled CLI the package installs)
 *   psql             one psql process running every file between BEGIN and COMMIT; keeps no history, so it
 *                    is the floor, not a peer (and has no no-op)
 *   node-pg-migrate  its CLI, `up --no-single-transaction` (its default wraps the whole run in one transaction)
 *   dbmate           the Go binary the `dbmate` npm package ships (in @dbmate/<platform>-<arch>), run directly
 *                    (not through its node wrapper), `--no-dump-schema migrate`
 *
 * node-pg-migrate and dbmate are not dependencies of lockstep: install them beside it to compare (`INSTALL`);
 * without them their rows say so.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { join } from 'node:path';
import type { MigrationSet } from './migrations.ts';
import { type Command, which } from './stats.ts';

const INSTALL = 'npm install --no-save node-pg-migrate@9 dbmate@2';

export interface Tool {
  readonly name: string;
  /** Why it cannot run here, when it cannot. */
  readonly unavailable?: string;
  /** Whether running it again with everything applied means anything (psql keeps no history). */
  readonly hasNoop: boolean;
  /** The command that applies `set` to the database at `url`. */
  command(set: MigrationSet, url: string): Command;
}

export function migrationTools(repoRoot: string, scratch: string): Tool[] {
  const psql = which('psql');
  const nodePgMigrate = join(repoRoot, 'node_modules', 'node-pg-migrate', 'bin', 'node-pg-migrate.js');
  const dbmate = join(repoRoot, 'node_modules', '@dbmate', `${platform()}-${arch()}`, 'bin', 'dbmate');
  const drivers = new Map<number, string>();
  /** psql's script for a set: each file in its own transaction, stopping at the first error. */
  const psqlDriver = (set: MigrationSet) => {
    let driver = drivers.get(set.n);
    if (!driver) {
      driver = join(scratch, `psql-${set.n}.sql`);
      writeFileSync(driver, set.files.map((f) => `BEGIN;\n\\i ${f}\nCOMMIT;\n`).join(''));
      drivers.set(set.n, driver);
    }
    return driver;
  };
  return [
    {
      name: 'lockstep',
      hasNoop: true,
      command: (set, url) => ({
        cmd: process.execPath,
        args: ['bin/lockstep.cjs', 'migrate', '--release', 'bench', '--dir', set.dir, '--database-url', url],
        cwd: repoRoot,
      }),
    },
    {
      name: 'psql',
      ...(psql ? {} : { unavailable: 'psql not installed (Debian package postgresql-client)' }),
      hasNoop: false,
      command: (set, url) => ({
        cmd: psql ?? 'psql',
        args: ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', psqlDriver(set), url],
      }),
    },
    {
      name: 'node-pg-migrate',
      ...(existsSync(nodePgMigrate) ? {} : { unavailable: `not installed: ${INSTALL}` }),
      hasNoop: true,
      command: (set, url) => ({
        cmd: process.execPath,
        args: [nodePgMigrate, 'up', '--migrations-dir', set.dir, '--no-single-transaction'],
        env: { ...process.env, DATABASE_URL: url },
        cwd: scratch,
      }),
    },
    {
      name: 'dbmate',
      ...(existsSync(dbmate) ? {} : { unavailable: `no binary for ${platform()}-${arch()}: ${INSTALL}` }),
      hasNoop: true,
      command: (set, url) => ({
        cmd: dbmate,
        args: [
          '--url',
          `${url}?sslmode=disable`,
          '--migrations-dir',
          set.dbmateDir,
          '--no-dump-schema',
          'migrate',
        ],
        cwd: scratch,
      }),
    },
  ];
}
