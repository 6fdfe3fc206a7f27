import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import {
  ChecksumMismatchError,
  DatabaseAheadError,
  DatabaseUnavailableError,
  InvalidInputError,
  InvalidMigrationError,
  LockNotAvailableError,
  LockTimeoutError,
  MigrationFailedError,
  OutOfOrderError,
  PhaseOrderError,
} from '../../engine/errors.ts';
import { HistoryTable } from '../../engine/history.ts';
import { type MigrationFile, parseMigrationFiles } from '../../engine/migration-files.ts';
import { planProblem } from '../../engine/plan.ts';
import { type EngineEvent, type EngineOptions, migrate, plan, status } from '../../engine/runner.ts';
import { pgSession, type SqlSession } from '../../engine/session.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const migrations = (entries: Record<string, string>): MigrationFile[] =>
  parseMigrationFiles(Object.entries(entries).map(([name, sql]) => [name, Buffer.from(sql)] as const));

const BASE = {
  '0001_create_accounts.sql': 'CREATE TABLE accounts (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE);',
  '0002_create_orders.sql':
    'CREATE TABLE orders (id bigserial PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts);\nCREATE INDEX orders_account ON orders (account_id);',
  '0003_seed.sql': "INSERT INTO accounts (email) VALUES ('a@example.com'), ('b@example.com');",
};

const options: EngineOptions = { appliedBy: 'release-42', lockRetryDelayMs: 20 };

/** Counts round trips: each script is exactly one. */
function counting(session: SqlSession): SqlSession & { readonly count: number; readonly sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    get count() {
      return sent.length;
    },
    script: (sql, onResult) => {
      sent.push(sql);
      return session.script(sql, onResult);
    },
  };
}

/** A session that does not stream results: the engine must learn what committed from the results alone. */
const notStreaming = (session: SqlSession): SqlSession => ({ script: (sql) => session.script(sql) });

const numbered = (count: number, sql: (i: number) => string): Record<string, string> =>
  Object.fromEntries(
    Array.from({ length: count }, (_, i) => [`${String(i + 1).padStart(4, '0')}_m${i + 1}.sql`, sql(i + 1)]),
  );

async function historyRows(client: pg.Client) {
  const { rows } = await client.query(
    'SELECT version::text, file_name, checksum, applied_by, success, execution_ms, failed_statement, error FROM lockstep.schema_history ORDER BY version',
  );
  return rows;
}

/** The session is usable again: not left inside a transaction, aborted or not. */
async function assertIdle(client: pg.Client): Promise<void> {
  const { rows } = await client.query('SELECT pg_current_xact_id_if_assigned() IS NULL AS idle');
  assert.equal(rows[0].idle, true, 'the session is not left in a transaction');
}

async function tableExists(client: pg.Client, name: string): Promise<boolean> {
  const { rows } = await client.query('SELECT to_regclass($1) IS NOT NULL AS present', [name]);
  return rows[0].present;
}

