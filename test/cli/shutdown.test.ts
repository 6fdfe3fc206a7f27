/**
 * A runner that dies mid-migration must leave nothing behind on the server: no backend still running its
 * statement, no advisory lock, no half-applied migration. SIGKILL gives the CLI no chance to clean up, so this
 * relies on the server noticing the closed socket (client_connection_check_interval); SIGTERM goes through
 * the CLI's own handler.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type pg from 'pg';
import { HistoryTable } from '../../engine/history.ts';
import { runCli, spawnCli, waitFor } from '../support/cli-process.ts';
import { freshDatabase, migrationsDir, type TestDatabase } from '../support/database.ts';

const databases: TestDatabase[] = [];
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  await Promise.all([...databases.map((d) => d.drop()), ...cleanups.map((c) => c())]);
});

/** A database where 0001 is applied and `dir` holds it plus `next`. */
async function prepare(next: Record<string, string>): Promise<{ db: TestDatabase; dir: string }> {
  const db = await freshDatabase();
  databases.push(db);
  const { dir, cleanup } = await migrationsDir({
    '0001_create_items.sql': 'CREATE TABLE items (id int PRIMARY KEY);\n',
  });
  cleanups.push(cleanup);
  const first = await runCli(['migrate', '--dir', dir], { databaseUrl: db.url });
  assert.equal(first.code, 0, first.stderr);
  await Promise.all(Object.entries(next).map(([file, sql]) => writeFile(join(dir, file), sql)));
  return { db, dir };
}

/** The pid of the CLI's backend once `condition` holds for it. */
function cliBackend(observer: pg.Client, condition: string): Promise<number> {
  return waitFor('the CLI to run its migration', async () => {
    const r = await observer.query(
      `SELECT pid FROM pg_stat_activity
       WHERE datname = current_database() AND application_name LIKE 'lockstep %' AND ${condition}`,
    );
    return r.rows[0]?.pid as number | undefined;
  });
}

/** Asserts the server forgot the dead runner: backend gone, advisory lock free. */
async function assertNothingLeft(observer: pg.Client, pid: number): Promise<void> {
  await waitFor('the server to end the dead runner backend', async () => {
    const r = await observer.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
    return r.rowCount === 0 ? true : undefined;
  });
  const [classid, objid] = new HistoryTable().lockKey;
  const locked = await observer.query('SELECT pg_try_advisory_lock($1::int, $2::int) AS ok', [
    classid,
    objid,
  ]);
  assert.equal(locked.rows[0].ok, true, 'the advisory lock is free');
  await observer.query('SELECT pg_advisory_unlock($1::int, $2::int)', [classid, objid]);
}

async function schemaState(observer: pg.Client) {
  const history = await observer.query('SELECT version::text FROM lockstep.schema_history ORDER BY version');
  const state = await observer.query(
    `SELECT to_regclass('side_effect') IS NOT NULL AS side_effect,
       EXISTS (SELECT FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'label') AS label`,
  );
  return { versions: history.rows.map((r) => r.version), ...state.rows[0] };
}

describe('a runner killed mid-migration', () => {
  it('leaves no backend, lock or trace after SIGKILL, and a re-run converges', async () => {
    const { db, dir } = await prepare({
      '0002_add_label.sql': 'CREATE TABLE side_effect (id int);\nALTER TABLE items ADD COLUMN label text;\n',
    });
    const blocker = await db.connect({ applicationName: 'test-blocker' });
    await blocker.query('BEGIN');
    await blocker.query('SELECT * FROM items'); // holds ACCESS SHARE until the transaction ends
    const observer = await db.connect({ applicationName: 'test-observer' });

    const { child, done } = spawnCli(['migrate', '--dir', dir, '--lock-timeout', '60000'], {
      databaseUrl: db.url,
    });
    const pid = await cliBackend(observer, `wait_event_type = 'Lock'`);
    child.kill('SIGKILL');
    const killed = await done;

    assert.equal(killed.signal, 'SIGKILL');
    await assertNothingLeft(observer, pid);
    await blocker.query('ROLLBACK');
    assert.deepEqual(await schemaState(observer), { versions: ['1'], side_effect: false, label: false });
    const rerun = await runCli(['migrate', '--dir', dir], { databaseUrl: db.url });
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stderr, /applied 0002_add_label\.sql/);
    assert.deepEqual(await schemaState(observer), { versions: ['1', '2'], side_effect: true, label: true });
  });

  it('exits 143 on SIGTERM after closing its connection, leaving no backend, lock or trace', async () => {
    const { db, dir } = await prepare({
      '0002_slow.sql': 'CREATE TABLE side_effect (id int);\nSELECT pg_sleep(30);\n',
    });
    const observer = await db.connect({ applicationName: 'test-observer' });

    const { child, done } = spawnCli(['migrate', '--dir', dir], { databaseUrl: db.url });
    const pid = await cliBackend(observer, `state = 'active' AND query LIKE '%pg_sleep%'`);
    child.kill('SIGTERM');
    const terminated = await done;

    assert.equal(terminated.code, 143, terminated.stderr);
    assert.match(terminated.stderr, /interrupted by SIGTERM/);
    await assertNothingLeft(observer, pid);
    assert.deepEqual(await schemaState(observer), { versions: ['1'], side_effect: false, label: false });
  });
});
