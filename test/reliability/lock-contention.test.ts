/**
 * A long transaction holds a lock on a table a migration must alter. ALTER TABLE waits for ACCESS EXCLUSIVE,
 * and while it waits every new reader of the table queues behind it: lock_timeout is what bounds that. With
 * `--lock-timeout 200 --lock-retries 3` the migration gives up after each 200 ms, backs off, and finally fails
 * with LockNotAvailableError (exit 4) while the transaction is still open; readers meanwhile are never held up
 * much longer than one lock_timeout. Once the transaction ends, the same migration goes through.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, test } from 'node:test';
import type pg from 'pg';
import { runCli } from '../support/cli-process.ts';
import { freshDatabase, migrationsDir } from '../support/database.ts';
import { historyRecords, migrationLockFree, report } from './support.ts';

const LOCK_TIMEOUT_MS = 200;
const LOCK_RETRIES = 3;
/** A bound on blocking, not a speed target: scheduling on a busy 2-core machine adds to every wait. */
const SLACK_MS = 1500;
/** Between reads: frequent enough that each of the migration's attempts finds a reader queued behind it. */
const READ_PAUSE_MS = 5;

/** Reads the table every few milliseconds until stopped, timing each read. */
function startReader(reader: pg.Client): { stop(): Promise<{ waits: number[]; errors: string[] }> } {
  const waits: number[] = [];
  const errors: string[] = [];
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      const started = performance.now();
      try {
        await reader.query('SELECT count(*) FROM items');
        waits.push(performance.now() - started);
      } catch (err) {
        errors.push(`${(err as Error).message} after ${Math.round(performance.now() - started)} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, READ_PAUSE_MS));
    }
  })();
  return {
    async stop() {
      stopping = true;
      await loop;
      return { waits, errors };
    },
  };
}

const HOLDERS = [
  { name: 'LOCK TABLE … IN ACCESS SHARE MODE', sql: 'LOCK TABLE items IN ACCESS SHARE MODE' },
  { name: 'a row lock (SELECT … FOR UPDATE)', sql: 'SELECT * FROM items WHERE id = 1 FOR UPDATE' },
] as const;

describe('a long transaction holds a lock the migration needs', () => {
  for (const holder of HOLDERS) {
    test(`${holder.name}: readers wait at most about lock_timeout, the run fails typed, and succeeds after commit`, {
      timeout: 120_000,
    }, async () => {
      const db = await freshDatabase();
      const migrations = await migrationsDir({
        '0001_create_items.sql':
          'CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);\nINSERT INTO items SELECT g, $$item $$ || g FROM generate_series(1, 1000) g;\n',
      });
      try {
        const cli = (release: string) =>
          runCli(
            [
              'migrate',
              '--dir',
              migrations.dir,
              '--json',
              '--release',
              release,
              '--lock-timeout',
              String(LOCK_TIMEOUT_MS),
              '--lock-retries',
              String(LOCK_RETRIES),
            ],
            { databaseUrl: db.url, installed: true },
          );
        assert.equal((await cli('first')).code, 0);
        await writeFile(
          join(migrations.dir, '0002_add_item_note.sql'),
          'ALTER TABLE items ADD COLUMN note text;\n',
        );

        const [long, reader, check] = await Promise.all([
          db.connect({ applicationName: 'long-transaction' }),
          db.connect({ applicationName: 'reader' }),
          db.connect({ applicationName: 'reliability-check' }),
        ]);
        await long.query('BEGIN');
        await long.query(holder.sql);
        await reader.query("SET statement_timeout = '10s'");
        const reading = startReader(reader);

        const blocked = await cli('contended');

        const { waits, errors } = await reading.stop();
        const maxWait = Math.max(...waits);
        const blockedReads = waits.filter((w) => w >= LOCK_TIMEOUT_MS / 2).length;
        report('lock-contention', {
          holder: JSON.stringify(holder.name),
          reads: waits.length,
          blockedReads,
          maxReadWaitMs: Math.round(maxWait),
          lockTimeoutMs: LOCK_TIMEOUT_MS,
          exit: blocked.code ?? 'none',
          failures: errors.length + (maxWait < LOCK_TIMEOUT_MS + SLACK_MS ? 0 : 1),
        });
        assert.equal(blocked.code, 4, blocked.stderr);
        const { error } = JSON.parse(blocked.stdout) as {
          error: { name: string; code: string; attempts: number; location: { file: string } };
        };
        assert.equal(error.name, 'LockNotAvailableError');
        assert.equal(error.code, 'LOCK_NOT_AVAILABLE');
        assert.equal(error.attempts, LOCK_RETRIES + 1);
        assert.equal(error.location.file, '0002_add_item_note.sql');
        assert.deepEqual(errors, [], 'no read failed');
        assert.ok(waits.length > 0, 'the reader ran');
        assert.ok(
          maxWait < LOCK_TIMEOUT_MS + SLACK_MS,
          `a read waited ${Math.round(maxWait)} ms, more than lock_timeout ${LOCK_TIMEOUT_MS} ms + ${SLACK_MS} ms`,
        );
        assert.ok(
          maxWait >= LOCK_TIMEOUT_MS / 4,
          'reads did queue behind the migration: the test exercised it',
        );
        const { rows } = await check.query(
          "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'note'",
        );
        assert.equal(rows[0].n, 0, 'the column was not added');
        assert.deepEqual(
          (await historyRecords(check)).map((h) => [h.version, h.success]),
          [[1, true]],
        );
        assert.equal(await migrationLockFree(check), true, 'the failed run released the migration lock');

        await long.query('COMMIT');
        const after = await cli('after-commit');
        assert.equal(after.code, 0, after.stderr);
        assert.deepEqual(
          (await historyRecords(check)).map((h) => [h.version, h.success]),
          [
            [1, true],
            [2, true],
          ],
        );
      } finally {
        await db.drop();
        await migrations.cleanup();
      }
    });
  }
});
