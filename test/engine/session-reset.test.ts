import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type pg from 'pg';
import { DatabaseUnavailableError, LockLostError, MigrationFailedError } from '../../engine/errors.ts';
import type { EngineEvent } from '../../engine/events.ts';
import { HistoryTable } from '../../engine/history.ts';
import { type MigrationFile, parseMigrationFiles } from '../../engine/migration-files.ts';
import { type EngineOptions, migrate, plan } from '../../engine/runner.ts';
import { pgSession } from '../../engine/session.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const migrations = (entries: Record<string, string>): MigrationFile[] =>
  parseMigrationFiles(Object.entries(entries).map(([name, sql]) => [name, Buffer.from(sql)] as const));

const options: EngineOptions = { appliedBy: 'session-reset-test', lockRetryDelayMs: 20 };
const [LOCK_CLASS, LOCK_OBJ] = new HistoryTable().lockKey;

/** Each test: a fresh database and a connected client, dropped (and closed) whatever happens. */
async function withDatabase(work: (db: TestDatabase, client: pg.Client) => Promise<void>): Promise<void> {
  const db = await freshDatabase();
  try {
    await work(db, await db.connect());
  } finally {
    await db.drop();
  }
}

async function one(client: pg.Client, sql: string, params: unknown[] = []) {
  return (await client.query(sql, params)).rows[0];
}

/** Both ways of applying a set: all in one run, and one migration per run, each on a new connection. */
const WAYS = {
  'in one run': async (db: TestDatabase, files: MigrationFile[]) => {
    const c = await db.connect();
    try {
      return await migrate({ session: pgSession(c) }, files, options);
    } finally {
      await c.end();
    }
  },
  'in one run, one migration per script': async (db: TestDatabase, files: MigrationFile[]) => {
    const c = await db.connect();
    try {
      return await migrate({ session: pgSession(c) }, files, { ...options, deadline: Date.now() + 600_000 });
    } finally {
      await c.end();
    }
  },
};

describe('every migration starts from the session as lockstep connected', () => {
  for (const [way, apply] of Object.entries(WAYS)) {
    test(`${way}: session_replication_role = replica in one migration does not let the next commit an orphan row`, async () => {
      await withDatabase(async (db, client) => {
        const files = migrations({
          '0001_parent.sql':
            'CREATE TABLE parent (id int PRIMARY KEY);\nCREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent(id));\nSET session_replication_role = replica;\n',
          '0002_seed.sql': 'INSERT INTO child VALUES (2, 999);\n',
        });
        await assert.rejects(apply(db, files), (err: unknown) => {
          assert.ok(err instanceof MigrationFailedError, String(err));
          assert.equal(err.failure.sqlState, '23503');
          assert.equal(err.failure.version, '2');
          return true;
        });
        assert.equal((await one(client, 'SELECT count(*)::int AS n FROM child')).n, 0);
      });
    });

    test(`${way}: search_path, temp tables, prepared statements, LISTEN and settings stay with the migration that set them`, async () => {
      await withDatabase(async (db, client) => {
        const files = migrations({
          '0001_other.sql':
            "CREATE SCHEMA other;\nSET search_path = other;\nCREATE TEMP TABLE scratch (id int);\nPREPARE probe AS SELECT 1;\nLISTEN lockstep_test;\nSET TIME ZONE 'Pacific/Chatham';\nSELECT pg_advisory_lock(4711);\nSET work_mem = '77kB';\n",
          '0002_pgdump.sql':
            "SELECT pg_catalog.set_config('search_path', '', false);\nCREATE TABLE public.from_dump (id int);\n",
          '0003_plain.sql':
            "CREATE TABLE plain (id int, zone text DEFAULT current_setting('TimeZone'), work_mem text DEFAULT current_setting('work_mem'));\nCREATE TEMP TABLE scratch (id int);\nPREPARE probe AS SELECT 1;\nLISTEN lockstep_test;\nSELECT pg_sleep(0.01);\nINSERT INTO plain (id) VALUES (1);\nCREATE TABLE listening AS SELECT count(*)::int AS n FROM pg_listening_channels();\n",
        });
        const result = await apply(db, files);
        assert.deepEqual(
          result.applied.map((a) => a.version),
          ['1', '2', '3'],
        );
        assert.equal(
          (await one(client, "SELECT to_regclass('public.plain') IS NOT NULL AS here")).here,
          true,
        );
        assert.equal((await one(client, "SELECT to_regclass('other.plain') IS NULL AS absent")).absent, true);
        const seen = await one(client, 'SELECT zone, work_mem FROM public.plain');
        assert.notEqual(seen.zone, 'Pacific/Chatham');
        assert.notEqual(seen.work_mem, '77kB');
        // 0003's LISTEN is not in force until it commits; 0001's must not be in force while 0003 runs.
        assert.equal((await one(client, 'SELECT n FROM listening')).n, 0);
        // The migration's session advisory lock went with it.
        assert.equal((await one(client, 'SELECT pg_try_advisory_lock(4711) AS got')).got, true);
      });
    });
  }

  test('the caller’s connection is handed back as it was: no role, setting or lock of a migration stays on it', async () => {
    await withDatabase(async (db, client) => {
      const runner = await db.connect();
      const before = await one(
        runner,
        "SELECT current_user AS u, current_setting('search_path') AS sp, current_setting('lock_timeout') AS lt",
      );
      await client.query(`CREATE ROLE owner_${db.name}`);
      await migrate(
        { session: pgSession(runner) },
        migrations({
          '0001_last.sql': `SET ROLE owner_${db.name};\nSET search_path = pg_temp;\nSET lock_timeout = '42s';\nSELECT pg_advisory_lock(99);\n`,
        }),
        options,
      );
      const afterRun = await one(
        runner,
        "SELECT current_user AS u, current_setting('search_path') AS sp, current_setting('lock_timeout') AS lt",
      );
      assert.deepEqual(afterRun, before);
      const locks = await runner.query(
        "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
      );
      assert.deepEqual(locks.rows, []);
      await client.query(`DROP OWNED BY owner_${db.name}; DROP ROLE owner_${db.name}`);
    });
  });
});

