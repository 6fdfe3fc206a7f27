/**
 * A migration runs on lockstep's one connection, and whatever it leaves on the session would otherwise reach the
 * migrations after it in the same run, but not those in a later run: a plain `SET` (not `SET LOCAL`), `SET ROLE`,
 * `search_path`, `session_replication_role`, temp tables, prepared statements, cursors `WITH HOLD`, `LISTEN`,
 * session advisory locks. So the result would depend on how many migrations one run applies. Every migration
 * therefore starts from the session as it was when lockstep connected, and lockstep's own statements (history
 * rows) run as the role it connected with.
 *
 * `DISCARD ALL` would do most of it, but it also drops every advisory lock, lockstep's included, and cannot run in
 * a transaction block. These statements do the same and keep the lock held throughout: a transaction-level hold on
 * it bridges the moment between releasing every session-level advisory lock and taking lockstep's again.
 */
import { ScriptFailedError } from './session.ts';

/**
 * Sent before anything else that may wait: makes the server poll the client's socket every second while a
 * statement runs or waits on a lock, so a runner killed mid-statement leaves nothing queued behind it.
 * PostgreSQL < 14 lacks the setting; there lock_timeout and statement_timeout are the only bounds.
 */
export const SESSION_SETUP_SQL =
  "SELECT pg_catalog.set_config('client_connection_check_interval', '1000', false) WHERE pg_catalog.current_setting('server_version_num')::int >= 140000";

/** In the message of the error the reset raises when a migration released lockstep's lock and another run took it. */
export const LOCK_LOST_MARKER = 'lockstep lost its migration lock';

/**
 * Statements that return the session to how it connected. Run them inside a transaction block. With `keep`, the
 * session's other advisory locks are released and lockstep's is kept: a transaction-level hold on it, lasting until
 * the transaction ends, bridges the moment between releasing every session-level one and taking lockstep's again.
 * Without it, every advisory lock is released, lockstep's too: the end of a run. A rollback of the transaction
 * undoes the settings part of the reset (not the advisory locks, which are not transactional), so whatever runs
 * after a failed migration resets again first.
 */
export function resetStatements(keep: { readonly lockKey: readonly [number, number] } | undefined): string[] {
  const locks = keep
    ? [
        // Fails (22P02, its text carrying the marker) if the lock is gone and another session holds it: a migration
        // called pg_advisory_unlock_all() and another run started. concat() is stable, so the cast is not folded at
        // plan time.
        `SELECT CAST(pg_catalog.concat('${LOCK_LOST_MARKER}: a migration released it and another run holds it now', '') AS integer) WHERE NOT pg_catalog.pg_try_advisory_xact_lock(${keep.lockKey.join(', ')})`,
        'SELECT pg_catalog.pg_advisory_unlock_all()',
        `SELECT pg_catalog.pg_advisory_lock(${keep.lockKey.join(', ')})`,
      ]
    : ['SELECT pg_catalog.pg_advisory_unlock_all()'];
  return [
    // Settings first: a statement_timeout of 1 ms a migration left must not cut off the rest of the reset.
    'RESET ALL',
    'SET SESSION AUTHORIZATION DEFAULT',
    'RESET ROLE', // role is not among what RESET ALL resets
    ...locks,
    'CLOSE ALL',
    'DEALLOCATE ALL',
    'UNLISTEN *',
    'DISCARD TEMP',
    'DISCARD SEQUENCES',
    'DISCARD PLANS',
    SESSION_SETUP_SQL, // RESET ALL reset it
  ];
}

/**
 * Inside a migration's transaction, before lockstep's own statements: they run as the role lockstep connected with
 * and find nothing of the migration's on their search path, whatever the migration set. Transaction-local, so a
 * statement-by-statement migration keeps its own role and settings between its statements.
 */
export const AS_CONNECTED: readonly string[] = [
  'SET LOCAL SESSION AUTHORIZATION DEFAULT',
  'SET LOCAL ROLE NONE',
  'SET LOCAL search_path = pg_catalog, pg_temp',
];

/** The reset found lockstep's lock taken by another run (see {@link resetStatements}). */
export function isLockLost(err: unknown): boolean {
  return (
    err instanceof ScriptFailedError &&
    err.serverError.code === '22P02' &&
    err.serverError.message.includes(LOCK_LOST_MARKER)
  );
}

/**
 * The last of a migration's transaction. LISTEN and UNLISTEN take effect when their transaction commits, so an
 * UNLISTEN in the next migration's reset would leave a LISTEN of this one in force while the next one runs; ending
 * every migration's transaction with it means none outlives its migration.
 */
export const BEFORE_COMMIT: readonly string[] = ['UNLISTEN *'];

/** Joins statements into one script, each ending with a semicolon and a newline. */
export function script(statements: readonly string[]): string {
  return statements.map((s) => `${s};\n`).join('');
}
