/**
 * Keeps the connection that holds `exec`'s lock alive and notices when it is gone. The lock is a session advisory
 * lock: it lasts exactly as long as the session, so a connection that broke means a lock that may be someone
 * else's by now.
 *
 * - The session asks the server to probe the client (`tcp_keepalives_*`), so a client that vanished from the
 *   network (a killed host, a dropped route) frees the lock within about two minutes rather than the operating
 *   system's two hours, and turns `idle_session_timeout` off, which would otherwise end an idle session.
 * - Every {@link WatchOptions.intervalMs} lockstep asks whether its session still holds the lock. A connection
 *   error, or a question left unanswered for {@link WatchOptions.unansweredMs}, counts as lost: that is well
 *   before the server's probes give up on a silent client (60 s + 6 × 10 s), so lockstep hears of it first.
 */
import type { EventEmitter } from 'node:events';
import type { HistoryTable } from '../../engine/history.ts';
import type { SqlSession } from '../../engine/session.ts';

/** Sent once, before the lock is taken. Plain SETs: any role may run them; on a Unix socket they change nothing. */
export const KEEPALIVE_SQL = [
  'SET tcp_keepalives_idle = 60',
  'SET tcp_keepalives_interval = 10',
  'SET tcp_keepalives_count = 6',
  "SELECT pg_catalog.set_config('idle_session_timeout', '0', false) WHERE pg_catalog.current_setting('server_version_num')::int >= 140000",
].join(';\n');

export interface WatchOptions {
  readonly intervalMs: number;
  readonly unansweredMs: number;
}

export const WATCH_DEFAULTS: WatchOptions = { intervalMs: 10_000, unansweredMs: 45_000 };

export interface LockWatch {
  /** Why the lock counts as lost, once it does. */
  readonly lost: string | undefined;
  stop(): void;
}

/** Watches `session`'s hold on `history`'s lock; calls `onLost` once, with a reason, if it goes. */
export function watchLock(
  session: SqlSession,
  /** The node-postgres client under `session`: it emits `error` and `end` when its connection breaks. */
  client: EventEmitter,
  history: HistoryTable,
  onLost: (reason: string) => void,
  options: WatchOptions = WATCH_DEFAULTS,
): LockWatch {
  const [classid, objid] = history.lockKey;
  let lost: string | undefined;
  let stopped = false;
  let askedAt: number | undefined;
  const lose = (reason: string) => {
    if (lost !== undefined || stopped) return;
    lost = reason;
    onLost(reason);
  };
  const onError = (err: Error) => lose(`the connection failed: ${err.message}`);
  const onEnd = () => lose('the server closed the connection');
  client.on('error', onError);
  client.on('end', onEnd);
  const ask = async () => {
    if (askedAt !== undefined) {
      if (Date.now() - askedAt >= options.unansweredMs)
        lose(`PostgreSQL has not answered for ${Math.round((Date.now() - askedAt) / 1000)} s`);
      return;
    }
    askedAt = Date.now();
    try {
      const [result] = await session.script(
        `SELECT EXISTS (SELECT FROM pg_catalog.pg_locks WHERE pid = pg_catalog.pg_backend_pid() AND locktype = 'advisory' AND granted AND classid = ${classid} AND objid = ${objid} AND objsubid = 2) AS held`,
      );
      if (result?.rows[0]?.held !== 't') lose('the session no longer holds the lock');
    } catch (err) {
      lose(`the connection failed: ${(err as Error).message}`);
    } finally {
      askedAt = undefined;
    }
  };
  const timer = setInterval(() => void ask(), Math.min(options.intervalMs, options.unansweredMs));
  return {
    get lost() {
      return lost;
    },
    stop() {
      stopped = true;
      clearInterval(timer);
      client.removeListener('error', onError);
      client.removeListener('end', onEnd);
    },
  };
}
