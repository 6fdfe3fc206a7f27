import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { lintFile } from '../../../engine/lint/lint-file.ts';
import { readLiveContext } from '../../../engine/lint/live-context.ts';
import { releaseLint } from '../../../engine/lint/release.ts';
import { reportFindings } from '../../../engine/lint/report.ts';
import { pgSession } from '../../../engine/session.ts';
import { freshDatabase, type TestDatabase } from '../../support/database.ts';

const thresholds = {
  smallTableBytes: 64 * 1024,
  largeTableBytes: 1024 * 1024,
  longTransactionSeconds: 0,
  blockingSessionSeconds: 0,
};

describe('live context, against PostgreSQL', () => {
  let db: TestDatabase;
  let client: pg.Client;
  before(async () => {
    db = await freshDatabase();
    client = await db.connect();
    await client.query(`CREATE TABLE orders (id int, note text);
      INSERT INTO orders SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g;
      CREATE TABLE tiny (id int); INSERT INTO tiny VALUES (1);
      CREATE INDEX tiny_id ON tiny (id);
      ANALYZE orders;`);
  });
  after(async () => {
    await db?.drop();
  });

  const release = async (sql: string) => releaseLint([await lintFile({ file: '0001_x.sql', sql })]);

  it('scales severity with the table size: a large table is an error, a tiny one info', async () => {
    const r = await release(
      'CREATE INDEX orders_id ON orders (id);\nCREATE INDEX tiny_id2 ON tiny (id);\nDROP INDEX tiny_id;',
    );
    const live = await readLiveContext(pgSession(client), r, thresholds);
    const findings = reportFindings(r, live, thresholds);
    assert.deepEqual(
      findings.map((f) => [f.rule, f.object?.name, f.severity]),
      [
        ['index-not-concurrent', 'orders', 'error'],
        ['index-not-concurrent', 'tiny', 'info'],
        ['drop-index-not-concurrent', 'tiny_id', 'warning'],
      ],
    );
    assert.ok((findings[0]?.tableBytes ?? 0) > 1024 * 1024);
    assert.match(findings[0]?.effect ?? '', /orders: \d+(\.\d)? MB now/);
    const { rows } = await client.query('SELECT current_setting($1) AS s', ['transaction_read_only']);
    assert.equal(rows[0].s, 'off', 'the read-only transaction was left open');
  });

  it('SET NOT NULL on a column a validated CHECK (column IS NOT NULL) already proves, or already NOT NULL, is fine', async () => {
    await client.query(`ALTER TABLE tiny ADD COLUMN a int, ADD COLUMN b int NOT NULL DEFAULT 0, ADD COLUMN c int;
      ALTER TABLE tiny ADD CONSTRAINT tiny_a_nn CHECK (a IS NOT NULL) NOT VALID;
      UPDATE tiny SET a = 1; ALTER TABLE tiny VALIDATE CONSTRAINT tiny_a_nn;`);
    const r = await release(
      'ALTER TABLE tiny ALTER COLUMN a SET NOT NULL;\nALTER TABLE tiny ALTER COLUMN b SET NOT NULL;\nALTER TABLE tiny ALTER COLUMN c SET NOT NULL;',
    );
    const findings = reportFindings(r, await readLiveContext(pgSession(client), r, thresholds), thresholds);
    assert.deepEqual(
      findings.map((f) => [f.rule, f.line]),
      [['set-not-null', 3]],
    );
  });

  it('names a session whose open transaction holds a conflicting lock: pid, application, age and query', async () => {
    const other = await db.connect({ applicationName: 'billing-worker' });
    try {
      await other.query('BEGIN; SELECT count(*) FROM tiny;');
      const pid = (await other.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      const r = await release(
        'ALTER TABLE tiny ADD COLUMN note text;\nCREATE INDEX CONCURRENTLY tiny_c ON orders (id);',
      );
      const findings = reportFindings(r, await readLiveContext(pgSession(client), r, thresholds), thresholds);
      const blocking = findings.filter((f) => f.rule === 'blocking-session');
      assert.equal(blocking.length, 1, 'ACCESS SHARE blocks ALTER TABLE on tiny, and nothing on orders');
      assert.equal(blocking[0]?.severity, 'error');
      assert.equal(blocking[0]?.session?.pid, pid);
      assert.equal(blocking[0]?.session?.applicationName, 'billing-worker');
      assert.match(
        blocking[0]?.detail ?? '',
        /billing-worker.*idle in transaction.*AccessShareLock on tiny.*AccessExclusiveLock: SELECT pg_backend_pid/,
      );
    } finally {
      await other.end();
    }
  });

  it('a conflicting lock held by a transaction younger than blockingSessionSeconds is ordinary traffic, not a finding', async () => {
    const other = await db.connect({ applicationName: 'web' });
    try {
      await other.query('BEGIN; SELECT count(*) FROM tiny;');
      const r = await release('ALTER TABLE tiny ADD COLUMN web_note text;');
      const strict = { ...thresholds, blockingSessionSeconds: 3600 };
      const findings = reportFindings(r, await readLiveContext(pgSession(client), r, strict), strict);
      assert.deepEqual(
        findings.filter((f) => f.rule === 'blocking-session'),
        [],
      );
    } finally {
      await other.end();
    }
  });

  it('a session holding ACCESS EXCLUSIVE does not make the read wait: sizes come from the statistics', async () => {
    const other = await db.connect({ applicationName: 'ops-console' });
    try {
      await other.query('BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE;');
      const r = await release('ALTER TABLE orders ALTER COLUMN id TYPE bigint;');
      const started = Date.now();
      const live = await readLiveContext(pgSession(client), r, { ...thresholds, lockTimeoutMs: 200 });
      const findings = reportFindings(r, live, thresholds);
      assert.deepEqual(
        findings.filter((f) => f.rule !== 'long-transaction').map((f) => [f.rule, f.severity]),
        [
          ['column-type-change', 'error'],
          ['blocking-session', 'error'],
        ],
      );
      assert.ok(Date.now() - started < 60_000);
    } finally {
      await other.end();
    }
  });

  it('names a transaction open longer than the threshold, on the first table the release locks', async () => {
    const other = await db.connect({ applicationName: 'report-export' });
    try {
      await other.query('BEGIN; SELECT 1;');
      const r = await release('CREATE INDEX CONCURRENTLY x ON orders (id);');
      const findings = reportFindings(r, await readLiveContext(pgSession(client), r, thresholds), thresholds);
      const long = findings.find(
        (f) => f.rule === 'long-transaction' && f.session?.applicationName === 'report-export',
      );
      assert.ok(long, JSON.stringify(findings));
      assert.deepEqual([long.file, long.line, long.column], ['0001_x.sql', 1, 1]);
    } finally {
      await other.end();
    }
  });
});
