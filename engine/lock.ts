import { type LockHolder, LockTimeoutError } from './errors.ts';
import type { HistoryTable } from './history.ts';
import { isLostConnection } from './server-errors.ts';
import type { SqlSession } from './session.ts';
import { resetStatements, SESSION_SETUP_SQL, script } from './session-reset.ts';
import { ENGINE_DEFAULTS } from './settings.ts';

/** The advisory lock that allows one migration run per history table, per database. */
export class MigrationLock {
  private readonly args: string;
  private readonly classid: number;
  private readonly objid: number;

  constructor(
    private readonly session: SqlSession,
    history: HistoryTable,
  ) {
    [this.classid, this.objid] = history.lockKey;
    this.args = `${this.classid}, ${this.objid}`;
  }

  /** Takes the lock if it is free. */
  async tryAcquire(): Promise<boolean> {
    const results = await this.session.script(
      `${SESSION_SETUP_SQL};\nSELECT pg_try_advisory_lock(${this.args}) AS locked`,
    );
    return results[1]?.rows[0]?.locked === 't';
  }

  /**
   * Waits up to `waitMs` for the lock; then {@link LockTimeoutError} naming the holder.
   *
   * It polls with `pg_try_advisory_lock` rather than blocking in `pg_advisory_lock`: a statement blocked on the
   * lock holds a snapshot, and the holder's `CREATE INDEX CONCURRENTLY` waits for every older snapshot to go —
   * a deadlock PostgreSQL breaks by aborting one of the two. Between polls this session holds no snapshot.
   */
  async acquire(
    waitMs: number,
    clock: { now: () => number; sleep: (ms: number) => Promise<void> },
  ): Promise<void> {
    const started = clock.now();
    for (let interval = 50; ; interval = Math.min(interval * 2, 1000)) {
      if (await this.tryAcquire()) return;
      const left = started + waitMs - clock.now();
      if (left <= 0) throw new LockTimeoutError(clock.now() - started, await this.holder());
      await clock.sleep(Math.min(interval, left));
    }
  }

  /**
   * Puts the session back to how it connected and releases every session advisory lock, this one included: nothing
   * a migration left stays on the caller's connection. One round trip. Safe when a migration already released the
   * lock.
   */
  async release(): Promise<void> {
    await this.session.script(script(['BEGIN', ...resetStatements(undefined), 'COMMIT']));
  }

  /** Who holds the lock now, as far as this role may see. */
  async holder(): Promise<LockHolder | undefined> {
    const [result] =
      await this.session.script(`SELECT a.pid, a.application_name, host(a.client_addr) AS client_addr,
  a.backend_start, a.state, a.state_change
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
  AND l.classid = '${this.classid}'::oid AND l.objid = '${this.objid}'::oid
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
LIMIT 1`);
    const row = result?.rows[0];
    if (!row) return undefined;
    return {
      pid: Number(row.pid),
      applicationName: row.application_name ?? null,
      clientAddress: row.client_addr ?? null,
      sessionStartedAt: row.backend_start ?? null,
      state: row.state ?? null,
      stateSince: row.state_change ?? null,
    };
  }
}

/**
 * Runs `body` while holding `lock` (already taken), then releases it. A failed release after `body` succeeded is
 * thrown; after `body` failed, `body`'s error is thrown (it says what happened) and the failed release is reported
 * through `onCleanupFailure`, unless the connection is gone, which released the lock by itself.
 */
export async function withAdvisoryLock<T>(
  lock: MigrationLock,
  body: () => Promise<T>,
  onCleanupFailure: (reason: string) => void,
): Promise<T> {
  let result: T;
  try {
    result = await body();
  } catch (err) {
    await lock.release().catch((releaseErr: unknown) => {
      if (!isLostConnection(err) && !isLostConnection(releaseErr)) onCleanupFailure(String(releaseErr));
    });
    throw err;
  }
  await lock.release();
  return result;
}

/**
 * Takes the migration lock for `history` (waiting up to `lockWaitMs`, naming the holder when it gives up), runs
 * `body`, and gives the lock back as {@link withAdvisoryLock} does: the one way `repair`, `adopt` and `baseline` hold it.
 */
export async function withMigrationLock<T>(
  deps: {
    readonly session: SqlSession;
    readonly now?: (() => number) | undefined;
    readonly sleep?: ((ms: number) => Promise<void>) | undefined;
    readonly onCleanupFailure?: ((reason: string) => void) | undefined;
  },
  history: HistoryTable,
  lockWaitMs: number | undefined,
  body: () => Promise<T>,
): Promise<T> {
  const lock = new MigrationLock(deps.session, history);
  await lock.acquire(lockWaitMs ?? ENGINE_DEFAULTS.lockWaitMs, {
    now: deps.now ?? Date.now,
    sleep: deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
  });
  return withAdvisoryLock(lock, body, deps.onCleanupFailure ?? (() => {}));
}
