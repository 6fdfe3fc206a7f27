/**
 * One rehearsal at a time per embedded PostgreSQL (per `.lockstep/` directory). The lock is a session-level
 * advisory lock held by a connection of its own to the maintenance database for the rehearsal's whole run,
 * so a rehearsal that is killed cannot leave it behind: the server ends the session, and the lock with it.
 */
import pg from 'pg';
import { LockstepError } from '../engine/errors.ts';

/** "lksp" and "rehr": apart from every migration lock, whose second key is a hash of a history table's name. */
const KEYS = [0x6c6b7370, 0x72656872 & 0x7fffffff] as const;

/** Another rehearsal holds the lock. Nothing was changed. */
export class RehearsalInProgressError extends LockstepError<'REHEARSAL_IN_PROGRESS'> {
  override readonly name = 'RehearsalInProgressError';
  readonly code = 'REHEARSAL_IN_PROGRESS';
  constructor(
    readonly holder: { readonly pid: number; readonly name: string; readonly since: string } | undefined,
  ) {
    super(
      `another rehearsal is running on this embedded PostgreSQL: ${
        holder
          ? `${holder.name} (server pid ${holder.pid}, since ${holder.since})`
          : 'it has just finished, or is not visible'
      }; wait for it to end, then run again`,
    );
  }
  protected override details() {
    return { holder: this.holder };
  }
}

/** Takes the rehearsal lock, or throws {@link RehearsalInProgressError} naming who holds it. Returns the release. */
export async function takeRehearsalLock(serverUrl: string, what: string): Promise<() => Promise<void>> {
  // application_name is how the other process names us: printable ASCII, 63 bytes at most.
  const name = `lockstep ${what} (pid ${process.pid})`.replace(/[^\x20-\x7e]/g, '?').slice(0, 63);
  const client = new pg.Client({ connectionString: serverUrl, application_name: name });
  client.on('error', () => {}); // a server going away ends the lock too; the rehearsal reports its own errors
  await client.connect();
  try {
    const { rows } = await client.query('SELECT pg_try_advisory_lock($1::int, $2::int) AS locked', [...KEYS]);
    if (rows[0]?.locked !== true) {
      const holder = await client.query(
        `SELECT a.pid, a.application_name, a.backend_start
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
           AND l.classid = $1::int::oid AND l.objid = $2::int::oid
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [...KEYS],
      );
      const row = holder.rows[0];
      throw new RehearsalInProgressError(
        row
          ? {
              pid: Number(row.pid),
              name: String(row.application_name),
              since: new Date(row.backend_start).toISOString(),
            }
          : undefined,
      );
    }
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  return async () => {
    await client.end().catch(() => {});
  };
}
