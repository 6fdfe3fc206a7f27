/**
 * Twenty `lockstep migrate` processes started together against one database, twenty times over: every runner
 * exits 0 and every migration is applied exactly once. The migrations change data (a ledger row each, a
 * balance credited), so a migration applied twice would show; one of them builds an index with
 * CREATE INDEX CONCURRENTLY outside a transaction while the other runners wait for the lock.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { spawnCli } from '../support/cli-process.ts';
import { freshDatabase, migrationsDir } from '../support/database.ts';
import {
  describeFailures,
  historyRecords,
  migrationLockFree,
  report,
  type TrialFailure,
  waitForNoBackends,
} from './support.ts';

const TRIALS = 20;
const RUNNERS = 20;
const ACCOUNTS = 500;

const ledger = (version: number) => `INSERT INTO ledger (version) VALUES (${version});`;

const MIGRATIONS: Record<string, string> = {
  '0001_create_accounts.sql': `CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL, balance int NOT NULL DEFAULT 0);
CREATE TABLE ledger (id bigserial PRIMARY KEY, version int NOT NULL);
${ledger(1)}
`,
  '0002_seed_accounts.sql': `INSERT INTO accounts (id, email) SELECT g, 'user' || g || '@example.com' FROM generate_series(1, ${ACCOUNTS}) g;
${ledger(2)}
`,
  '0003_credit_accounts.sql': `UPDATE accounts SET balance = balance + 10;
${ledger(3)}
`,
  '0004_create_orders.sql': `CREATE TABLE orders (id bigserial PRIMARY KEY, account_id int NOT NULL REFERENCES accounts (id), total int NOT NULL);
${ledger(4)}
`,
  '0005_index_accounts_email.sql': `-- lockstep:no-transaction
DROP INDEX CONCURRENTLY IF EXISTS accounts_email;
CREATE INDEX CONCURRENTLY accounts_email ON accounts (email);
${ledger(5)}
`,
  '0006_seed_orders.sql': `INSERT INTO orders (account_id, total) SELECT id, 100 FROM accounts;
${ledger(6)}
`,
  '0007_add_order_status.sql': `ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new';
${ledger(7)}
`,
  '0008_credit_again.sql': `UPDATE accounts SET balance = balance + 5;
SELECT pg_sleep(0.05);
${ledger(8)}
`,
  '0009_create_audit.sql': `CREATE TABLE audit (id bigserial PRIMARY KEY, note text NOT NULL);
INSERT INTO audit (note) VALUES ('migrated');
${ledger(9)}
`,
  '0010_add_account_name.sql': `ALTER TABLE accounts ADD COLUMN name text;
${ledger(10)}
`,
};
const VERSIONS = Array.from({ length: 10 }, (_, i) => i + 1);

let dir: { dir: string; cleanup(): Promise<void> };
before(async () => {
  dir = await migrationsDir(MIGRATIONS);
});
after(async () => {
  await dir.cleanup();
});

/** One trial; resolves with what went wrong, if anything. */
async function trial(n: number): Promise<string | undefined> {
  const db = await freshDatabase();
  const names = Array.from({ length: RUNNERS }, (_, i) => `lockstep race-${n}-${i}`);
  try {
    const runs = await Promise.all(
      names.map(
        (_, i) =>
          spawnCli(
            ['migrate', '--dir', dir.dir, '--lock-wait', '120', '--json', '--release', `race-${n}-${i}`],
            {
              databaseUrl: db.url,
              installed: true,
            },
          ).done,
      ),
    );
    const problems: string[] = [];
    const applied: number[] = [];
    runs.forEach((run, i) => {
      if (run.code !== 0) {
        problems.push(`runner ${i} exited ${run.code ?? run.signal}: ${run.stdout}${run.stderr}`.trim());
        return;
      }
      const result = JSON.parse(run.stdout) as { applied: Array<{ version: string }>; pending: unknown[] };
      if (result.pending.length > 0) problems.push(`runner ${i} left ${result.pending.length} pending`);
      applied.push(...result.applied.map((a) => Number(a.version)));
    });
    if (problems.length > 0) return problems.join('\n');

    const check = await db.connect({ applicationName: 'reliability-check' });
    assert.deepEqual(
      applied.sort((a, b) => a - b),
      VERSIONS,
      'the runners together applied each migration once',
    );
    const history = await historyRecords(check);
    assert.deepEqual(
      history.map((h) => [h.version, h.success, h.failedStatement]),
      VERSIONS.map((v) => [v, true, null]),
      'each migration recorded once, successfully',
    );
    const { rows: ledgerRows } = await check.query(
      'SELECT version, count(*)::int AS n FROM ledger GROUP BY version ORDER BY version',
    );
    assert.deepEqual(
      ledgerRows.map((r) => [r.version, r.n]),
      VERSIONS.map((v) => [v, 1]),
      'each migration’s ledger row written once',
    );
    const { rows: data } = await check.query(
      `SELECT (SELECT count(*)::int FROM accounts) AS accounts,
         (SELECT count(*)::int FROM accounts WHERE balance <> 15) AS wrong_balance,
         (SELECT count(*)::int FROM orders) AS orders,
         (SELECT count(*)::int FROM audit) AS audit,
         (SELECT indisvalid FROM pg_index WHERE indexrelid = 'accounts_email'::regclass) AS index_valid`,
    );
    assert.deepEqual(data[0], {
      accounts: ACCOUNTS,
      wrong_balance: 0,
      orders: ACCOUNTS,
      audit: 1,
      index_valid: true,
    });
    await waitForNoBackends(check, names);
    assert.equal(await migrationLockFree(check), true, 'the migration lock is free');
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await db.drop();
  }
}

test(`${RUNNERS} runners started at once, ${TRIALS} times: all exit 0, each migration applied exactly once`, {
  timeout: 20 * 60_000,
}, async () => {
  const failures: TrialFailure[] = [];
  const started = Date.now();
  for (let n = 1; n <= TRIALS; n++) {
    const detail = await trial(n);
    if (detail !== undefined) failures.push({ trial: n, detail });
  }
  report('concurrent-runners', {
    trials: TRIALS,
    runners: RUNNERS,
    migrations: VERSIONS.length,
    failures: failures.length,
    seconds: ((Date.now() - started) / 1000).toFixed(1),
  });
  assert.equal(failures.length, 0, describeFailures(failures));
});