describe('migrate', () => {
  let db: TestDatabase;
  before(async () => {
    db = await freshDatabase();
  });
  after(async () => {
    await db.drop();
  });

  // Each test gets its own schema-free database state by using its own history table and tables.
  async function fresh(): Promise<{
    client: pg.Client;
    session: SqlSession;
    db: TestDatabase;
    done: () => Promise<void>;
  }> {
    const own = await freshDatabase();
    const client = await own.connect();
    return { client, session: pgSession(client), db: own, done: () => own.drop() };
  }

  /**
   * Runs `work` connected as a new role that may create in a fresh database, after `extraSql` (run as the
   * superuser); drops the database and the role afterwards.
   */
  async function asLimitedRole(prefix: string, extraSql: string, work: (c: pg.Client) => Promise<void>) {
    const { client, db: own, done } = await fresh();
    const role = `${prefix}_${own.name}`;
    try {
      await client.query(
        `CREATE ROLE ${role} LOGIN PASSWORD 'pw'; GRANT CREATE ON DATABASE ${own.name} TO ${role}; GRANT CREATE ON SCHEMA public TO ${role}; ${extraSql}`,
      );
      const url = new URL(own.url);
      url.username = role;
      url.password = 'pw';
      const { default: pgModule } = await import('pg');
      const limited = new pgModule.Client({ connectionString: url.toString() });
      await limited.connect();
      try {
        await work(limited);
      } finally {
        await limited.end();
      }
    } finally {
      await client.query(`DROP OWNED BY ${role}`).catch(() => {});
      await done();
      await db.connect().then(async (c) => c.query(`DROP ROLE IF EXISTS ${role}`));
    }
  }

  test('applies from empty in order, one transaction each, and records history', async () => {
    const { client, session, done } = await fresh();
    try {
      const files = migrations(BASE);
      const result = await migrate({ session }, files, options);
      assert.deepEqual(
        result.applied.map((a) => a.file),
        ['0001_create_accounts.sql', '0002_create_orders.sql', '0003_seed.sql'],
      );
      assert.equal(result.incomplete, false);
      assert.deepEqual(result.pending, []);
      const rows = await historyRows(client);
      assert.deepEqual(
        rows.map((r) => [r.version, r.file_name, r.applied_by, r.success]),
        [
          ['1', '0001_create_accounts.sql', 'release-42', true],
          ['2', '0002_create_orders.sql', 'release-42', true],
          ['3', '0003_seed.sql', 'release-42', true],
        ],
      );
      assert.deepEqual(
        rows.map((r) => r.checksum),
        files.map((f) => f.checksum),
      );
      assert.ok(rows.every((r) => Number.isInteger(r.execution_ms) && r.execution_ms >= 0));
      assert.equal((await client.query('SELECT count(*)::int AS n FROM accounts')).rows[0].n, 2);
    } finally {
      await done();
    }
  });

  test('a re-run is a no-op costing one round trip, and a new file is then the only one applied', async () => {
    const { session, done } = await fresh();
    try {
      await migrate({ session }, migrations(BASE), options);
      const counted = counting(session);
      const again = await migrate({ session: counted }, migrations(BASE), options);
      assert.deepEqual(again.applied, []);
      assert.equal(counted.count, 1);

      const more = await migrate(
        { session },
        migrations({ ...BASE, '0004_add_name.sql': 'ALTER TABLE accounts ADD COLUMN name text;' }),
        options,
      );
      assert.deepEqual(
        more.applied.map((a) => a.version),
        ['4'],
      );
    } finally {
      await done();
    }
  });

  test('transactional migrations go in groups of up to 100 per round trip, each its own transaction', async () => {
    const { client, session, done } = await fresh();
    try {
      const counted = counting(session);
      const events: EngineEvent[] = [];
      const result = await migrate(
        { session: counted, onEvent: (e) => events.push(e) },
        migrations(numbered(250, (i) => `CREATE TABLE t${i} (id int);`)),
        options,
      );
      assert.equal(result.applied.length, 250);
      // read, other tools' histories (none: lockstep has none yet), lock, re-read, schema check, create history,
      // may-run-DO check, 3 groups, unlock
      assert.equal(counted.count, 3 + 8);
      assert.equal((await historyRows(client)).length, 250);
      // Each migration starts after the one before it is applied, exactly once, in order.
      const progress = events
        .filter((e) => e.type === 'migration-start' || e.type === 'migration-applied')
        .map((e) => `${e.type === 'migration-start' ? 'start' : 'applied'} ${e.migration.version}`);
      assert.deepEqual(
        progress,
        Array.from({ length: 250 }, (_, i) => [`start ${i + 1}`, `applied ${i + 1}`]).flat(),
      );
    } finally {
      await done();
    }
  });

  test('inside a group each migration is reported as it commits, not when the group ends', async () => {
    const { db: own, session, done } = await fresh();
    const gate = await own.connect();
    try {
      // 0002 waits for an advisory lock the test releases only when it hears that 0001 is applied. Were the
      // COMMIT results held back until the script ended, 0002 would time out waiting and the run would fail.
      await gate.query('SELECT pg_advisory_lock(4242)');
      const events: EngineEvent[] = [];
      const result = await migrate(
        {
          session,
          onEvent: (e) => {
            events.push(e);
            if (e.type === 'migration-applied' && e.migration.version === '1')
              gate.query('SELECT pg_advisory_unlock(4242)').catch(() => {});
          },
        },
        migrations({
          '0001_first.sql': 'CREATE TABLE first (id int);',
          '0002_gated.sql': 'SELECT pg_advisory_xact_lock(4242);\nCREATE TABLE gated (id int);',
          '0003_third.sql': 'CREATE TABLE third (id int);',
        }),
        { ...options, lockTimeoutMs: 3_000, lockRetries: 0 },
      );
      assert.deepEqual(
        result.applied.map((a) => a.version),
        ['1', '2', '3'],
      );
    } finally {
      await gate.end();
      await done();
    }
  });

  test('a role that may not run DO blocks gets one migration per round trip, still each reported', async () => {
    await asLimitedRole('nodo', 'REVOKE USAGE ON LANGUAGE plpgsql FROM PUBLIC', async (limited) => {
      const counted = counting(pgSession(limited));
      const result = await migrate(
        { session: counted },
        migrations(numbered(5, (i) => `CREATE TABLE t${i} (id int);`)),
        options,
      );
      assert.equal(result.applied.length, 5);
      assert.equal(counted.count, 5 + 8);
    });
  });

  test('under a deadline every migration is its own round trip', async () => {
    const { session, done } = await fresh();
    try {
      const counted = counting(session);
      await migrate({ session: counted }, migrations(numbered(20, (i) => `CREATE TABLE t${i} (id int);`)), {
        ...options,
        deadline: Date.now() + 600_000,
      });
      assert.equal(counted.count, 20 + 7);
    } finally {
      await done();
    }
  });

  test('each history row records its own migration’s time, not the group’s', async () => {
    const { client, session, done } = await fresh();
    try {
      const result = await migrate(
        { session },
        migrations({
          '0001_slow.sql': 'SELECT pg_sleep(0.3);\nCREATE TABLE slow (id int);',
          '0002_fast.sql': 'CREATE TABLE fast (id int);',
        }),
        options,
      );
      const [slow, fast] = await historyRows(client);
      assert.ok(slow.execution_ms >= 300, `slow: ${slow.execution_ms} ms`);
      assert.ok(fast.execution_ms < 200, `fast: ${fast.execution_ms} ms`);
      assert.deepEqual(
        result.applied.map((a) => a.durationMs),
        [slow.execution_ms, fast.execution_ms],
        'durations reported are the server’s',
      );
    } finally {
      await done();
    }
  });

  for (const [label, wrap] of [
    ['streamed', (s: SqlSession) => s],
    ['not streamed', notStreaming],
  ] as const) {
    test(`a failure inside a group (results ${label}): those before it stay applied, nothing after it runs`, async () => {
      const { client, session, done } = await fresh();
      try {
        const files = migrations({
          ...numbered(3, (i) => `CREATE TABLE before_${i} (id int);`),
          '0004_bad.sql': 'CREATE TABLE bad (id int);\nSELECT 1 / 0;',
          '0005_after.sql': 'CREATE TABLE after_bad (id int);',
        });
        const events: EngineEvent[] = [];
        await assert.rejects(
          migrate({ session: wrap(session), onEvent: (e) => events.push(e) }, files, options),
          (err: unknown) => {
            assert.ok(err instanceof MigrationFailedError, String(err));
            assert.equal(err.failure.sqlState, '22012');
            assert.deepEqual(err.failure.location, { file: '0004_bad.sql', line: 2, column: 1 });
            assert.deepEqual(err.failure.appliedBefore, ['1', '2', '3']);
            return true;
          },
        );
        assert.deepEqual(
          (await historyRows(client)).map((r) => r.version),
          ['1', '2', '3'],
        );
        assert.equal(await tableExists(client, 'before_3'), true);
        assert.equal(await tableExists(client, 'bad'), false);
        assert.equal(await tableExists(client, 'after_bad'), false);
        assert.deepEqual(
          events.filter((e) => e.type === 'migration-applied').map((e) => e.migration.version),
          ['1', '2', '3'],
        );
        await assertIdle(client);
      } finally {
        await done();
      }
    });
  }

  test('a migration rejected at COMMIT stops the group: the next one in the same script does not run', async () => {
    const { client, session, done } = await fresh();
    try {
      const files = migrations({
        '0001_parents.sql': 'CREATE TABLE parents (id int PRIMARY KEY);',
        '0002_orphan.sql':
          'CREATE TABLE children (parent int REFERENCES parents DEFERRABLE INITIALLY DEFERRED);\nINSERT INTO children VALUES (42);',
        '0003_after.sql': 'CREATE TABLE after_orphan (id int);',
      });
      await assert.rejects(migrate({ session }, files, options), (err: unknown) => {
        assert.ok(err instanceof MigrationFailedError, String(err));
        assert.equal(err.failure.sqlState, '23503');
        assert.equal(err.failure.location.file, '0002_orphan.sql');
        assert.match(err.failure.hint ?? '', /failed while committing/);
        return true;
      });
      assert.deepEqual(
        (await historyRows(client)).map((r) => r.version),
        ['1'],
      );
      assert.equal(await tableExists(client, 'children'), false);
      assert.equal(await tableExists(client, 'after_orphan'), false);
    } finally {
      await done();
    }
  });

  test('after a blocked migration in a group commits, the next one blocked starts its retries from the first', async () => {
    const db = await freshDatabase();
    try {
      const runner = await db.connect();
      await migrate({ session: pgSession(runner) }, migrations(BASE), options);
      const [onAccounts, onOrders] = [await db.connect(), await db.connect()];
      await onAccounts.query('BEGIN; LOCK TABLE accounts IN ACCESS SHARE MODE');
      await onOrders.query('BEGIN; LOCK TABLE orders IN ACCESS SHARE MODE');
      const events: EngineEvent[] = [];
      const retries = () =>
        events.flatMap((e) => (e.type === 'migration-retry' ? [{ file: e.file, attempt: e.attempt }] : []));
      const run = migrate(
        { session: pgSession(runner), onEvent: (e) => events.push(e) },
        migrations({
          ...BASE,
          '0004_accounts_name.sql': 'ALTER TABLE accounts ADD COLUMN name text;',
          '0005_orders_note.sql': 'ALTER TABLE orders ADD COLUMN note text;',
        }),
        { ...options, lockTimeoutMs: 50, lockRetries: 10, lockRetryDelayMs: 20 },
      );
      while (retries().length < 2) await new Promise((r) => setTimeout(r, 5));
      await onAccounts.query('COMMIT');
      while (!retries().some((r) => r.file === '0005_orders_note.sql'))
        await new Promise((r) => setTimeout(r, 5));
      await onOrders.query('COMMIT');
      const result = await run;
      assert.deepEqual(
        result.applied.map((a) => a.version),
        ['4', '5'],
      );
      assert.deepEqual(
        retries().find((r) => r.file === '0005_orders_note.sql'),
        { file: '0005_orders_note.sql', attempt: 1 },
      );
      assert.ok(retries().filter((r) => r.file === '0004_accounts_name.sql').length >= 2);
    } finally {
      await db.drop();
    }
  });

  test('a lock timeout inside a group keeps what committed and retries from the blocked migration', async () => {
    const db = await freshDatabase();
    try {
      const runner = await db.connect();
      await migrate({ session: pgSession(runner) }, migrations(BASE), options);
      const blocker = await db.connect();
      await blocker.query('BEGIN; LOCK TABLE accounts IN ACCESS SHARE MODE');
      const events: EngineEvent[] = [];
      const files = migrations({
        ...BASE,
        '0004_free.sql': 'CREATE TABLE free (id int);',
        '0005_add_name.sql': 'ALTER TABLE accounts ADD COLUMN name text;',
        '0006_after.sql': 'CREATE TABLE after_name (id int);',
      });
      const run = migrate({ session: pgSession(runner), onEvent: (e) => events.push(e) }, files, {
        ...options,
        lockTimeoutMs: 50,
        lockRetries: 10,
        lockRetryDelayMs: 20,
      });
      while (events.filter((e) => e.type === 'migration-retry').length < 2)
        await new Promise((r) => setTimeout(r, 5));
      const { rows: meanwhile } = await blocker.query(
        'SELECT version::text FROM lockstep.schema_history ORDER BY version',
      );
      assert.deepEqual(
        meanwhile.map((r) => r.version),
        ['1', '2', '3', '4'],
        'the migration before the blocked one committed and stays committed',
      );
      await blocker.query('COMMIT');
      const result = await run;
      assert.deepEqual(
        result.applied.map((a) => a.version),
        ['4', '5', '6'],
      );
      const retries = events.filter((e) => e.type === 'migration-retry');
      assert.ok(retries.every((e) => e.type === 'migration-retry' && e.file === '0005_add_name.sql'));
      assert.deepEqual(
        events.filter((e) => e.type === 'migration-start').map((e) => e.migration.version),
        ['4', '5', '6'],
        'a retried migration is announced once',
      );
    } finally {
      await db.drop();
    }
  });

  test('an edited applied file is refused by name and nothing is changed', async () => {
    const { client, session, done } = await fresh();
    try {
      await migrate({ session }, migrations(BASE), options);
      const edited = migrations({
        ...BASE,
        '0002_create_orders.sql': `${BASE['0002_create_orders.sql']}\n-- tweak`,
        '0004_add_name.sql': 'ALTER TABLE accounts ADD COLUMN name text;',
      });
      await assert.rejects(migrate({ session }, edited, options), (err: unknown) => {
        assert.ok(err instanceof ChecksumMismatchError);
        assert.equal(err.name, 'ChecksumMismatchError');
        assert.deepEqual(
          err.changed.map((c) => c.file),
          ['0002_create_orders.sql'],
        );
        assert.match(err.message, /0002_create_orders\.sql/);
        return true;
      });
      assert.equal((await historyRows(client)).length, 3);
      const { rows } = await client.query(
        "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'name'",
      );
      assert.equal(rows[0].n, 0);
    } finally {
      await done();
    }
  });

  test('failing SQL rolls the migration back fully and names file, line, column, SQLSTATE and what ran before', async () => {
    const { client, session, done } = await fresh();
    try {
      const files = migrations({
        ...BASE,
        '0004_bad.sql':
          'CREATE TABLE audit (id int);\n\nUPDATE accounts\n   SET email = lower(missing_column);\n',
      });
      await assert.rejects(migrate({ session }, files, options), (err: unknown) => {
        assert.ok(err instanceof MigrationFailedError);
        assert.equal(err.name, 'MigrationFailedError');
        assert.equal(err.failure.sqlState, '42703');
        assert.deepEqual(err.failure.location, { file: '0004_bad.sql', line: 4, column: 22 });
        assert.match(
          err.failure.statementExcerpt ?? '',
          /^UPDATE accounts SET email = lower\(missing_column\)$/,
        );
        assert.deepEqual(err.failure.appliedBefore, ['1', '2', '3']);
        assert.match(err.message, /0004_bad\.sql:4:22 \[SQLSTATE 42703\]/);
        return true;
      });
      assert.equal(
        await tableExists(client, 'audit'),
        false,
        'the first statement of the failed migration was rolled back',
      );
      assert.deepEqual(
        (await historyRows(client)).map((r) => r.version),
        ['1', '2', '3'],
      );
      await assertIdle(client);
    } finally {
      await done();
    }
  });

  test('a failure PostgreSQL gives no position for is located by statement', async () => {
    const { client, session, done } = await fresh();
    try {
      const files = migrations({
        ...BASE,
        '0004_unique_name.sql':
          "UPDATE accounts SET email = 'same@example.com';\n-- both rows now collide\nCREATE UNIQUE INDEX accounts_email_lower ON accounts (lower(email));\n",
      });
      await assert.rejects(migrate({ session }, files, options), (err: unknown) => {
        assert.ok(err instanceof MigrationFailedError);
        assert.equal(err.failure.sqlState, '23505');
        assert.deepEqual(err.failure.location, { file: '0004_unique_name.sql', line: 1, column: 1 });
        return true;
      });
      const files2 = migrations({
        ...BASE,
        '0004_unique_name.sql':
          "UPDATE accounts SET email = upper(email);\n-- collide after lower()\nINSERT INTO accounts (email) VALUES ('a@EXAMPLE.com');\nCREATE UNIQUE INDEX accounts_email_lower ON accounts (lower(email));\n",
      });
      await assert.rejects(migrate({ session }, files2, options), (err: unknown) => {
        assert.ok(err instanceof MigrationFailedError);
        assert.equal(err.failure.sqlState, '23505');
        assert.deepEqual(err.failure.location, { file: '0004_unique_name.sql', line: 4, column: 1 });
        assert.match(err.failure.statementExcerpt ?? '', /^CREATE UNIQUE INDEX accounts_email_lower/);
        return true;
      });
      const { rows } = await client.query(
        "SELECT count(*)::int AS n FROM accounts WHERE email = 'a@EXAMPLE.com'",
      );
      assert.equal(rows[0].n, 0);
    } finally {
      await done();
    }
  });

  test('nothing is applied when a later pending file has a syntax error', async () => {
    const { client, session, done } = await fresh();
    try {
      const files = migrations({ ...BASE, '0004_typo.sql': 'ALTER TABLE accounts ADD COLUM name text;' });
      await assert.rejects(migrate({ session }, files, options), (err: unknown) => {
        assert.ok(err instanceof InvalidMigrationError);
        assert.equal(err.problems[0]?.file, '0004_typo.sql');
        assert.equal(err.problems[0]?.line, 1);
        assert.match(err.message, /0004_typo\.sql:1:\d+: syntax error/);
        return true;
      });
      assert.equal(await tableExists(client, 'accounts'), false);
    } finally {
      await done();
    }
  });

  test('BEGIN or COMMIT inside a transactional migration is refused before anything runs', async () => {
    const { client, session, done } = await fresh();
    try {
      const files = migrations({
        '0001_a.sql': 'CREATE TABLE a (id int);\nCOMMIT;\nCREATE TABLE b (id int);',
      });
      await assert.rejects(migrate({ session }, files, options), /0001_a\.sql:2:1: COMMIT is not allowed/);
      assert.equal(await tableExists(client, 'a'), false);
    } finally {
      await done();
    }
  });

  test('CREATE INDEX CONCURRENTLY runs with the directive and is refused with a hint without it', async () => {
    const { client, session, done } = await fresh();
    try {
      const index = 'CREATE INDEX CONCURRENTLY accounts_email_idx ON accounts (email);';
      await assert.rejects(
        migrate({ session }, migrations({ ...BASE, '0004_index.sql': index }), options),
        (err: unknown) => {
          assert.ok(err instanceof InvalidMigrationError);
          assert.match(
            err.message,
            /0004_index\.sql:1:1: CREATE INDEX CONCURRENTLY cannot run inside a transaction: add "-- lockstep:no-transaction"/,
          );
          return true;
        },
      );
      const result = await migrate(
        { session },
        migrations({ ...BASE, '0004_index.sql': `-- lockstep:no-transaction\n${index}` }),
        options,
      );
      assert.deepEqual(
        result.applied.map((a) => a.version),
        ['1', '2', '3', '4'],
      );
      const { rows } = await client.query(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'accounts_email_idx'::regclass",
      );
      assert.equal(rows[0].indisvalid, true);
    } finally {
      await done();
    }
  });

  test('when PostgreSQL refuses a statement inside a transaction block the error says to add the directive', async () => {
    const { session, done } = await fresh();
    try {
      await assert.rejects(
        migrate(
          { session },
          migrations({ '0001_reindex.sql': 'CREATE TABLE a (id int);\nREINDEX SCHEMA public;' }),
          options,
        ),
        (err: unknown) => {
          assert.ok(err instanceof MigrationFailedError);
          assert.equal(err.failure.sqlState, '25001');
          assert.match(err.failure.hint ?? '', /add "-- lockstep:no-transaction" as the first line/);
          assert.equal(err.failure.location.line, 2);
          return true;
        },
      );
    } finally {
      await done();
    }
  });

  test('a failed non-transactional migration is recorded with its statement, then retried from the start', async () => {
    const { client, session, done } = await fresh();
    try {
      const broken = migrations({
        ...BASE,
        '0004_indexes.sql':
          '-- lockstep:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS a_email ON accounts (email);\nCREATE INDEX CONCURRENTLY o_missing ON orders (no_such_column);\n',
      });
      await assert.rejects(migrate({ session }, broken, options), (err: unknown) => {
        assert.ok(err instanceof MigrationFailedError);
        // PostgreSQL gives no position for a missing index column: the statement's start is named.
        assert.deepEqual(err.failure.location, { file: '0004_indexes.sql', line: 3, column: 1 });
        assert.match(err.failure.hint ?? '', /outside a transaction/);
        return true;
      });
      const failed = (await historyRows(client)).find((r) => r.version === '4');
      assert.equal(failed?.success, false);
      assert.equal(failed?.failed_statement, 2);
      assert.match(failed?.error ?? '', /no_such_column/);

      const p = await plan({ session }, broken);
      assert.deepEqual(
        p.pending.map((m) => [m.version, m.failedAtStatement]),
        [['4', 2]],
      );

      const fixed = migrations({
        ...BASE,
        '0004_indexes.sql':
          '-- lockstep:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS a_email ON accounts (email);\nCREATE INDEX CONCURRENTLY IF NOT EXISTS o_account ON orders (account_id);\n',
      });
      const result = await migrate({ session }, fixed, options);
      assert.deepEqual(
        result.applied.map((a) => a.version),
        ['4'],
      );
      const row = (await historyRows(client)).find((r) => r.version === '4');
      assert.equal(row?.success, true);
      assert.equal(row?.failed_statement, null);
    } finally {
      await done();
    }
  });

  test('out-of-order pending migrations are refused unless allowed', async () => {
    const { session, done } = await fresh();
    try {
      const { '0002_create_orders.sql': skipped, ...withoutTwo } = BASE;
      await migrate({ session }, migrations(withoutTwo), options);
      await assert.rejects(migrate({ session }, migrations(BASE), options), (err: unknown) => {
        assert.ok(err instanceof OutOfOrderError);
        assert.deepEqual(err.files, ['0002_create_orders.sql']);
        assert.equal(err.highestApplied, '3');
        return true;
      });
      const result = await migrate({ session }, migrations(BASE), { ...options, allowOutOfOrder: true });
      assert.deepEqual(
        result.applied.map((a) => a.file),
        ['0002_create_orders.sql'],
      );
      assert.match(result.warnings.join('\n'), /applied out of order: 0002_create_orders\.sql/);
      assert.ok(skipped);
    } finally {
      await done();
    }
  });

  test('expand, deploy, contract: before-deploy runs leave the after-deploy file; the after-deploy run drops the column', async () => {
    const { client, session, done } = await fresh();
    try {
      const release = migrations({
        '0001_create.sql': 'CREATE TABLE people (id int PRIMARY KEY, fullname text);',
        '0002_drop_fullname.sql': '-- lockstep:after-deploy\nALTER TABLE people DROP COLUMN fullname;',
        '0003_add_names.sql': 'ALTER TABLE people ADD COLUMN given text, ADD COLUMN family text;',
      });
      const columns = async () =>
        (
          await client.query(
            "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) AS c FROM information_schema.columns WHERE table_name = 'people'",
          )
        ).rows[0].c;

      await assert.rejects(
        migrate({ session }, release, { ...options, phase: 'after-deploy' }),
        (err: unknown) => err instanceof PhaseOrderError && err.beforeDeploy.length === 2,
      );
      const expand = await migrate({ session }, release, { ...options, phase: 'before-deploy' });
      assert.deepEqual(
        expand.applied.map((a) => a.file),
        ['0001_create.sql', '0003_add_names.sql'],
      );
      assert.deepEqual(
        expand.deferred.map((m) => m.file),
        ['0002_drop_fullname.sql'],
      );
      assert.equal(
        await columns(),
        'id,fullname,given,family',
        'the old column stays for the running version',
      );
      const again = await migrate({ session }, release, { ...options, phase: 'before-deploy' });
      assert.deepEqual(again.applied, [], 'a second before-deploy run is a no-op');

      const contract = await migrate({ session }, release, { ...options, phase: 'after-deploy' });
      assert.deepEqual(
        contract.applied.map((a) => a.file),
        ['0002_drop_fullname.sql'],
      );
      assert.deepEqual(contract.warnings, [], 'not out of order: it follows no applied after-deploy file');
      assert.equal(await columns(), 'id,given,family');
      const status = await plan({ session }, release);
      assert.deepEqual(status.pending, []);
    } finally {
      await done();
    }
  });

  test('phase all applies before-deploy files first, then after-deploy ones', async () => {
    const { session, done } = await fresh();
    try {
      const release = migrations({
        '0001_create.sql': 'CREATE TABLE things (id int PRIMARY KEY, old text);',
        '0002_drop_old.sql': '-- lockstep:after-deploy\nALTER TABLE things DROP COLUMN old;',
        '0003_add.sql': 'ALTER TABLE things ADD COLUMN new text;',
      });
      const events: string[] = [];
      const result = await migrate(
        { session, onEvent: (e) => e.type === 'migration-applied' && events.push(e.migration.file) },
        release,
        options,
      );
      assert.deepEqual(events, ['0001_create.sql', '0003_add.sql', '0002_drop_old.sql']);
      assert.deepEqual(
        result.applied.map((a) => a.file),
        events,
      );
    } finally {
      await done();
    }
  });

  test('a database ahead of the files is reported by default and refused on request', async () => {
    const { session, done } = await fresh();
    try {
      await migrate({ session }, migrations(BASE), options);
      const { '0003_seed.sql': _, ...older } = BASE;
      const result = await migrate({ session }, migrations(older), options);
      assert.deepEqual(result.applied, []);
      assert.deepEqual(result.databaseAhead, [{ version: '3', file: '0003_seed.sql' }]);
      assert.match(result.warnings.join('\n'), /ahead of this code/);
      await assert.rejects(
        migrate({ session }, migrations(older), { ...options, refuseDatabaseAhead: true }),
        DatabaseAheadError,
      );
      const s = await status({ session }, migrations(older));
      assert.deepEqual(
        s.applied.map((a) => a.version),
        ['1', '2'],
      );
      assert.deepEqual(s.databaseAhead, [{ version: '3', file: '0003_seed.sql' }]);
    } finally {
      await done();
    }
  });

  test('plan reports pending files that migrate would refuse', async () => {
    const { session, done } = await fresh();
    try {
      const p = await plan(
        { session },
        migrations({
          ...BASE,
          '0004_typo.sql': 'ALTER TABLE accounts ADD COLUM name text;',
          '0005_tx.sql': 'COMMIT;',
        }),
      );
      assert.deepEqual(
        p.invalid.map((i) => [i.file, i.line]),
        [
          ['0004_typo.sql', 1],
          ['0005_tx.sql', 1],
        ],
      );
      assert.ok(planProblem(p, {}) instanceof InvalidMigrationError);
    } finally {
      await done();
    }
  });

  test('plan changes nothing and reports pending and drift', async () => {
    const { client, session, done } = await fresh();
    try {
      const before = await plan({ session }, migrations(BASE));
      assert.deepEqual(
        before.pending.map((p) => p.version),
        ['1', '2', '3'],
      );
      assert.equal(
        await tableExists(client, 'lockstep.schema_history'),
        false,
        'plan does not even create the history table',
      );
      await migrate({ session }, migrations(BASE), options);
      const drifted = await plan(
        { session },
        migrations({ ...BASE, '0001_create_accounts.sql': 'CREATE TABLE accounts (id int);' }),
      );
      assert.deepEqual(
        drifted.checksumMismatches.map((c) => c.file),
        ['0001_create_accounts.sql'],
      );
      assert.deepEqual(drifted.pending, []);
    } finally {
      await done();
    }
  });

  test('invalid options are rejected by name before anything runs', async () => {
    const { session, done } = await fresh();
    try {
      const counted = counting(session);
      await assert.rejects(
        migrate({ session: counted }, migrations(BASE), { ...options, lockTimeoutMs: 0 }),
        (err: unknown) => {
          assert.ok(err instanceof InvalidInputError);
          assert.equal(err.field, 'lockTimeoutMs');
          return true;
        },
      );
      await assert.rejects(
        migrate({ session: counted }, migrations(BASE), { ...options, lockWaitMs: -1 }),
        /lockWaitMs/,
      );
      await assert.rejects(
        migrate({ session: counted }, migrations(BASE), { ...options, appliedBy: '' }),
        /appliedBy/,
      );
      await assert.rejects(
        migrate({ session: counted }, migrations(BASE), { ...options, historyTable: 'x; DROP TABLE y' }),
        /history table/,
      );
      assert.equal(counted.count, 0);
    } finally {
      await done();
    }
  });

  test('a role that may only create in its database can run migrations', async () => {
    await asLimitedRole('migrator', '', async (limited) => {
      const result = await migrate({ session: pgSession(limited) }, migrations(BASE), options);
      assert.equal(result.applied.length, 3);
      const { rows } = await limited.query('SHOW client_connection_check_interval');
      assert.equal(rows[0].client_connection_check_interval, '1s');
    });
  });
});

