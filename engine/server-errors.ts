/**
 * What a PostgreSQL error means to lockstep: a lost connection, a lock that can be waited out, and the words and
 * hints a failure report carries. One place, used by the engine and the CLI alike.
 */
import { DatabaseUnavailableError, type MigrationFailure } from './errors.ts';
import { ScriptFailedError, type ServerError } from './session.ts';

/** lock_timeout (55P03) and deadlock (40P01): the migration may succeed if tried again later. */
export const RETRYABLE_SQLSTATES: ReadonlySet<string> = new Set(['55P03', '40P01']);

/**
 * The connection is gone, or going: no SQLSTATE (the socket broke), a connection exception (class 08), or the
 * server ending the session (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now, 57P04 database
 * dropped, 57P05 idle session timeout).
 */
export function isConnectionLoss(code: string | undefined): boolean {
  const c = code ?? '';
  return c === '' || c.startsWith('08') || c.startsWith('57P');
}

/** `err` is a script that failed because the connection broke. */
export function isLostConnection(err: unknown): boolean {
  return err instanceof ScriptFailedError && isConnectionLoss(err.serverError.code);
}

/**
 * A script that failed because the connection broke never got its answer. Whatever was in flight either committed
 * whole or not at all; the next run reads history and carries on from there.
 */
export function rethrowConnectionLoss(err: unknown): never {
  if (err instanceof ScriptFailedError && isConnectionLoss(err.serverError.code)) {
    throw new DatabaseUnavailableError(
      `lost the database connection: ${err.message} (a transactional migration in flight committed whole or not at all; a no-transaction one may be partly applied and reruns from its first statement; running again is safe)`,
      { cause: err.serverError },
    );
  }
  throw err;
}

/** The server's message with its detail and context, for a failure report. */
export function describeServerError(se: ServerError): string {
  return [se.message, se.detail && `detail: ${se.detail}`, se.where && `context: ${se.where}`]
    .filter(Boolean)
    .join('; ');
}

/** What to do about a server error, when lockstep knows better than the server's own hint. */
export function hintFor(se: ServerError): string | undefined {
  if (se.code === '25001')
    return 'this statement cannot run inside a transaction: add "-- lockstep:no-transaction" as the first line of the file';
  if (se.code === '57014') return 'statement_timeout cancelled the statement';
  return se.hint;
}

/** A statement_timeout that the deadline shortened says so: the fix is more time, not a faster statement. */
export function withTimeoutHint(
  f: MigrationFailure,
  se: ServerError,
  timeout: { readonly ms: number; readonly cappedByDeadline: boolean },
): MigrationFailure {
  if (se.code === '57014' && timeout.cappedByDeadline) {
    return {
      ...f,
      hint: `lockstep shortened statement_timeout to ${timeout.ms} ms to end before the deadline (unless the migration set its own): run this migration where it has more time`,
    };
  }
  return f;
}
