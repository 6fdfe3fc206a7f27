import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { InvalidMigrationError } from '../../engine/errors.ts';
import { type MigrationFile, parseMigrationFiles } from '../../engine/migration-files.ts';
import { migrate } from '../../engine/runner.ts';
import { pgSession, type SqlSession } from '../../engine/session.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const migrations = (entries: Record<string, string>): MigrationFile[] =>
  parseMigrationFiles(Object.entries(entries).map(([name, sql]) => [name, Buffer.from(sql)] as const));

/** What validation refused: `file:line:column: problem` for each problem. */
async function refused(session: SqlSession, files: Record<string, string>): Promise<string[]> {
  try {
    await migrate({ session }, migrations(files), { appliedBy: 'test' });
  } catch (err) {
    if (err instanceof InvalidMigrationError)
      return err.problems.map((p) => `${p.file}:${p.line ?? '?'}:${p.column ?? '?'}: ${p.problem}`);
    throw err;
  }
  assert.fail('the migrations were applied, not refused');
}

/** Validation changes nothing: no history table, no table the files would have made. */
async function assertUntouched(client: pg.Client): Promise<void> {
  const { rows } = await client.query(
    "SELECT count(*)::int AS n FROM pg_class WHERE relnamespace IN (SELECT oid FROM pg_namespace WHERE nspname IN ('public', 'lockstep'))",
  );
  assert.equal(rows[0].n, 0, 'validation created something');
}

describe('validation of pending migrations, against PostgreSQL', () => {
  let db: TestDatabase;
  let client: pg.Client;
  let session: SqlSession;
  before(async () => {
    db = await freshDatabase();
    client = await db.connect();
    session = pgSession(client);
  });
  after(() => db.drop());

  test('a syntax error after multi-byte text is placed at its line and column in characters', async () => {
    const problems = await refused(session, {
      '0001_a.sql': 'CREATE TABLE a (id int);',
      '0002_b.sql': "SELECT '日本語の説明 🎉';\nSELEC 1;",
    });
    assert.deepEqual(problems, ['0002_b.sql:2:1: syntax error: syntax error at or near "SELEC"']);
    await assertUntouched(client);
  });

  test('transaction control in a no-transaction file is refused: BEGIN without COMMIT no longer reports success', async () => {
    const problems = await refused(session, {
      '0001_a.sql': '-- lockstep:no-transaction\nBEGIN;\nCREATE TABLE a (id int);',
      '0002_b.sql': 'CREATE TABLE b (id int);',
    });
    assert.deepEqual(problems.map(at), ['0001_a.sql:2:1']);
    assert.match(problems[0] ?? '', /BEGIN is not allowed in a -- lockstep:no-transaction file/);
    await assertUntouched(client);
  });

  test('every statement that needs a transaction block, or controls one, is named in a no-transaction file', async () => {
    const problems = await refused(session, {
      '0001_a.sql': [
        '-- lockstep:no-transaction',
        'START TRANSACTION ISOLATION LEVEL SERIALIZABLE;',
        'SET TRANSACTION READ ONLY; SAVEPOINT s;',
        'RELEASE SAVEPOINT s; ROLLBACK TO SAVEPOINT s;',
        'SET LOCAL lock_timeout = 0; SET CONSTRAINTS ALL DEFERRED;',
        'LOCK TABLE t; DECLARE c CURSOR FOR SELECT 1; DECLARE h CURSOR WITH HOLD FOR SELECT 1;',
        "PREPARE TRANSACTION 'x'; COMMIT PREPARED 'x'; ROLLBACK; END; ABORT; COMMIT;",
        'CREATE INDEX CONCURRENTLY i ON t (id);',
      ].join('\n'),
    });
    assert.deepEqual(
      problems.map((p) => `${at(p)} ${/: (.*?) (is not allowed|only works)/.exec(p)?.[1]}`),
      [
        '0001_a.sql:2:1 START TRANSACTION',
        '0001_a.sql:3:1 SET TRANSACTION',
        '0001_a.sql:3:28 SAVEPOINT',
        '0001_a.sql:4:1 RELEASE SAVEPOINT',
        '0001_a.sql:4:22 ROLLBACK TO SAVEPOINT',
        '0001_a.sql:5:1 SET LOCAL',
        '0001_a.sql:5:29 SET CONSTRAINTS',
        '0001_a.sql:6:1 LOCK TABLE',
        '0001_a.sql:6:15 DECLARE CURSOR without WITH HOLD',
        '0001_a.sql:7:1 PREPARE TRANSACTION',
        '0001_a.sql:7:26 COMMIT PREPARED',
        '0001_a.sql:7:47 ROLLBACK',
        '0001_a.sql:7:57 COMMIT',
        '0001_a.sql:7:62 ROLLBACK',
        '0001_a.sql:7:69 COMMIT',
      ],
    );
    await assertUntouched(client);
  });

  test('SET TRANSACTION in a transactional migration is refused before it fails at run time', async () => {
    const problems = await refused(session, {
      '0001_a.sql': 'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;\nCREATE TABLE a (id int);',
    });
    assert.deepEqual(problems.map(at), ['0001_a.sql:1:1']);
    assert.match(
      problems[0] ?? '',
      /SET TRANSACTION is not allowed: lockstep runs each migration in its own/,
    );
    await assertUntouched(client);
  });

  test('COPY … FROM STDIN is refused at validation, in either kind of file; COPY to and from server files is not', async () => {
    const problems = await refused(session, {
      '0001_a.sql': "CREATE TABLE a (id int);\nCOPY a FROM '/tmp/a.csv';\n  COPY a (id) FROM STDIN;",
      '0002_b.sql': '-- lockstep:no-transaction\ncopy a from stdin with (format csv)',
    });
    assert.deepEqual(problems, [
      '0001_a.sql:3:3: COPY … FROM STDIN needs data from the client, which a migration file cannot send: use INSERT, or COPY FROM a server file',
      '0002_b.sql:2:1: COPY … FROM STDIN needs data from the client, which a migration file cannot send: use INSERT, or COPY FROM a server file',
    ]);
    await assertUntouched(client);
  });
});

const at = (problem: string) => problem.split(': ')[0];