describe('connection loss', () => {
  test('a connection lost mid-migration is a DatabaseUnavailableError and the migration leaves no trace', async () => {
    const db = await freshDatabase();
    try {
      const runner = await db.connect();
      const observer = await db.connect();
      const pid = (await runner.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      const run = migrate(
        { session: pgSession(runner) },
        migrations({ '0001_slow.sql': 'CREATE TABLE half_done (id int);\nSELECT pg_sleep(30);' }),
        options,
      );
      run.catch(() => {}); // asserted below; it may reject before the assertion is attached
      for (;;) {
        const { rows } = await observer.query(
          "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND query LIKE '%pg_sleep(30)%'",
          [pid],
        );
        if (rows.length > 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await observer.query('SELECT pg_terminate_backend($1)', [pid]);
      await assert.rejects(run, (err: unknown) => {
        assert.ok(err instanceof DatabaseUnavailableError);
        assert.equal(err.name, 'DatabaseUnavailableError');
        assert.match(err.message, /running again is safe/);
        return true;
      });
      assert.equal(await tableExists(observer, 'half_done'), false);
      assert.deepEqual(await historyRows(observer), []);
    } finally {
      await db.drop();
    }
  });
});

describe('one run at a time', () => {
  test('ten runners started at once: every migration applied exactly once, every runner succeeds', async () => {
    const db = await freshDatabase();
    try {
      const files = migrations({
        ...BASE,
        '0004_count.sql': 'CREATE TABLE IF NOT EXISTS runs (n int); INSERT INTO runs VALUES (1);',
        '0005_slow.sql': 'SELECT pg_sleep(0.2); INSERT INTO runs VALUES (2);',
      });
      const clients = await Promise.all(
        Array.from({ length: 10 }, (_, i) => db.connect({ applicationName: `runner-${i}` })),
      );
      const results = await Promise.all(
        clients.map((c) => migrate({ session: pgSession(c) }, files, options)),
      );
      const applied = results.flatMap((r) => r.applied.map((a) => a.version)).sort();
      assert.deepEqual(applied, ['1', '2', '3', '4', '5']);
      assert.ok(results.every((r) => r.pending.length === 0 && !r.incomplete));
      const check = clients[0] as pg.Client;
      assert.deepEqual(
        (await check.query('SELECT n FROM runs ORDER BY n')).rows.map((r) => r.n),
        [1, 2],
      );
      assert.equal((await historyRows(check)).length, 5);
    } finally {
      await db.drop();
    }
  });

  test('a runner waiting for the lock does not deadlock the holder’s CREATE INDEX CONCURRENTLY', async () => {
    const db = await freshDatabase();
    try {
      const files = migrations({
        '0001_create_accounts.sql': 'CREATE TABLE accounts (id int PRIMARY KEY, email text);',
        '0002_index.sql':
          '-- lockstep:no-transaction\nSELECT pg_sleep(1.2);\nCREATE INDEX CONCURRENTLY IF NOT EXISTS accounts_email ON accounts (email);',
      });
      const [first, second] = [await db.connect(), await db.connect()];
      const events: EngineEvent[] = [];
      const holderEvents: EngineEvent[] = [];
      let holderStarted!: () => void;
      const started = new Promise<void>((r) => {
        holderStarted = r;
      });
      const holder = migrate(
        {
          session: pgSession(first),
          onEvent: (e) => e.type === 'migration-start' && e.migration.version === '2' && holderStarted(),
        },
        files,
        options,
      );
      await started;
      // Waiting well over deadlock_timeout (1 s) while the index is built: a blocked pg_advisory_lock would deadlock.
      const waiter = migrate({ session: pgSession(second), onEvent: (e) => events.push(e) }, files, options);
      const [a, b] = await Promise.all([holder, waiter]);
      assert.equal(a.applied.length + b.applied.length, 2);
      assert.equal(events[0]?.type, 'lock-wait');
      assert.deepEqual(
        holderEvents.filter((e) => e.type === 'migration-retry'),
        [],
        'the index build was not aborted as a deadlock victim',
      );
      const { rows } = await first.query(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'accounts_email'::regclass",
      );
      assert.equal(rows[0]?.indisvalid, true);
    } finally {
      await db.drop();
    }
  });

  test('a lock wait that runs out names the holder', async () => {
    const db = await freshDatabase();
    try {
      const holder = await db.connect({ applicationName: 'release-from-elsewhere' });
      const [k1, k2] = new HistoryTable().lockKey;
      await holder.query('SELECT pg_advisory_lock($1, $2)', [k1, k2]);
      const holderPid = (await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
      const runner = await db.connect();
      const events: EngineEvent[] = [];
      await assert.rejects(
        migrate({ session: pgSession(runner), onEvent: (e) => events.push(e) }, migrations(BASE), {
          ...options,
          lockWaitMs: 300,
        }),
        (err: unknown) => {
          assert.ok(err instanceof LockTimeoutError);
          assert.equal(err.name, 'LockTimeoutError');
          assert.equal(err.holder?.pid, holderPid);
          assert.equal(err.holder?.applicationName, 'release-from-elsewhere');
          assert.ok(err.holder?.sessionStartedAt);
          assert.match(err.message, new RegExp(`pid ${holderPid}, application "release-from-elsewhere"`));
          return true;
        },
      );
      assert.equal(events[0]?.type, 'lock-wait');
      assert.equal(await tableExists(runner, 'accounts'), false);

      await assert.rejects(
        migrate({ session: pgSession(runner) }, migrations(BASE), { ...options, lockWaitMs: 0 }),
        LockTimeoutError,
        'fail-fast mode does not wait',
      );
    } finally {
      await db.drop();
    }
  });

  test('a runner that waited for the lock finds the work done and returns as a no-op', async () => {
    const db = await freshDatabase();
    try {
      const first = await db.connect();
      const second = await db.connect();
      const files = migrations({ ...BASE, '0004_slow.sql': 'SELECT pg_sleep(0.5);' });
      let firstStarted!: () => void;
      const started = new Promise<void>((r) => {
        firstStarted = r;
      });
      const running = migrate(
        { session: pgSession(first), onEvent: (e) => e.type === 'migration-start' && firstStarted() },
        files,
        options,
      );
      await started;
      const events: EngineEvent[] = [];
      const waiting = migrate({ session: pgSession(second), onEvent: (e) => events.push(e) }, files, options);
      assert.equal((await running).applied.length, 4);
      const result = await waiting;
      assert.equal(events[0]?.type, 'lock-wait', 'the second runner really waited');
      assert.deepEqual(result.applied, []);
      assert.deepEqual(result.pending, []);
    } finally {
      await db.drop();
    }
  });
});

describe('table locks held by other sessions', () => {
  test('a migration blocked by a table lock retries with backoff and succeeds once the lock is released', async () => {
    const db = await freshDatabase();
    try {
      const runner = await db.connect();
      await migrate({ session: pgSession(runner) }, migrations(BASE), options);
      const blocker = await db.connect();
      await blocker.query('BEGIN; LOCK TABLE accounts IN ACCESS SHARE MODE');
      const events: EngineEvent[] = [];
      const run = migrate(
        { session: pgSession(runner), onEvent: (e) => events.push(e) },
        migrations({ ...BASE, '0004_add_name.sql': 'ALTER TABLE accounts ADD COLUMN name text;' }),
        { ...options, lockTimeoutMs: 50, lockRetries: 10, lockRetryDelayMs: 20 },
      );
      while (events.filter((e) => e.type === 'migration-retry').length < 2)
        await new Promise((r) => setTimeout(r, 5));
      await blocker.query('COMMIT');
      const result = await run;
      assert.deepEqual(
        result.applied.map((a) => a.version),
        ['4'],
      );
      const retries = events.filter((e) => e.type === 'migration-retry');
      assert.ok(retries.length >= 2);
      assert.match(JSON.stringify(retries[0]), /lock timeout/);
      const delays = retries.map((e) => (e.type === 'migration-retry' ? e.delayMs : 0));
      assert.deepEqual(delays.slice(0, 2), [20, 40], 'the delay doubles');
    } finally {
      await db.drop();
    }
  });

  test('a table lock never released ends in a typed error after the bounded retries', async () => {
    const db = await freshDatabase();
    try {
      const runner = await db.connect();
      await migrate({ session: pgSession(runner) }, migrations(BASE), options);
      const blocker = await db.connect();
      await blocker.query('BEGIN; LOCK TABLE orders IN ACCESS SHARE MODE');
      await assert.rejects(
        migrate(
          { session: pgSession(runner) },
          migrations({
            ...BASE,
            '0004_add_note.sql':
              'ALTER TABLE accounts ADD COLUMN note text;\nALTER TABLE orders ADD COLUMN note text;',
          }),
          { ...options, lockTimeoutMs: 30, lockRetries: 2, lockRetryDelayMs: 10 },
        ),
        (err: unknown) => {
          assert.ok(err instanceof LockNotAvailableError);
          assert.equal(err.name, 'LockNotAvailableError');
          assert.equal(err.attempts, 3);
          assert.equal(err.failure.sqlState, '55P03');
          assert.deepEqual(err.failure.location, { file: '0004_add_note.sql', line: 2, column: 1 });
          return true;
        },
      );
      await blocker.query('ROLLBACK');
      const { rows } = await runner.query(
        "SELECT count(*)::int AS n FROM information_schema.columns WHERE column_name = 'note'",
      );
      assert.equal(rows[0].n, 0, 'the first ALTER of the failed migration was rolled back too');
    } finally {
      await db.drop();
    }
  });
});

describe('deadline', () => {
  test('stops between migrations when the time left falls below the margin, then continues in a new run', async () => {
    const db = await freshDatabase();
    try {
      const session = pgSession(await db.connect());
      let clock = 1_000_000;
      const events: EngineEvent[] = [];
      const files = migrations({
        ...BASE,
        '0004_a.sql': 'CREATE TABLE a (id int);',
        '0005_b.sql': 'CREATE TABLE b (id int);',
      });
      const deps = {
        session,
        now: () => clock,
        onEvent: (e: EngineEvent) => {
          events.push(e);
          if (e.type === 'migration-applied') clock += 400;
        },
      };
      const first = await migrate(deps, files, {
        ...options,
        deadline: clock + 1_000,
        deadlineMarginMs: 300,
      });
      assert.equal(first.incomplete, true);
      assert.deepEqual(
        first.applied.map((a) => a.version),
        ['1', '2'],
      );
      assert.deepEqual(
        first.pending.map((p) => p.version),
        ['3', '4', '5'],
      );
      assert.ok(events.some((e) => e.type === 'deadline-stop'));

      const second = await migrate({ session }, files, options);
      assert.equal(second.incomplete, false);
      assert.deepEqual(
        second.applied.map((a) => a.version),
        ['3', '4', '5'],
      );
    } finally {
      await db.drop();
    }
  });

  test('statement_timeout is capped so no statement outlives the deadline', async () => {
    const db = await freshDatabase();
    try {
      const client = await db.connect();
      const started = Date.now();
      await assert.rejects(
        migrate({ session: pgSession(client) }, migrations({ '0001_slow.sql': 'SELECT pg_sleep(20);' }), {
          ...options,
          deadline: Date.now() + 1_500,
          deadlineMarginMs: 1_000,
        }),
        (err: unknown) => {
          assert.ok(err instanceof MigrationFailedError);
          assert.equal(err.failure.sqlState, '57014');
          assert.match(
            err.failure.hint ?? '',
            /shortened statement_timeout to \d+ ms to end before the deadline/,
          );
          return true;
        },
      );
      assert.ok(Date.now() - started < 10_000, 'the statement was cancelled, not left to sleep 20 s');
      assert.equal(
        (await client.query('SHOW statement_timeout')).rows[0].statement_timeout,
        '0',
        'SET LOCAL did not leak into the session',
      );
    } finally {
      await db.drop();
    }
  });
});
