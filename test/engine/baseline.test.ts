/**
 * `baseline` on real PostgreSQL: a database built without any tool gets its history up to a version, audited, and
 * `migrate` then applies only what comes after; a second baseline is a no-op; history of lockstep's own or another
 * tool's is refused, as is a version no file has; a dry run writes nothing.
 */
import assert from 'node:assert/strict';
import { after, beforeEach, describe, test } from 'node:test';
import type pg from 'pg';
import { baseline } from '../../engine/baseline.ts';
import { ForeignHistoryError, InvalidInputError } from '../../engine/errors.ts';
import { parseMigrationFiles } from '../../engine/migration-files.ts';
import { migrate } from '../../engine/runner.ts';
import { pgSession } from '../../engine/session.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const FILES = parseMigrationFiles(
  Object.entries({
    '0001_users.sql': 'CREATE TABLE users (id int PRIMARY KEY);\n',
    '0002_email.sql': 'ALTER TABLE users ADD COLUMN email text;\n',
    '0003_orders.sql': 'CREATE TABLE orders (id int PRIMARY KEY);\n',
  }).map(([name, text]) => [name, Buffer.from(text)] as const),
);
const options = {
  version: 2n,
  reason: 'restored from the 2026-11 dump',
  baselinedBy: 'ops-1',
  osUser: 'alice',
};

const databases: TestDatabase[] = [];
after(() => Promise.all(databases.map((d) => d.drop())));
let client: pg.Client;
beforeEach(async () => {
  const db = await freshDatabase();
  databases.push(db);
  client = await db.connect();
  // What the dump held: the schema of the first two migrations, built by hand.
  await client.query('CREATE TABLE users (id int PRIMARY KEY, email text)');
});

const versions = async () =>
  (await client.query('SELECT version, applied_by FROM lockstep.schema_history ORDER BY version')).rows.map(
    (r) => `${r.version} ${r.applied_by}`,
  );

describe('baseline', () => {
  test('records the files up to the version as applied, audited; migrate then applies only the rest', async () => {
    const result = await baseline({ session: pgSession(client) }, FILES, options);

    assert.deepEqual(
      result.marked.map((m) => m.file),
      ['0001_users.sql', '0002_email.sql'],
    );
    assert.deepEqual(result.pending, ['0003_orders.sql']);
    assert.deepEqual(await versions(), ['1 baseline by ops-1', '2 baseline by ops-1']);
    const audit = await client.query(
      'SELECT action, version, reason, repaired_by, os_user, previous_row FROM lockstep.schema_history_repairs',
    );
    assert.deepEqual(audit.rows, [
      {
        action: 'baseline',
        version: '2',
        reason: 'restored from the 2026-11 dump',
        repaired_by: 'ops-1',
        os_user: 'alice',
        previous_row: { marked: 2 },
      },
    ]);
    const run = await migrate({ session: pgSession(client) }, FILES, { appliedBy: 'v2' });
    assert.deepEqual(
      run.applied.map((a) => a.file),
      ['0003_orders.sql'],
    );
  });

  test('a second baseline to the same version writes nothing; to another, it is refused', async () => {
    await baseline({ session: pgSession(client) }, FILES, options);

    const again = await baseline({ session: pgSession(client) }, FILES, options);

    assert.equal(again.alreadyBaselined, true);
    assert.deepEqual(again.marked, []);
    await assert.rejects(
      baseline({ session: pgSession(client) }, FILES, { ...options, version: 3n }),
      (err: unknown) => err instanceof InvalidInputError && /already holds 2 rows/.test(err.message),
    );
    const audit = await client.query('SELECT count(*)::int AS n FROM lockstep.schema_history_repairs');
    assert.equal(audit.rows[0].n, 1);
  });

  test('refuses a database with lockstep history, another tool’s history, or a version no file has', async () => {
    await assert.rejects(
      baseline({ session: pgSession(client) }, FILES, { ...options, version: 5n }),
      (err: unknown) =>
        err instanceof InvalidInputError &&
        err.field === '--version' &&
        /no migration file has version 5/.test(err.message),
    );
    await client.query(
      "CREATE TABLE _prisma_migrations (id text, migration_name text); INSERT INTO _prisma_migrations VALUES ('x', 'init')",
    );
    await assert.rejects(baseline({ session: pgSession(client) }, FILES, options), ForeignHistoryError);
    await client.query('DROP TABLE _prisma_migrations');
    await migrate({ session: pgSession(client) }, FILES.slice(2), { appliedBy: 'v1' });
    await assert.rejects(
      baseline({ session: pgSession(client) }, FILES, options),
      (err: unknown) =>
        err instanceof InvalidInputError &&
        /already holds 1 row: baseline is for a database with no lockstep history/.test(err.message),
    );
  });

  test('a dry run reports and writes nothing; a reason is required', async () => {
    const dry = await baseline({ session: pgSession(client) }, FILES, { ...options, dryRun: true });

    assert.equal(dry.dryRun, true);
    assert.equal(dry.marked.length, 2);
    const { rows } = await client.query("SELECT to_regclass('lockstep.schema_history') AS t");
    assert.equal(rows[0].t, null);
    await assert.rejects(
      baseline({ session: pgSession(client) }, FILES, { ...options, reason: '  ' }),
      (err: unknown) => err instanceof InvalidInputError && err.field === '--reason',
    );
  });
});
