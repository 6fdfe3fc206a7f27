/**
 * `lockstep migrate` killed with SIGKILL at a random moment, fifty times. SIGKILL gives the process no chance
 * to clean up: whatever it left must be consistent on its own. After each kill:
 * - the history matches the schema: every recorded migration's objects and data exist, nothing of an
 *   unrecorded transactional migration does, and a failed row is only ever the no-transaction file's, with
 *   the statement it stopped at;
 * - the server has ended the killed run's backend (client_connection_check_interval) and the migration lock
 *   is free;
 * - a re-run exits 0 and converges, and a run after that has nothing to do.
 * The kill delays come from a seeded PRNG: the seed is printed, and LOCKSTEP_RELIABILITY_SEED replays it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { loadMigrations } from '../../engine/migration-files.ts';
import { migrate } from '../../engine/runner.ts';
import { pgSession } from '../../engine/session.ts';
import { runCli, spawnCli } from '../support/cli-process.ts';
import { freshDatabase, migrationsDir } from '../support/database.ts';
import {
  chooseSeed,
  describeFailures,
  type HistoryRecord,
  historyRecords,
  migrationLockFree,
  report,
  seededRandom,
  type TrialFailure,
  waitForNoBackends,
} from './support.ts';

const TRIALS = 50;
const ACCOUNTS = 500;
const NO_TRANSACTION_VERSION = 4;
const VERSIONS = [1, 2, 3, 4, 5, 6, 7, 8];
const TRANSACTIONAL = VERSIONS.filter((v) => v !== NO_TRANSACTION_VERSION);

const ledger = (version: number) => `INSERT INTO ledger (version) VALUES (${version});`;

/** Slow in places (pg_sleep, an index built concurrently), so kills land inside statements too. */
const MIGRATIONS: Record<string, string> = {
  '0001_create_accounts.sql': `CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL, balance int NOT NULL DEFAULT 0);
CREATE TABLE ledger (id bigserial PRIMARY KEY, version int NOT NULL);
${ledger(1)}
`,
  '0002_seed_accounts.sql': `INSERT INTO accounts (id, email) SELECT g, 'user' || g || '@example.com' FROM generate_series(1, ${ACCOUNTS}) g;
SELECT pg_sleep(0.08);
${ledger(2)}
`,
  '0003_credit_accounts.sql': `UPDATE accounts SET balance = balance + 10;
${ledger(3)}
`,
  // Re-runnable from the top, as a no-transaction file must be.
  '0004_index_accounts_email.sql': `-- lockstep:no-transaction
CREATE TABLE IF NOT EXISTS search_terms (term text PRIMARY KEY);
SELECT pg_sleep(0.06);
DROP INDEX CONCURRENTLY IF EXISTS accounts_email;
CREATE INDEX CONCURRENTLY accounts_email ON accounts (email);
SELECT pg_sleep(0.06);
INSERT INTO search_terms (term) VALUES ('email') ON CONFLICT DO NOTHING;
`,
  '0005_create_orders.sql': `CREATE TABLE orders (id bigserial PRIMARY KEY, account_id int NOT NULL REFERENCES accounts (id), total int NOT NULL);
SELECT pg_sleep(0.08);
${ledger(5)}
`,
  '0006_seed_orders.sql': `INSERT INTO orders (account_id, total) SELECT id, 100 FROM accounts;
${ledger(6)}
`,
  '0007_add_order_status.sql': `ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new';
SELECT pg_sleep(0.06);
${ledger(7)}
`,
  '0008_credit_again.sql': `UPDATE accounts SET balance = balance + 5;
${ledger(8)}
`,
};

/** What the database holds, read without assuming any migration ran. */
interface Observed {
  readonly history: readonly HistoryRecord[];
  readonly accounts: number | null;
  readonly balances: readonly number[] | null;
  readonly orders: number | null;
  readonly statusColumn: boolean;
  readonly searchTerms: number | null;
  readonly index: 'absent' | 'valid' | 'invalid';
  /** Ledger rows per version; null when the ledger table does not exist. */
  readonly ledger: ReadonlyMap<number, number> | null;
}

