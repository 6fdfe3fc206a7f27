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

  test('a pg_dump file with inline COPY data and psql meta-commands is refused by name, not as a syntax error', async () => {
    const dump = [
      '\\restrict abc123',
      "SET client_encoding = 'UTF8';",
      'CREATE TABLE public.t (id integer, name text);',
      'COPY public.t (id, name) FROM stdin;',
      '1\tfirst',
      '2\t日本 🎉',
      '\\.',
      '',
    ].join('\n');
    const problems = await refused(session, {
      '0001_dump.sql': dump,
      '0002_data.sql': dump.replace('\\restrict abc123\n', ''),
      '0003_empty_copy.sql': 'CREATE TABLE u (id int);\r\nCOPY u FROM stdin;\r\n\\.\r\n',
      '0004_psql.sql': 'CREATE TABLE v (id int);\n\\set ON_ERROR_STOP on\nSELECT 1 \\gset\n',
      '0005_connect.sql': 'SELECT 1;\n  \\connect other',
    });
    assert.deepEqual(problems, [
      '0001_dump.sql:1:1: psql meta-command \\restrict is not SQL: lockstep runs files with the server, not psql (remove it)',
      '0002_data.sql:3:1: COPY … FROM STDIN with the data after it (as pg_dump writes it) is not supported: lockstep sends a file to the server, which cannot read the data from it; use INSERT (pg_dump --inserts), or COPY FROM a server file',
      '0003_empty_copy.sql:2:1: COPY … FROM STDIN with the data after it (as pg_dump writes it) is not supported: lockstep sends a file to the server, which cannot read the data from it; use INSERT (pg_dump --inserts), or COPY FROM a server file',
      '0004_psql.sql:2:1: psql meta-command \\set is not SQL: lockstep runs files with the server, not psql (remove it)',
      '0005_connect.sql:2:3: psql meta-command \\connect is not SQL: lockstep runs files with the server, not psql (remove it)',
    ]);
    await assertUntouched(client);
  });

  test('an empty file and a file of only whitespace or comments are both refused', async () => {
    const problems = await refused(session, {
      '0001_a.sql': 'CREATE TABLE a (id int);',
      '0002_empty.sql': '',
      '0003_blank.sql': ' \n\t\r\n',
      '0004_comments.sql': '-- TODO\n/* later; */ ;\n',
      '0005_directive_only.sql': '-- lockstep:no-transaction\n',
    });
    assert.deepEqual(
      problems.map((p) => p.replace(/: has no SQL statement .*/, ': no statement')),
      [
        '0002_empty.sql:?:?: no statement',
        '0003_blank.sql:?:?: no statement',
        '0004_comments.sql:?:?: no statement',
        '0005_directive_only.sql:?:?: no statement',
      ],
    );
    await assertUntouched(client);
  });

  test('a misplaced, misspelled or unknown directive is refused with its line and the accepted spelling', async () => {
    const files: Record<string, string> = {
      '0001_line_two.sql': '\n-- lockstep:no-transaction\nCREATE TABLE a (id int);',
      '0002_after_comment.sql': '-- add a table\n-- lockstep:no-transaction\nCREATE TABLE a (id int);',
      '0003_space.sql': '-- lockstep: no-transaction\nCREATE TABLE a (id int);',
      '0004_joined.sql': '--lockstep:notransaction\nCREATE TABLE a (id int);',
      '0005_underscore.sql': '-- lockstep:no_transaction\nCREATE TABLE a (id int);',
      '0006_unknown.sql': '-- lockstep:timeout=5s\nCREATE TABLE a (id int);',
      '0007_later.sql': 'CREATE TABLE a (id int);\n  -- LOCKSTEP:no-transaction\nCREATE TABLE b (id int);',
      '0008_indented.sql': '  -- lockstep:no-transaction\nCREATE TABLE a (id int);',
      '0009_block.sql': '/* lockstep:no-transaction */\nCREATE TABLE a (id int);',
      '0010_no_colon.sql': '-- lockstep no-transaction\nCREATE TABLE a (id int);',
    };
    const problems = await refused(session, files);
    assert.deepEqual(problems.map(at), [
      '0001_line_two.sql:2:1',
      '0002_after_comment.sql:2:1',
      '0003_space.sql:1:1',
      '0004_joined.sql:1:1',
      '0005_underscore.sql:1:1',
      '0006_unknown.sql:1:1',
      '0007_later.sql:2:3',
      '0008_indented.sql:1:3',
      '0009_block.sql:1:1',
      '0010_no_colon.sql:1:1',
    ]);
    assert.match(
      problems[0] ?? '',
      /counts only at the top of the file \(its first lines, with -- lockstep:after-deploy\); here on line 2 it would be ignored/,
    );
    assert.match(
      problems[2] ?? '',
      /"-- lockstep: no-transaction" is not a lockstep directive: the only ones are "-- lockstep:no-transaction" and "-- lockstep:after-deploy", exactly so, as whole lines at the top of the file/,
    );
    assert.match(
      problems[7] ?? '',
      /counts only as a whole line at the top of the file, from its first character/,
    );
    await assertUntouched(client);
  });

  test('-- lockstep:after-deploy counts at the top of the file, with -- lockstep:no-transaction in either order; anywhere else it is refused', async () => {
    const files: Record<string, string> = {
      '0001_after_comment.sql': '-- drop the old column\n-- lockstep:after-deploy\nCREATE TABLE a (id int);',
      '0002_indented.sql': '  -- lockstep:after-deploy\nCREATE TABLE a (id int);',
      '0003_misspelled.sql': '-- lockstep:after_deploy\nCREATE TABLE a (id int);',
    };
    const problems = await refused(session, files);
    assert.deepEqual(problems.map(at), [
      '0001_after_comment.sql:2:1',
      '0002_indented.sql:1:3',
      '0003_misspelled.sql:1:1',
    ]);
    assert.match(
      problems[0] ?? '',
      /counts only at the top of the file .*here on line 2 it would be ignored and the file run before the deploy/,
    );
    assert.match(
      problems[1] ?? '',
      /counts only as a whole line at the top of the file, from its first character/,
    );
    assert.match(problems[2] ?? '', /is not a lockstep directive/);
    await assertUntouched(client);

    const both = migrations({
      '0001_a.sql':
        '-- lockstep:after-deploy\r\n-- lockstep:no-transaction\r\nCREATE INDEX CONCURRENTLY i ON t (id);',
      '0002_b.sql':
        '-- lockstep:no-transaction\n-- lockstep:after-deploy\n-- then a comment\nCREATE INDEX CONCURRENTLY j ON t (id);',
    });
    assert.deepEqual(
      both.map((m) => [m.afterDeploy, m.noTransaction]),
      [
        [true, true],
        [true, true],
      ],
    );
    for (const m of both) assert.deepEqual((await m.analyze()).problems, []);
  });

  test('the directive is found on the first line after a byte-order mark and with CRLF line ends', async () => {
    const db2 = await freshDatabase();
    try {
      const c = await db2.connect();
      const sql =
        '\ufeff-- lockstep:no-transaction\r\nCREATE TABLE a (id int);\r\nCREATE INDEX CONCURRENTLY a_id ON a (id);\r\n';
      const result = await migrate(
        { session: pgSession(c) },
        parseMigrationFiles([['0001_a.sql', Buffer.from(sql)]]),
        { appliedBy: 'test' },
      );
      assert.deepEqual(
        result.applied.map((a) => a.file),
        ['0001_a.sql'],
      );
      const { rows } = await c.query("SELECT indisvalid FROM pg_index WHERE indexrelid = 'a_id'::regclass");
      assert.equal(rows[0].indisvalid, true);
    } finally {
      await db2.drop();
    }
  });
});

const at = (problem: string) => problem.split(': ')[0];
