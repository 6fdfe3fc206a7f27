/**
 * CREATE INDEX CONCURRENTLY waits, in its last phase, for every transaction with an older snapshot — any
 * long transaction in the database, a report or a backup. lock_timeout ends that wait with 55P03, and the
 * index it was building stays behind, INVALID. The engine retries a no-transaction file's statement that hit
 * lock_timeout, but only that statement, not the file from the top, so the README's drop-then-create
 * pattern never reaches its DROP again: the retry fails with 42P07 as a MigrationFailedError (final, not
 * retried by the state machine), although the transaction that held things up has long ended.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type pg from 'pg';
import { parseMigrationFiles } from '../../engine/migration-files.ts';
import { migrate } from '../../engine/runner.ts';
import { pgSession } from '../../engine/session.ts';
import { waitFor } from '../support/cli-process.ts';
import { freshDatabase } from '../support/database.ts';
import { historyRecords } from './support.ts';

const files = parseMigrationFiles(
  Object.entries({
    '0001_create_accounts.sql':
      "CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL);\nINSERT INTO accounts SELECT g, 'u' || g FROM generate_series(1, 100) g;",
    // As the README says to write it; the pause lets the long transaction begin before the index build.
    '0002_index_accounts_email.sql': `-- lockstep:no-transaction
SELECT pg_sleep(1);
DROP INDEX CONCURRENTLY IF EXISTS accounts_email;
CREATE INDEX CONCURRENTLY accounts_email ON accounts (email);
`,
  }).map(([name, sql]) => [name, Buffer.from(sql)] as const),
);

/** A transaction that holds a snapshot (as a long report does), begun after 0001 is applied. */
async function holdSnapshotAfterFirstMigration(observer: pg.Client, long: pg.Client): Promise<void> {
  await waitFor('0001 to be applied', async () => {
    const history = await historyRecords(observer);
    return history.some((h) => h.version === 1) ? true : undefined;
  });
  await long.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
  await long.query('SELECT count(*) FROM accounts');
}

async function indexState(client: pg.Client): Promise<string> {
  const { rows } = await client.query(
    "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('accounts_email')",
  );
  return rows.length === 0 ? 'absent' : rows[0].indisvalid ? 'valid' : 'invalid';
}

describe('a concurrent index build that hits lock_timeout on an old snapshot', () => {
  test('written drop-then-create, succeeds on a retry once the old transaction has ended', {
    timeout: 60_000,
  }, async () => {
    const db = await freshDatabase();
    try {
      const [runner, long, observer] = await Promise.all([
        db.connect({ applicationName: 'runner' }),
        db.connect({ applicationName: 'long-report' }),
        db.connect({ applicationName: 'observer' }),
      ]);
      const run = migrate({ session: pgSession(runner) }, files, {
        appliedBy: 'retry-repro',
        lockTimeoutMs: 200,
        lockRetries: 5,
        lockRetryDelayMs: 300,
      });
      await holdSnapshotAfterFirstMigration(observer, long);
      await waitFor('the index build to wait for the old snapshot', async () => {
        const { rows } = await observer.query(
          "SELECT 1 FROM pg_stat_activity WHERE application_name = 'runner' AND wait_event_type = 'Lock' AND query LIKE 'CREATE INDEX%'",
        );
        return rows.length > 0 ? true : undefined;
      });
      // Past lock_timeout, so the first attempt times out; far short of the retries running out.
      await new Promise((resolve) => setTimeout(resolve, 400));
      await long.query('COMMIT');

      const outcome = await run.then(
        () => 'applied',
        (err: Error) => `${err.name}: ${err.message}`,
      );

      assert.equal(outcome, 'applied');
      assert.equal(await indexState(observer), 'valid');
    } finally {
      await db.drop();
    }
  });
});