async function observe(client: pg.Client): Promise<Observed> {
  const { rows } = await client.query(
    `SELECT to_regclass('accounts') IS NOT NULL AS accounts, to_regclass('orders') IS NOT NULL AS orders,
       to_regclass('ledger') IS NOT NULL AS ledger, to_regclass('search_terms') IS NOT NULL AS search_terms,
       EXISTS (SELECT FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'status') AS status,
       (SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('accounts_email')) AS index_valid`,
  );
  const t = rows[0];
  const count = async (table: string) =>
    (await client.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;
  return {
    history: await historyRecords(client),
    accounts: t.accounts ? await count('accounts') : null,
    balances: t.accounts
      ? (await client.query('SELECT DISTINCT balance FROM accounts ORDER BY balance')).rows.map(
          (r) => r.balance,
        )
      : null,
    orders: t.orders ? await count('orders') : null,
    statusColumn: t.status,
    searchTerms: t.search_terms ? await count('search_terms') : null,
    index: t.index_valid === null ? 'absent' : t.index_valid ? 'valid' : 'invalid',
    ledger: t.ledger
      ? new Map(
          (await client.query('SELECT version, count(*)::int AS n FROM ledger GROUP BY version')).rows.map(
            (r) => [r.version, r.n],
          ),
        )
      : null,
  };
}

/** Where history and schema disagree; empty when consistent. */
function inconsistencies(s: Observed): string[] {
  const problems: string[] = [];
  const applied = new Set(s.history.filter((h) => h.success).map((h) => h.version));
  const failed = s.history.filter((h) => !h.success);
  const expect = (ok: boolean, what: string) => {
    if (!ok) problems.push(what);
  };

  // Migrations run in order: the successful ones are a prefix, and a failed row can only follow it.
  const prefix = VERSIONS.slice(0, applied.size);
  expect(
    prefix.every((v) => applied.has(v)),
    `recorded versions ${[...applied]} are not a prefix of ${VERSIONS}`,
  );
  for (const f of failed) {
    expect(f.version === NO_TRANSACTION_VERSION, `transactional migration ${f.version} recorded as failed`);
    expect(
      f.failedStatement !== null && f.failedStatement >= 1,
      `failed row ${f.version} without its statement`,
    );
    expect(f.version === applied.size + 1, `failed row ${f.version} does not follow the applied prefix`);
  }

  for (const v of TRANSACTIONAL) {
    const rows = s.ledger?.get(v) ?? 0;
    expect(
      rows === (applied.has(v) ? 1 : 0),
      `migration ${v}: recorded ${applied.has(v)}, ledger rows ${rows}`,
    );
  }
  expect((s.accounts !== null) === applied.has(1), `accounts table exists: ${s.accounts !== null}`);
  expect((s.ledger !== null) === applied.has(1), `ledger table exists: ${s.ledger !== null}`);
  expect((s.accounts ?? 0) === (applied.has(2) ? ACCOUNTS : 0), `accounts rows: ${s.accounts}`);
  if (s.accounts) {
    const balance = (applied.has(3) ? 10 : 0) + (applied.has(8) ? 5 : 0);
    expect(
      JSON.stringify(s.balances) === JSON.stringify([balance]),
      `balances ${s.balances}, expected ${balance}`,
    );
  }
  if (applied.has(NO_TRANSACTION_VERSION)) {
    expect(s.index === 'valid', `no-transaction migration recorded, but its index is ${s.index}`);
    expect(
      s.searchTerms === 1,
      `no-transaction migration recorded, but search_terms has ${s.searchTerms} rows`,
    );
  }
  expect((s.orders !== null) === applied.has(5), `orders table exists: ${s.orders !== null}`);
  expect((s.orders ?? 0) === (applied.has(6) ? ACCOUNTS : 0), `orders rows: ${s.orders}`);
  expect(s.statusColumn === applied.has(7), `orders.status exists: ${s.statusColumn}`);
  return problems;
}

let dir: { dir: string; cleanup(): Promise<void> };
before(async () => {
  dir = await migrationsDir(MIGRATIONS);
});
after(async () => {
  await dir.cleanup();
});

/** How long a whole `migrate` of the set takes here, process start to exit: the median of three runs. */
async function typicalRunMs(): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const db = await freshDatabase();
    try {
      const started = Date.now();
      const run = await runCli(['migrate', '--dir', dir.dir], { databaseUrl: db.url, installed: true });
      times.push(Date.now() - started);
      assert.equal(run.code, 0, run.stderr);
    } finally {
      await db.drop();
    }
  }
  return times.sort((a, b) => a - b)[1] as number;
}

type Moment = 'finished-before-kill' | 'before-first-migration' | 'mid-run';

