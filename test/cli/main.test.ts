/**
 * The `lockstep` command end to end: each test spawns the CLI as a child process against a fresh database and
 * checks its exit code and output.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { HistoryTable } from '../../engine/history.ts';
import { repoRoot, runCli } from '../support/cli-process.ts';
import { freshDatabase, migrationsDir, type TestDatabase } from '../support/database.ts';

const exampleFiles = (await readdir(join(repoRoot, 'migrations'))).filter((f) => f.endsWith('.sql')).sort();

const databases: TestDatabase[] = [];
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  await Promise.all([...databases.map((d) => d.drop()), ...cleanups.map((c) => c())]);
});

async function database(): Promise<TestDatabase> {
  const db = await freshDatabase();
  databases.push(db);
  return db;
}

async function dirWith(files: Record<string, string>): Promise<string> {
  const { dir, cleanup } = await migrationsDir(files);
  cleanups.push(cleanup);
  return dir;
}

async function historyVersions(db: TestDatabase): Promise<string[]> {
  const client = await db.connect();
  const exists = await client.query(`SELECT to_regclass('lockstep.schema_history') IS NOT NULL AS e`);
  if (!exists.rows[0].e) return [];
  const rows = await client.query('SELECT version::text FROM lockstep.schema_history ORDER BY version');
  return rows.rows.map((r) => r.version);
}

describe('lockstep migrate', () => {
  it('applies the example migrations with one line each, then finds nothing to do', async () => {
    const db = await database();

    const first = await runCli(['migrate', '--dir', 'migrations', '--release', 'test-release'], {
      databaseUrl: db.url,
    });
    const second = await runCli(['migrate', '--dir', 'migrations'], { databaseUrl: db.url });

    assert.equal(first.code, 0, first.stderr);
    const appliedLines = first.stderr
      .split('\n')
      .filter((l) => /^ {2}applied \S+\.sql in \d+(\.\d)? m?s$/.test(l));
    assert.deepEqual(
      appliedLines.map((l) => l.split(' ')[3]),
      exampleFiles,
    );
    assert.match(first.stdout, new RegExp(`^applied ${exampleFiles.length} migrations in `));
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /nothing to do/);
    assert.doesNotMatch(second.stderr, /applied/);
    const client = await db.connect();
    const rows = await client.query(
      `SELECT count(*)::int AS n FROM lockstep.schema_history WHERE success AND applied_by = 'test-release'`,
    );
    assert.equal(rows.rows[0].n, exampleFiles.length);
  });

  it('prints one JSON document naming the applied versions with --json', async () => {
    const db = await database();
    const dir = await dirWith({
      '0001_create_a.sql': 'CREATE TABLE a (id int);\n',
      '0002_create_b.sql': 'CREATE TABLE b (id int);\n',
    });

    const run = await runCli(['migrate', '--dir', dir, '--json'], { databaseUrl: db.url });

    assert.equal(run.code, 0, run.stderr);
    const doc = JSON.parse(run.stdout);
    assert.equal(doc.command, 'migrate');
    assert.equal(doc.ok, true);
    assert.deepEqual(
      doc.applied.map((a: { version: string; file: string }) => [a.version, a.file]),
      [
        ['1', '0001_create_a.sql'],
        ['2', '0002_create_b.sql'],
      ],
    );
    assert.deepEqual(doc.pending, []);
  });

  it('exits 3 when a migration fails, naming file:line:column and SQLSTATE, and keeps what ran before', async () => {
    const db = await database();
    const dir = await dirWith({
      '0001_create_ok.sql': 'CREATE TABLE ok (id int);\n',
      '0002_broken.sql': 'CREATE TABLE half (id int);\nINSERT INTO missing_table VALUES (1);\n',
    });

    const run = await runCli(['migrate', '--dir', dir], { databaseUrl: db.url });

    assert.equal(run.code, 3, run.stderr);
    assert.match(
      run.stderr,
      /MigrationFailedError: migration 2 failed at 0002_broken\.sql:2:13 \[SQLSTATE 42P01\]/,
    );
    assert.match(run.stderr, /applied before it in this run: 1/);
    assert.deepEqual(await historyVersions(db), ['1']);
    const client = await db.connect();
    const tables = await client.query(`SELECT to_regclass('half') AS half, to_regclass('ok') AS ok`);
    assert.deepEqual(tables.rows[0], { half: null, ok: 'ok' });
  });

  it('the installed bundle applies migrations and names a failed one by its error class', async () => {
    const db = await database();
    const dir = await dirWith({
      '0001_create_a.sql': 'CREATE TABLE a (id int);\n',
      '0002_broken.sql': 'SELECT missing FROM a;\n',
    });

    const run = await runCli(['migrate', '--dir', dir, '--json'], { databaseUrl: db.url, installed: true });

    assert.equal(run.code, 3, run.stderr);
    const doc = JSON.parse(run.stdout);
    assert.deepEqual(doc.error.appliedBefore, ['1']);
    assert.equal(doc.error.name, 'MigrationFailedError');
    assert.equal(doc.error.code, 'MIGRATION_FAILED');
  });

  it('exits 5 and names the file when an applied migration was edited; plan fails the same way', async () => {
    const db = await database();
    const dir = await dirWith({ '0001_create_a.sql': 'CREATE TABLE a (id int);\n' });
    const applied = await runCli(['migrate', '--dir', dir], { databaseUrl: db.url });
    assert.equal(applied.code, 0, applied.stderr);
    await writeFile(join(dir, '0001_create_a.sql'), 'CREATE TABLE a (id bigint);\n');
    await writeFile(join(dir, '0002_create_b.sql'), 'CREATE TABLE b (id int);\n');

    const migrate = await runCli(['migrate', '--dir', dir], { databaseUrl: db.url });
    const plan = await runCli(['plan', '--dir', dir], { databaseUrl: db.url });

    assert.equal(migrate.code, 5, migrate.stderr);
    assert.match(migrate.stderr, /ChecksumMismatchError: .*\n {2}0001_create_a\.sql: applied sha256/);
    assert.deepEqual(await historyVersions(db), ['1']);
    assert.equal(plan.code, 5, plan.stderr);
    assert.match(plan.stdout, /edited after it was applied: 0001_create_a\.sql/);
    assert.match(plan.stderr, /ChecksumMismatchError/);
  });

  it('--phase before-deploy leaves the after-deploy file, plan shows both phases, --phase after-deploy runs it', async () => {
    const db = await database();
    const dir = await dirWith({
      '0001_create_a.sql': 'CREATE TABLE a (id int, old text);\n',
      '0002_drop_old.sql': '-- lockstep:after-deploy\nALTER TABLE a DROP COLUMN old;\n',
      '0003_create_b.sql': 'CREATE TABLE b (id int);\n',
    });

    const plan = await runCli(['plan', '--dir', dir], { databaseUrl: db.url });
    const early = await runCli(['migrate', '--dir', dir, '--phase', 'after-deploy'], { databaseUrl: db.url });
    const before = await runCli(['migrate', '--dir', dir, '--phase', 'before-deploy'], {
      databaseUrl: db.url,
    });
    const versionsBetween = await historyVersions(db);
    const afterRun = await runCli(['migrate', '--dir', dir, '--phase', 'after-deploy'], {
      databaseUrl: db.url,
    });

    assert.equal(plan.code, 0, plan.stderr);
    assert.match(
      plan.stdout,
      /3 pending migrations:\n {2}before the deploy \(2\):\n {4}0001_create_a\.sql\n {4}0003_create_b\.sql\n {2}after the deploy \(1, -- lockstep:after-deploy\):\n {4}0002_drop_old\.sql/,
    );
    assert.equal(early.code, 5, early.stderr);
    assert.match(early.stderr, /PhaseOrderError: .*0001_create_a\.sql, 0003_create_b\.sql/);
    assert.equal(before.code, 0, before.stderr);
    assert.match(
      before.stdout,
      /1 after-deploy migration left for after the deploy \(lockstep migrate --phase after-deploy\): 0002_drop_old\.sql/,
    );
    assert.deepEqual(versionsBetween, ['1', '3']);
    assert.equal(afterRun.code, 0, afterRun.stderr);
    assert.deepEqual(await historyVersions(db), ['1', '2', '3']);
  });

  it('exits 6 when --max-duration stops the run between migrations, and a re-run finishes', async () => {
    const db = await database();
    const dir = await dirWith({
      '0001_slow.sql': 'SELECT pg_sleep(2.5);\n',
      '0002_create_b.sql': 'CREATE TABLE b (id int);\n',
    });

    // The engine starts no migration with less than 10 s left: after 0001 fewer than 10 of the 12 s remain.
    const stopped = await runCli(['migrate', '--dir', dir, '--max-duration', '12'], { databaseUrl: db.url });
    const versionsAfterStop = await historyVersions(db);
    const rerun = await runCli(['migrate', '--dir', dir], { databaseUrl: db.url });

    assert.equal(stopped.code, 6, stopped.stderr);
    assert.match(stopped.stdout, /incomplete: .*still pending, run again: 0002_create_b\.sql/);
    assert.deepEqual(versionsAfterStop, ['1']);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.deepEqual(await historyVersions(db), ['1', '2']);
  });

  it('exits 4 naming the holder when another session holds the migration lock past --lock-wait', async () => {
    const db = await database();
    const dir = await dirWith({ '0001_create_a.sql': 'CREATE TABLE a (id int);\n' });
    const holder = await db.connect({ applicationName: 'test-lock-holder' });
    const [classid, objid] = new HistoryTable().lockKey;
    await holder.query('SELECT pg_advisory_lock($1::int, $2::int)', [classid, objid]);
    const holderPid = (await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;

    const started = Date.now();
    const run = await runCli(['migrate', '--dir', dir, '--lock-wait', '1'], { databaseUrl: db.url });

    assert.equal(run.code, 4, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(`LockTimeoutError: .*pid ${holderPid}, application "test-lock-holder"`),
    );
    assert.ok(Date.now() - started >= 1000, 'waited for the lock');
    assert.deepEqual(await historyVersions(db), []);
  });
});

describe('lockstep plan and status', () => {
  it('plan exits 0 listing pending migrations when nothing drifted, and changes nothing', async () => {
    const db = await database();

    const run = await runCli(['plan', '--dir', 'migrations'], { databaseUrl: db.url });

    assert.equal(run.code, 0, run.stderr);
    for (const file of exampleFiles) assert.match(run.stdout, new RegExp(`^ {2}${file}`, 'm'));
    assert.match(run.stdout, /0005_index_tasks_by_assignee\.sql {2}\(no transaction\)/);
    assert.match(run.stdout, /^drift: none$/m);
    assert.deepEqual(await historyVersions(db), []);
  });

  it('plan exits 5 naming file, line and column when a pending file would be refused', async () => {
    const db = await database();
    const dir = await dirWith({
      '0001_create_a.sql': 'CREATE TABLE a (id int);\n\nALTER TABLE a ADD COLUM b text;\n',
    });

    const run = await runCli(['plan', '--dir', dir], { databaseUrl: db.url });

    assert.equal(run.code, 5, run.stderr);
    assert.match(run.stderr, /InvalidMigrationError: .*\n {2}0001_create_a\.sql:3:\d+: syntax error/);
  });

  it('an empty --dir against a database with history fails migrate and plan (exit 5), and changes nothing', async () => {
    const db = await database();
    const applied = await runCli(['migrate', '--dir', 'migrations'], { databaseUrl: db.url });
    assert.equal(applied.code, 0, applied.stderr);
    const empty = await dirWith({ 'README.md': 'migrations live elsewhere now\n' });

    const migrate = await runCli(['migrate', '--dir', empty], { databaseUrl: db.url });
    const plan = await runCli(['plan', '--dir', empty, '--json'], { databaseUrl: db.url });
    const onEmptyDatabase = await runCli(['migrate', '--dir', empty], {
      databaseUrl: (await database()).url,
    });

    assert.equal(migrate.code, 5, migrate.stderr);
    assert.match(
      migrate.stderr,
      new RegExp(
        `NoMigrationFilesError: no migration files were found, but the database has ${exampleFiles.length} applied ` +
          `migrations \\(the newest ${exampleFiles.at(-1)}\\): is the migrations directory right\\?`,
      ),
    );
    assert.ok(migrate.stderr.includes(`(--dir ${empty} is ${empty})`), migrate.stderr);
    assert.equal(plan.code, 5, plan.stdout);
    assert.equal(JSON.parse(plan.stdout).error.code, 'NO_MIGRATION_FILES');
    assert.equal(onEmptyDatabase.code, 0, onEmptyDatabase.stderr);
    assert.equal((await historyVersions(db)).length, exampleFiles.length);
  });

  it('status --json lists applied migrations with who applied them, and pending ones', async () => {
    const db = await database();
    const first = { '0001_create_a.sql': 'CREATE TABLE a (id int);\n', '0002_create_b.sql': 'SELECT 1;\n' };
    const older = await dirWith(first);
    const newer = await dirWith({ ...first, '0003_create_c.sql': 'CREATE TABLE c (id int);\n' });
    const applied = await runCli(['migrate', '--dir', older, '--release', 'v1.2.3'], { databaseUrl: db.url });
    assert.equal(applied.code, 0, applied.stderr);

    const run = await runCli(['status', '--dir', newer, '--json'], { databaseUrl: db.url });

    assert.equal(run.code, 0, run.stderr);
    const doc = JSON.parse(run.stdout);
    assert.equal(doc.command, 'status');
    assert.deepEqual(
      doc.applied.map((a: { version: string; appliedBy: string }) => [a.version, a.appliedBy]),
      [
        ['1', 'v1.2.3'],
        ['2', 'v1.2.3'],
      ],
    );
    assert.ok(doc.applied.every((a: { appliedAt: string }) => !Number.isNaN(Date.parse(a.appliedAt))));
    assert.deepEqual(
      doc.pending.map((p: { file: string }) => p.file),
      ['0003_create_c.sql'],
    );
  });
});

describe('edited applied files and lockstep repair', () => {
  it('a file git or an editor converted to CRLF or gave a BOM is the same file: nothing to do, exit 0', async () => {
    const db = await database();
    const lf = {
      '0001_create_a.sql': 'CREATE TABLE a (id int);\n-- a comment\n',
      '0002_b.sql': 'SELECT 1;\n',
    };
    const dir = await dirWith(lf);
    assert.equal((await runCli(['migrate', '--dir', dir], { databaseUrl: db.url })).code, 0);
    await writeFile(join(dir, '0001_create_a.sql'), lf['0001_create_a.sql'].replace(/\n/g, '\r\n'));
    await writeFile(join(dir, '0002_b.sql'), `\uFEFF${lf['0002_b.sql']}`);

    const migrate = await runCli(['migrate', '--dir', dir], { databaseUrl: db.url });
    const plan = await runCli(['plan', '--dir', dir], { databaseUrl: db.url });

    assert.equal(migrate.code, 0, migrate.stderr);
    assert.match(migrate.stdout, /nothing to do/);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /^drift: none$/m);
  });

  it('a history recorded as raw bytes (earlier versions) keeps validating when git converts a CRLF file to LF', async () => {
    const db = await database();
    const crlf = 'CREATE TABLE a (id int);\r\nSELECT 1;\r\n';
    const dir = await dirWith({ '0001_create_a.sql': crlf });
    assert.equal((await runCli(['migrate', '--dir', dir], { databaseUrl: db.url })).code, 0);
    const client = await db.connect();
    const rawBytes = createHash('sha256').update(crlf).digest('hex');
    await client.query('UPDATE lockstep.schema_history SET checksum = $1', [rawBytes]);
    await writeFile(join(dir, '0001_create_a.sql'), crlf.replace(/\r\n/g, '\n'));

    const run = await runCli(['migrate', '--dir', dir], { databaseUrl: db.url });

    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /nothing to do/);
  });

  it('repair --accept-checksum records the edit with who, when and why; migrate then passes', async () => {
    const db = await database();
    const dir = await dirWith({
      '0001_create_a.sql': 'CREATE TABLE a (id int);\n',
      '0002_create_b.sql': 'CREATE TABLE b (id int);\n',
    });
    assert.equal((await runCli(['migrate', '--dir', dir], { databaseUrl: db.url })).code, 0);
    await writeFile(join(dir, '0002_create_b.sql'), '-- b holds the bees\nCREATE TABLE b (id int);\n');
    const refused = await runCli(['migrate', '--dir', dir], { databaseUrl: db.url });
    assert.equal(refused.code, 5, refused.stderr);
    assert.match(
      refused.stderr,
      /ChecksumMismatchError: .*\n.*lockstep repair --accept-checksum <version> --reason "…", for 2\)/s,
    );

    const noReason = await runCli(['repair', '--dir', dir, '--accept-checksum', '2'], {
      databaseUrl: db.url,
    });
    const unknown = await runCli(
      ['repair', '--dir', dir, '--accept-checksum', '7', '--reason', 'x', '--json'],
      {
        databaseUrl: db.url,
      },
    );
    const repaired = await runCli(
      [
        'repair',
        '--dir',
        dir,
        '--accept-checksum',
        '2',
        '--reason',
        'a comment, no change',
        '--release',
        'ops-42',
      ],
      { databaseUrl: db.url },
    );
    const again = await runCli(['repair', '--dir', dir, '--accept-checksum', '0002', '--reason', 'twice'], {
      databaseUrl: db.url,
    });
    const migrate = await runCli(['migrate', '--dir', dir], { databaseUrl: db.url });

    assert.equal(noReason.code, 2, noReason.stderr);
    assert.match(noReason.stderr, /required option '--reason <text>' not specified/);
    assert.equal(unknown.code, 2, unknown.stdout);
    assert.match(JSON.parse(unknown.stdout).error.message, /no migration file has version 7/);
    assert.equal(repaired.code, 0, repaired.stderr);
    assert.match(
      repaired.stdout,
      /^accepted the current 0002_create_b\.sql as applied: recorded checksum [0-9a-f]{12}… is now [0-9a-f]{12}…; logged in lockstep\.schema_history_repairs \(by ops-42/,
    );
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing to repair/);
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.match(migrate.stdout, /nothing to do/);
    const client = await db.connect();
    const { rows } = await client.query(
      `SELECT action, version::text, file_name, reason, repaired_by, os_user IS NOT NULL AS has_os_user,
         database_user = current_user AS by_role, previous_row->>'checksum' = new_checksum AS same,
         repaired_at <= now() AS dated
       FROM lockstep.schema_history_repairs`,
    );
    assert.deepEqual(rows, [
      {
        action: 'accept-checksum',
        version: '2',
        file_name: '0002_create_b.sql',
        reason: 'a comment, no change',
        repaired_by: 'ops-42',
        has_os_user: true,
        by_role: true,
        same: false,
        dated: true,
      },
    ]);
  });

  it('repair refuses a version that failed, one with no history row, and waits for no one with --lock-wait 0', async () => {
    const db = await database();
    const dir = await dirWith({
      '0001_create_a.sql': 'CREATE TABLE a (id int);\n',
      '0002_broken.sql': '-- lockstep:no-transaction\nCREATE TABLE b (id int);\nSELECT 1 / 0;\n',
      '0003_later.sql': 'SELECT 1;\n',
    });
    assert.equal((await runCli(['migrate', '--dir', dir], { databaseUrl: db.url })).code, 3);
    const holder = await db.connect({ applicationName: 'test-lock-holder' });
    const [k1, k2] = new HistoryTable().lockKey;

    const failed = await runCli(['repair', '--dir', dir, '--accept-checksum', '2', '--reason', 'r'], {
      databaseUrl: db.url,
    });
    const notApplied = await runCli(['repair', '--dir', dir, '--accept-checksum', '3', '--reason', 'r'], {
      databaseUrl: db.url,
    });
    await holder.query('SELECT pg_advisory_lock($1::int, $2::int)', [k1, k2]);
    const locked = await runCli(
      ['repair', '--dir', dir, '--accept-checksum', '1', '--reason', 'r', '--lock-wait', '0'],
      { databaseUrl: db.url },
    );

    assert.equal(failed.code, 2, failed.stderr);
    assert.match(failed.stderr, /--accept-checksum: version 2 is recorded as failed, not applied/);
    assert.equal(notApplied.code, 2, notApplied.stderr);
    assert.match(notApplied.stderr, /--accept-checksum: version 3 has no row in lockstep\.schema_history/);
    assert.equal(locked.code, 4, locked.stderr);
    assert.match(locked.stderr, /LockTimeoutError: .*application "test-lock-holder"/);
  });
});

describe('--history-table', () => {
  it('one table, one lock: a mixed-case unquoted name is refused, a quoted spelling of the default is the default', async () => {
    const db = await database();
    const dir = await dirWith({ '0001_create_a.sql': 'CREATE TABLE a (id int);\n' });
    const first = await runCli(['migrate', '--dir', dir], { databaseUrl: db.url });
    assert.equal(first.code, 0, first.stderr);

    const mixed = await runCli(['migrate', '--dir', dir, '--history-table', 'lockstep.Schema_History'], {
      databaseUrl: db.url,
    });
    const quoted = await runCli(['migrate', '--dir', dir, '--history-table', '"lockstep"."schema_history"'], {
      databaseUrl: db.url,
    });

    assert.equal(mixed.code, 2, mixed.stderr);
    assert.match(
      mixed.stderr,
      /InvalidInputError: --history-table: "lockstep\.Schema_History" has Schema_History unquoted: PostgreSQL folds that to schema_history/,
    );
    assert.equal(quoted.code, 0, quoted.stderr);
    assert.match(quoted.stdout, /nothing to do/);
    const client = await db.connect();
    const { rows } = await client.query(
      "SELECT count(*)::int AS tables FROM pg_tables WHERE schemaname = 'lockstep'",
    );
    assert.deepEqual(rows, [{ tables: 1 }]);
    assert.deepEqual(await historyVersions(db), ['1']);
  });

  it('a system schema is a usage error, not an internal one', async () => {
    const db = await database();

    const runs = await Promise.all(
      ['pg_catalog.history', 'information_schema.history', 'pg_toast.history', 'pg_temp.history'].map(
        (name) => runCli(['migrate', '--history-table', name, '--json'], { databaseUrl: db.url }),
      ),
    );

    for (const run of runs) {
      assert.equal(run.code, 2, run.stdout);
      const doc = JSON.parse(run.stdout);
      assert.equal(doc.error.name, 'InvalidInputError');
      assert.equal(doc.error.field, '--history-table');
      assert.match(doc.error.message, /is in the system schema \S+: choose a schema of your own/);
    }
  });
});

describe('lockstep usage errors', () => {
  it('exits 2 on an unknown flag', async () => {
    const run = await runCli(['migrate', '--frobnicate']);

    assert.equal(run.code, 2);
    assert.match(run.stderr, /unknown option '--frobnicate'/);
  });

  it('exits 2 naming the flag when --lock-wait is not a number, as JSON with --json', async () => {
    const url = 'postgres://nobody:secret-value@127.0.0.1:9/nothing';

    const text = await runCli(['migrate', '--lock-wait', 'soon'], { databaseUrl: url });
    const json = await runCli(['migrate', '--lock-wait', 'soon', '--json'], { databaseUrl: url });

    assert.equal(text.code, 2);
    assert.match(text.stderr, /InvalidInputError: --lock-wait: must be a number of seconds/);
    assert.equal(json.code, 2);
    const doc = JSON.parse(json.stdout);
    assert.deepEqual(
      { ok: doc.ok, exitCode: doc.exitCode, code: doc.error.code, field: doc.error.field },
      { ok: false, exitCode: 2, code: 'INVALID_INPUT', field: '--lock-wait' },
    );
  });

  it('refuses a URL whose password holds an unencoded "@" and "/", echoing no part of it, text and JSON', async () => {
    // pg would read "Pw-9f8e7d" as the host and "x@127.0.0.1:55477/cdb" as the database, and print them.
    const url = 'postgres://canary:Canary@Pw-9f8e7d/x@127.0.0.1:55477/cdb';

    const text = await runCli(['migrate', '--dir', 'migrations'], { databaseUrl: url });
    const json = await runCli(['plan', '--dir', 'migrations', '--json', '--database-url', url]);

    assert.equal(text.code, 2, text.stderr);
    assert.match(text.stderr, /InvalidInputError: DATABASE_URL: is ambiguous: .*percent-encode/);
    assert.equal(json.code, 2, json.stdout);
    assert.equal(JSON.parse(json.stdout).error.field, '--database-url');
    for (const output of [text.stdout, text.stderr, json.stdout, json.stderr]) {
      assert.doesNotMatch(output, /Canary|Pw-9f8e7d|9f8e7d|55477|cdb/);
    }
  });

  it('exits 2 when the migrations directory does not exist', async () => {
    const run = await runCli(['status', '--dir', 'no/such/dir'], {
      databaseUrl: 'postgres://nobody:x@127.0.0.1:9/nothing',
    });

    assert.equal(run.code, 2);
    assert.match(run.stderr, /InvalidInputError: migrations directory: no\/such\/dir: no such directory/);
  });
});