describe('SET ROLE inside a migration', () => {
  test('the DDL runs as that role and the history row is written as the role lockstep connected with', async () => {
    await withDatabase(async (db, admin) => {
      const deployer = `deployer_${db.name}`;
      const owner = `owner_${db.name}`;
      await admin.query(
        `CREATE ROLE ${owner} NOLOGIN; CREATE ROLE ${deployer} LOGIN PASSWORD 'pw' IN ROLE ${owner};
         GRANT CREATE ON DATABASE ${db.name} TO ${deployer}; GRANT CREATE ON SCHEMA public TO ${owner}, ${deployer}`,
      );
      const url = new URL(db.url);
      url.username = deployer;
      url.password = 'pw';
      const { default: pgModule } = await import('pg');
      const limited = new pgModule.Client({ connectionString: url.toString() });
      await limited.connect();
      try {
        const files = migrations({
          '0001_owned.sql': `SET ROLE ${owner};\nCREATE TABLE owned (id int PRIMARY KEY, email text);\n`,
          '0002_mine.sql': 'CREATE TABLE mine (id int);\n',
          '0003_index.sql': `-- lockstep:no-transaction\nSET ROLE ${owner};\nCREATE INDEX CONCURRENTLY owned_email ON owned (email);\n`,
          '0004_after.sql': 'CREATE TABLE after_index (id int);\n',
        });
        const result = await migrate({ session: pgSession(limited) }, files, options);
        assert.equal(result.applied.length, 4);
        const owners = await admin.query(
          "SELECT relname, pg_get_userbyid(relowner) AS owner FROM pg_class WHERE relname IN ('owned', 'mine', 'owned_email', 'after_index') ORDER BY relname",
        );
        assert.deepEqual(
          owners.rows.map((r) => [r.relname, r.owner]),
          [
            ['after_index', deployer],
            ['mine', deployer],
            ['owned', owner],
            ['owned_email', owner],
          ],
        );
        const history = await admin.query(
          "SELECT version::int, success, pg_get_userbyid(relowner) AS table_owner FROM lockstep.schema_history, pg_class WHERE oid = 'lockstep.schema_history'::regclass ORDER BY version",
        );
        assert.deepEqual(
          history.rows.map((r) => [r.version, r.success]),
          [
            [1, true],
            [2, true],
            [3, true],
            [4, true],
          ],
        );
        assert.equal(history.rows[0].table_owner, deployer);
      } finally {
        await limited.end();
        // Roles outlive the database: drop what they own here, then the roles.
        await admin.query(`DROP OWNED BY ${owner}, ${deployer}`);
        await admin.query(`DROP ROLE ${deployer}; DROP ROLE ${owner}`).catch(() => {});
      }
    });
  });
});