interface TrialOutcome {
  readonly moment: Moment;
  readonly partialNoTransaction: boolean;
  readonly invalidIndexLeft: boolean;
}

async function trial(n: number, delayMs: number): Promise<TrialOutcome> {
  const db = await freshDatabase();
  const release = `kill-${n}`;
  try {
    const { child, done } = spawnCli(['migrate', '--dir', dir.dir, '--release', release], {
      databaseUrl: db.url,
      installed: true,
    });
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    child.kill('SIGKILL');
    const killed = await done;
    if (killed.signal !== 'SIGKILL')
      assert.equal(
        killed.code,
        0,
        `a run that finished before the kill exited ${killed.code}: ${killed.stderr}`,
      );

    const check = await db.connect({ applicationName: 'reliability-check' });
    await waitForNoBackends(check, [`lockstep ${release}`]);
    assert.equal(await migrationLockFree(check), true, 'the migration lock is free');
    const afterKill = await observe(check);
    assert.deepEqual(inconsistencies(afterKill), [], 'after the kill, history and schema agree');

    const rerun = await runCli(['migrate', '--dir', dir.dir, '--release', `${release}-rerun`], {
      databaseUrl: db.url,
      installed: true,
    });
    assert.equal(rerun.code, 0, `the re-run exited ${rerun.code}: ${rerun.stderr}`);
    const converged = await observe(check);
    assert.deepEqual(inconsistencies(converged), [], 'after the re-run, history and schema agree');
    assert.deepEqual(
      converged.history.map((h) => [h.version, h.success]),
      VERSIONS.map((v) => [v, true]),
      'after the re-run, every migration is applied',
    );
    const again = await migrate({ session: pgSession(check) }, await loadMigrations(dir.dir), {
      appliedBy: `${release}-again`,
    });
    assert.deepEqual(
      [again.applied.length, again.pending.length],
      [0, 0],
      'a second re-run has nothing to do',
    );

    const appliedAtKill = afterKill.history.filter((h) => h.success).length;
    const noTransactionRecorded = afterKill.history.some(
      (h) => h.version === NO_TRANSACTION_VERSION && h.success,
    );
    return {
      moment:
        killed.signal !== 'SIGKILL'
          ? 'finished-before-kill'
          : appliedAtKill === 0
            ? 'before-first-migration'
            : 'mid-run',
      partialNoTransaction:
        !noTransactionRecorded && (afterKill.searchTerms !== null || afterKill.index !== 'absent'),
      invalidIndexLeft: afterKill.index === 'invalid',
    };
  } finally {
    await db.drop();
  }
}

test(`SIGKILL at ${TRIALS} random moments: consistent history, no backend or lock left, a re-run converges`, {
  timeout: 20 * 60_000,
}, async () => {
  const seed = chooseSeed();
  const random = seededRandom(seed);
  const started = Date.now();
  const typical = await typicalRunMs();
  console.log(
    `reliability: sigkill seed=${seed} typicalRunMs=${typical} (replay with LOCKSTEP_RELIABILITY_SEED=${seed})`,
  );

  const failures: TrialFailure[] = [];
  const moments: Record<Moment, number> = {
    'before-first-migration': 0,
    'mid-run': 0,
    'finished-before-kill': 0,
  };
  let partialNoTransaction = 0;
  let invalidIndexLeft = 0;
  for (let n = 1; n <= TRIALS; n++) {
    const delayMs = Math.round(random() * typical);
    try {
      const outcome = await trial(n, delayMs);
      moments[outcome.moment] += 1;
      if (outcome.partialNoTransaction) partialNoTransaction += 1;
      if (outcome.invalidIndexLeft) invalidIndexLeft += 1;
    } catch (err) {
      failures.push({
        trial: n,
        detail: `killed after ${delayMs} ms: ${err instanceof Error ? err.message : err}`,
      });
    }
  }
  report('sigkill', {
    trials: TRIALS,
    failures: failures.length,
    seed,
    typicalRunMs: typical,
    killedBeforeFirstMigration: moments['before-first-migration'],
    killedMidRun: moments['mid-run'],
    finishedBeforeKill: moments['finished-before-kill'],
    noTransactionFileCutShort: partialNoTransaction,
    invalidIndexLeft,
    seconds: ((Date.now() - started) / 1000).toFixed(1),
  });
  assert.equal(failures.length, 0, describeFailures(failures));
});
