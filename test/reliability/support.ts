/**
 * What the reliability tests share: a seeded random source, the lines they report their counts on, and checks
 * of what the server holds after a run (history rows, the advisory lock, backends left behind).
 */
import type pg from 'pg';
import { HistoryTable } from '../../engine/history.ts';
import { waitFor } from '../support/cli-process.ts';

/**
 * The seed of a randomized test: `LOCKSTEP_RELIABILITY_SEED` to replay a run, else a fresh one. Either way it
 * is printed, so a failure can be reproduced.
 */
export function chooseSeed(): number {
  const given = process.env.LOCKSTEP_RELIABILITY_SEED;
  if (given !== undefined && given !== '') {
    const seed = Number(given);
    if (!Number.isSafeInteger(seed))
      throw new Error(`LOCKSTEP_RELIABILITY_SEED must be an integer, got ${given}`);
    return seed;
  }
  return Math.floor(Math.random() * 2 ** 31);
}

/** mulberry32: a small, fast, seeded PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Prints one line for bench/RESULTS.md, e.g. `reliability: concurrent-runners trials=20 failures=0`.
 * On stdout of the test file, where node's test runner passes it through.
 */
export function report(name: string, counts: Record<string, string | number>): void {
  const fields = Object.entries(counts)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  console.log(`reliability: ${name} ${fields}`);
}

/** A trial's failure, kept so that every trial runs and the counts printed are the real ones. */
export interface TrialFailure {
  readonly trial: number;
  readonly detail: string;
}

export function describeFailures(failures: readonly TrialFailure[]): string {
  return failures.map((f) => `trial ${f.trial}: ${f.detail}`).join('\n\n');
}

export interface HistoryRecord {
  readonly version: number;
  readonly success: boolean;
  readonly failedStatement: number | null;
  readonly appliedBy: string;
}

/** The rows of lockstep.schema_history; none when the table was never created. */
export async function historyRecords(client: pg.Client): Promise<HistoryRecord[]> {
  const exists = await client.query("SELECT to_regclass('lockstep.schema_history') IS NOT NULL AS present");
  if (!exists.rows[0].present) return [];
  const { rows } = await client.query(
    'SELECT version::int AS version, success, failed_statement, applied_by FROM lockstep.schema_history ORDER BY version',
  );
  return rows.map((r) => ({
    version: r.version,
    success: r.success,
    failedStatement: r.failed_statement,
    appliedBy: r.applied_by,
  }));
}

/** True if this session could take the migration lock (and gave it back at once). */
export async function migrationLockFree(client: pg.Client): Promise<boolean> {
  const [classid, objid] = new HistoryTable().lockKey;
  const { rows } = await client.query('SELECT pg_try_advisory_lock($1::int, $2::int) AS ok', [
    classid,
    objid,
  ]);
  if (rows[0].ok) await client.query('SELECT pg_advisory_unlock($1::int, $2::int)', [classid, objid]);
  return rows[0].ok;
}

/** Backends, in any database, whose application_name is one of `names`. */
export async function backendsNamed(client: pg.Client, names: readonly string[]): Promise<number[]> {
  const { rows } = await client.query(
    'SELECT pid FROM pg_stat_activity WHERE application_name = ANY($1::text[]) AND pid <> pg_backend_pid()',
    [names],
  );
  return rows.map((r) => r.pid);
}

/** Waits (≤ `timeoutMs`) until no backend is named one of `names`; fails naming what is left. */
export async function waitForNoBackends(
  client: pg.Client,
  names: readonly string[],
  timeoutMs = 10_000,
): Promise<void> {
  let left: number[] = [];
  try {
    await waitFor(
      'the server to end the runners’ backends',
      async () => {
        left = await backendsNamed(client, names);
        return left.length === 0 ? true : undefined;
      },
      timeoutMs,
    );
  } catch {
    const { rows } = await client.query(
      'SELECT pid, application_name, state, wait_event_type, wait_event, left(query, 80) AS query FROM pg_stat_activity WHERE pid = ANY($1::int[])',
      [left],
    );
    throw new Error(`backends still there after ${timeoutMs} ms: ${JSON.stringify(rows)}`);
  }
}