describe('the migration lock across migrations', () => {
  test('a migration that releases every advisory lock does not end the run’s hold on its own', async () => {
    await withDatabase(async (db, client) => {
      const held = `EXISTS (SELECT FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory' AND granted AND objsubid = 2 AND classid = '${LOCK_CLASS}'::oid AND objid = '${LOCK_OBJ}'::oid)`;
      const files = migrations({
        '0001_unlock.sql': 'SELECT pg_advisory_unlock_all();\n',
        '0002_check.sql': `CREATE TABLE held AS SELECT ${held} AS held;\n`,
        '0003_unlock_again.sql': '-- lockstep:no-transaction\nSELECT pg_advisory_unlock_all();\nSELECT 1;\n',
        '0004_check_again.sql': `INSERT INTO held SELECT ${held};\n`,
      });
      await WAYS['in one run'](db, files);
      const rows = await client.query('SELECT held FROM held');
      assert.deepEqual(
        rows.rows.map((r) => r.held),
        [true, true],
      );
    });
  });

  test('when another run takes the lock a migration released, the run stops with LockLostError before the next', async () => {
    await withDatabase(async (db, client) => {
      const runner = await db.connect();
      const thief = await db.connect();
      let stealing: Promise<void> | undefined;
      const steal = async () => {
        for (let i = 0; i < 200; i++) {
          const { rows } = await thief.query('SELECT pg_try_advisory_lock($1, $2) AS got', [
            LOCK_CLASS,
            LOCK_OBJ,
          ]);
          if (rows[0].got) return;
          await new Promise((r) => setTimeout(r, 10));
        }
        throw new Error('the lock never came free');
      };
      const files = migrations({
        '0001_unlock.sql':
          '-- lockstep:no-transaction\nSELECT pg_advisory_unlock_all();\nSELECT pg_sleep(1);\n',
        '0002_next.sql': 'CREATE TABLE must_not_exist (id int);\n',
      });
      const events: EngineEvent[] = [];
      await assert.rejects(
        migrate(
          {
            session: pgSession(runner),
            onEvent: (e) => {
              events.push(e);
              if (e.type === 'migration-start' && e.migration.version === '1') stealing = steal();
            },
          },
          files,
          options,
        ),
        (err: unknown) => {
          assert.ok(err instanceof LockLostError, String(err));
          assert.equal(err.name, 'LockLostError');
          assert.match(err.message, /another run holds it now/);
          return true;
        },
      );
      await stealing;
      assert.equal(
        (await one(client, "SELECT to_regclass('must_not_exist') IS NULL AS absent")).absent,
        true,
      );
    });
  });
});

describe('a statement-by-statement migration that is cut off', () => {
  test('leaves a history row naming the statement it reached; the next run starts it again from the top', async () => {
    await withDatabase(async (db, observer) => {
      const runner = await db.connect();
      const pid = (await one(runner, 'SELECT pg_backend_pid() AS pid')).pid;
      const files = migrations({
        '0001_table.sql': 'CREATE TABLE t (id int);\n',
        '0002_index.sql':
          '-- lockstep:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_id ON t (id);\nSELECT pg_sleep(30);\nCREATE TABLE after_sleep (id int);\n',
      });
      const run = migrate({ session: pgSession(runner) }, files, options);
      run.catch(() => {}); // asserted below; it may reject before the assertion is attached
      for (let i = 0; ; i++) {
        const { rows } = await observer.query(
          "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND query LIKE '%pg_sleep(30)%'",
          [pid],
        );
        if (rows.length > 0) break;
        assert.ok(i < 1000, 'the migration never reached its second statement');
        await new Promise((r) => setTimeout(r, 20));
      }
      await observer.query('SELECT pg_terminate_backend($1)', [pid]);
      await assert.rejects(run, DatabaseUnavailableError);

      const row = await one(
        observer,
        'SELECT success, failed_statement, error FROM lockstep.schema_history WHERE version = 2',
      );
      assert.equal(row.success, false);
      assert.equal(row.failed_statement, 2);
      assert.match(row.error, /stopped during statement 2/);

      const fresh = await db.connect();
      const p = await plan({ session: pgSession(fresh) }, files);
      assert.deepEqual(
        p.pending.map((m) => [m.version, m.failedAtStatement]),
        [['2', 2]],
      );
      const fixed = migrations({
        '0001_table.sql': 'CREATE TABLE t (id int);\n',
        '0002_index.sql':
          '-- lockstep:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_id ON t (id);\nCREATE TABLE after_sleep (id int);\n',
      });
      await migrate({ session: pgSession(fresh) }, fixed, { ...options, allowOutOfOrder: true });
      const done = await one(
        observer,
        'SELECT success, failed_statement FROM lockstep.schema_history WHERE version = 2',
      );
      assert.deepEqual(done, { success: true, failed_statement: null });
    });
  });
});

describe('cleanup that fails', () => {
  test('a failed ROLLBACK after a failed migration is reported, and the migration’s error is what is thrown', async () => {
    await withDatabase(async (db) => {
      const runner = await db.connect();
      const real = pgSession(runner);
      const events: EngineEvent[] = [];
      let broke = false;
      const session = {
        script: (sql: string, onResult?: Parameters<typeof real.script>[1]) => {
          if (sql === 'ROLLBACK' && !broke) {
            broke = true;
            // The real rollback still happens, so the session stays usable; the runner is told it failed.
            return real.script(sql).then(() => Promise.reject(new Error('rollback failed (simulated)')));
          }
          return real.script(sql, onResult);
        },
      };
      await assert.rejects(
        migrate(
          { session, onEvent: (e) => events.push(e) },
          migrations({ '0001_bad.sql': 'SELECT 1/0;\n' }),
          { ...options, lockRetries: 0 },
        ),
        MigrationFailedError,
      );
      const failures = events.filter((e) => e.type === 'cleanup-failed');
      assert.deepEqual(
        failures.map((e) => e.type === 'cleanup-failed' && e.action),
        ['ROLLBACK'],
      );
    });
  });
});
