/**
 * The smallest reproduction of what the concurrent-runners trials hit: a second runner waiting for the
 * migration lock while the first builds an index with CREATE INDEX CONCURRENTLY. The waiter blocks inside
 * `SELECT pg_advisory_lock(…)`, a statement that holds a snapshot; CREATE INDEX CONCURRENTLY waits for every
 * transaction with an older snapshot to end, the waiter's included, while the waiter waits for the lock the
 * index builder's session holds. PostgreSQL's deadlock detector (deadlock_timeout, 1 s) then aborts whichever
 * of the two has waited for a second when it checks: the waiter, if it started waiting less than a second
 * before the index build did; else the index build.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseMigrationFiles } from '../../engine/migration-files.ts';
import { migrate } from '../../engine/runner.ts';
import { pgSession } from '../../engine/session.ts';
import { waitFor } from '../support/cli-process.ts';
import { freshDatabase } from '../support/database.ts';
import { historyRecords } from './support.ts';

/** Two migrations; the second pauses (so the other runner is surely waiting), then builds an index concurrently. */
const filesPausing = (pauseSeconds: number) =>
  parseMigrationFiles(
    Object.entries({
      '0001_create_accounts.sql': 'CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL);',
      '0002_index_accounts_email.sql': `-- lockstep:no-transaction
SELECT pg_sleep(${pauseSeconds});
DROP INDEX CONCURRENTLY IF EXISTS accounts_email;
CREATE INDEX CONCURRENTLY accounts_email ON accounts (email);
`,
    }).map(([name, sql]) => [name, Buffer.from(sql)] as const),
  );

describe('a runner waits for the lock while the holder runs CREATE INDEX CONCURRENTLY', () => {
  for (const { pause, when } of [
    { pause: 0.3, when: 'the index build starts soon after the other runner began waiting' },
    { pause: 1.5, when: 'the other runner has waited over a second when the index build starts' },
  ]) {
    test(`${when}: both runners succeed`, { timeout: 60_000 }, async () => {
      const db = await freshDatabase();
      try {
        const files = filesPausing(pause);
        const [first, second, observer] = await Promise.all([
          db.connect({ applicationName: 'runner-first' }),
          db.connect({ applicationName: 'runner-second' }),
          db.connect({ applicationName: 'observer' }),
        ]);
        const options = { appliedBy: 'deadlock-repro', lockWaitMs: 30_000, lockRetryDelayMs: 50 };
        const running = migrate({ session: pgSession(first) }, files, options);
        // The second runner starts once the first holds the lock and is into the no-transaction file.
        await waitFor('the first runner to reach 0002', async () => {
          const { rows } = await observer.query(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = 'runner-first' AND query LIKE '%pg_sleep%'",
          );
          return rows.length > 0 ? true : undefined;
        });
        const waiting = migrate({ session: pgSession(second) }, files, options);

        const outcomes = await Promise.allSettled([running, waiting]);

        assert.deepEqual(
          outcomes.map((r) =>
            r.status === 'fulfilled' ? 'ok' : `${(r.reason as Error).name}: ${(r.reason as Error).message}`,
          ),
          ['ok', 'ok'],
        );
        assert.deepEqual(
          (await historyRecords(observer)).map((h) => [h.version, h.success]),
          [
            [1, true],
            [2, true],
          ],
        );
        const { rows } = await observer.query(
          "SELECT indisvalid FROM pg_index WHERE indexrelid = 'accounts_email'::regclass",
        );
        assert.deepEqual(rows, [{ indisvalid: true }]);
      } finally {
        await db.drop();
      }
    });
  }
});
