import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { InvalidInputError } from '../../engine/errors.ts';
import { parseMigrationFiles } from '../../engine/migration-files.ts';
import { acceptChecksum } from '../../engine/repair.ts';
import { migrate } from '../../engine/runner.ts';
import { pgSession, type SqlSession } from '../../engine/session.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const files = (sql: Record<string, string>) =>
  parseMigrationFiles(Object.entries(sql).map(([name, text]) => [name, Buffer.from(text)] as const));
const ORIGINAL = { '0001_a.sql': 'CREATE TABLE a (id int);\n' };
const EDITED = { '0001_a.sql': '-- a holds ids\nCREATE TABLE a (id int);\n' };
const audit = { reason: 'comment only', repairedBy: 'ops-1', osUser: 'alice' };

let db: TestDatabase;
let client: pg.Client;
before(async () => {
  db = await freshDatabase();
  client = await db.connect();
});
after(() => db.drop());

describe('acceptChecksum', () => {
  test('refuses when the row changed between reading and writing, and writes nothing', async () => {
    await migrate({ session: pgSession(client) }, files(ORIGINAL), { appliedBy: 'v1' });
    const other = await db.connect();
    // Another writer (not lockstep: it would need the lock) changes the checksum just before the repair writes.
    const racing: SqlSession = {
      async script(sql, onResult) {
        if (sql.includes('_repairs'))
          await other.query("UPDATE lockstep.schema_history SET checksum = 'other'");
        return pgSession(client).script(sql, onResult);
      },
    };

    await assert.rejects(acceptChecksum({ session: racing }, files(EDITED), 1n, audit), (err: unknown) => {
      assert.ok(err instanceof InvalidInputError);
      assert.match(err.message, /changed while it was being repaired/);
      return true;
    });
    const { rows } = await client.query("SELECT to_regclass('lockstep.schema_history_repairs') AS t");
    const logged = rows[0].t
      ? (await client.query('SELECT count(*)::int AS n FROM lockstep.schema_history_repairs')).rows[0].n
      : 0;
    assert.equal(logged, 0);
  });

  test('accepts, logging the previous row whole; accepting again changes nothing', async () => {
    await client.query('DROP SCHEMA lockstep CASCADE; DROP TABLE a');
    await migrate({ session: pgSession(client) }, files(ORIGINAL), { appliedBy: 'v1' });

    const first = await acceptChecksum({ session: pgSession(client) }, files(EDITED), 1n, audit);
    const second = await acceptChecksum({ session: pgSession(client) }, files(EDITED), 1n, audit);

    assert.equal(first.changed, true);
    assert.equal(second.changed, false);
    assert.equal(first.auditTable, 'lockstep.schema_history_repairs');
    const { rows } = await client.query(
      `SELECT r.previous_row->>'applied_by' AS applied_by, r.previous_row->>'checksum' = $1 AS kept_old,
              h.checksum = r.new_checksum AS stored_new, r.os_user, r.repaired_by
       FROM lockstep.schema_history_repairs r JOIN lockstep.schema_history h USING (version)`,
      [first.previousChecksum],
    );
    assert.deepEqual(rows, [
      { applied_by: 'v1', kept_old: true, stored_new: true, os_user: 'alice', repaired_by: 'ops-1' },
    ]);
  });
});
