/**
 * Where the CLI's database comes from: the URL it was given, or an embedded PostgreSQL in `.lockstep/pg`.
 * Failures to start or reach it are {@link DatabaseUnavailableError}s whose messages name host, port,
 * database and user, but never the URL or password.
 */
import { join } from 'node:path';
import pg from 'pg';
import { DatabaseUnavailableError, LockstepError } from '../engine/errors.ts';
import { isLostConnection } from '../engine/server-errors.ts';
import { urlSecrets } from './options.ts';
import type { Output } from './output.ts';
import type { Shutdown } from './shutdown.ts';

/** A connect attempt that hears nothing back (a black-holed host) gives up after this. */
const CONNECT_TIMEOUT_MS = 30_000;
/** PostgreSQL keeps the first NAMEDATALEN - 1 bytes of application_name. */
const APPLICATION_NAME_MAX = 63;

/** `lockstep <release>`, as it appears in pg_stat_activity and in the lock holder's description. */
export function applicationName(release: string): string {
  // PostgreSQL replaces anything but printable ASCII; do it first so the 63-byte cut falls on a character.
  return `lockstep ${release}`.replace(/[^\x20-\x7e]/g, '?').slice(0, APPLICATION_NAME_MAX);
}

/** Starts (or reuses) the embedded PostgreSQL under `cwd`; returns its URL. Stops it at exit if started here. */
export async function startEmbeddedDatabase(
  cwd: string,
  output: Output,
  shutdown: Shutdown,
): Promise<string> {
  // Loaded only here: a run given a URL never needs it (it brings fs/promises, net and readline).
  const { databaseUrl, EMBEDDED_DATABASE, ensureDatabase, startEmbeddedPostgres, usableDataDir } =
    await import('./embedded-postgres.ts');
  const wanted = join(cwd, '.lockstep', 'pg');
  const { dir, movedBecause } = usableDataDir(wanted);
  if (movedBecause) output.note(`embedded PostgreSQL: data in ${dir} instead of ${wanted}: ${movedBecause}`);
  const log: string[] = [];
  let server: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
  try {
    server = await startEmbeddedPostgres({
      dataDir: dir,
      onLog: (line) => log.push(...line.split('\n').filter((l) => l.trim() !== '')),
    });
  } catch (err) {
    // embedded-postgres rejects with nothing when the server exits during start-up; its log says why.
    const reason = err instanceof Error ? err.message : 'the server exited during start-up';
    const tail = log.slice(-5).map((l) => `\n  ${l}`);
    throw new DatabaseUnavailableError(
      `could not start the embedded PostgreSQL in ${dir}: ${reason}${tail}`,
      {
        cause: err,
      },
    );
  }
  output.addSecret(server.url);
  if (server.startedHere) shutdown.stopAtExit(() => server.stop());
  const url = databaseUrl(server.url, EMBEDDED_DATABASE);
  output.addSecret(url);
  try {
    await ensureDatabase(server.url, EMBEDDED_DATABASE);
  } catch (err) {
    throw new DatabaseUnavailableError(
      `could not create the database "${EMBEDDED_DATABASE}" on the embedded PostgreSQL in ${dir}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  output.note(
    `using the embedded PostgreSQL (no --database-url or DATABASE_URL): data ${server.dataDir}, port ${server.port}, ` +
      `database ${EMBEDDED_DATABASE}; ${server.startedHere ? 'started now, stopped at exit' : 'already running, left running'}`,
  );
  return url;
}

/** A connected client, and how to tear it down. */
export interface Connection {
  readonly client: pg.Client;
  /** Why the connection broke, if it did (the server went away, or a signal destroyed it). */
  lost(): Error | undefined;
  /** Ends the session politely; never throws. */
  close(): Promise<void>;
}

/** Connects; on a signal the socket is destroyed at once, so the server cancels whatever it runs for us. */
export async function connect(
  url: string,
  options: { applicationName: string; output: Output; shutdown: Shutdown },
): Promise<Connection> {
  const client = new pg.Client({
    connectionString: url,
    application_name: options.applicationName,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
  });
  options.output.addSecret(client.password ?? undefined);
  let lostWith: Error | undefined;
  // Without a listener a server-side termination would crash the process; the failing query reports it.
  client.on('error', (err) => {
    lostWith ??= err;
  });
  const unregister = options.shutdown.abortOnSignal(() => client.connection.stream.destroy());
  try {
    await client.connect();
  } catch (err) {
    unregister();
    await client.end().catch(() => {});
    throw unavailable(err, client);
  }
  return {
    client,
    lost: () => lostWith,
    async close() {
      unregister();
      await client.end().catch(() => {});
    },
  };
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is the server running and listening on that host and port?)',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed (temporary DNS failure)',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset by the server',
};

/** SQLSTATEs a connection attempt fails with, described for when the server's message is empty. */
const SERVER_REASONS: Record<string, string> = {
  '28P01': 'password authentication failed',
  '28000': 'the server rejected the connection (pg_hba.conf or role settings)',
  '3D000': 'the database does not exist',
  '57P03': 'the server is starting up or shutting down',
  '53300': 'too many connections',
};

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; errors?: unknown[] } | undefined;
  if (typeof e?.code === 'string') return e.code;
  // Node reports a refused connection to a host with several addresses as an AggregateError.
  return e?.errors?.map(errorCode).find((c) => c !== undefined);
}

/** Turns a failed connect into an error that names where, but carries no URL or password. */
function unavailable(err: unknown, client: pg.Client): DatabaseUnavailableError {
  const code = errorCode(err);
  const where = `${client.host}:${client.port}, database "${client.database ?? '?'}" as user "${client.user ?? '?'}"`;
  const message = err instanceof Error ? err.message : String(err);
  const reason =
    (code && NETWORK_REASONS[code]) ??
    (message === 'timeout expired'
      ? `no answer within ${CONNECT_TIMEOUT_MS / 1000} s`
      : `${message || (code && SERVER_REASONS[code]) || 'unknown error'}${code ? ` (${code})` : ''}`);
  return new DatabaseUnavailableError(`cannot connect to PostgreSQL at ${where}: ${reason}`, { cause: err });
}

/**
 * A failure after connecting: lockstep's own errors pass through (`migrate` already reports a lost connection
 * as {@link DatabaseUnavailableError}); for `plan` and `status`, anything else that failed because the
 * connection broke becomes one too (retryable) instead of an internal error.
 */
export function classifyRunError(err: unknown, connection: Connection | undefined): unknown {
  if (err instanceof LockstepError) return err;
  const lost = connection?.lost();
  if (lost || isLostConnection(err)) {
    const reason = (lost ?? (err as Error)).message;
    return new DatabaseUnavailableError(`lost the connection to PostgreSQL during the run: ${reason}`, {
      cause: err,
    });
  }
  return err;
}

/**
 * The connection a command works on: the URL it was given (its secrets never printed), or else the embedded
 * PostgreSQL started here, named after the release in `application_name`.
 */
export async function openDatabase(
  options: { readonly databaseUrl: string | undefined; readonly release: string },
  deps: { readonly cwd: string; readonly output: Output; readonly shutdown: Shutdown },
): Promise<Connection> {
  for (const secret of options.databaseUrl ? urlSecrets(options.databaseUrl) : [])
    deps.output.addSecret(secret);
  const url = options.databaseUrl ?? (await startEmbeddedDatabase(deps.cwd, deps.output, deps.shutdown));
  return connect(url, {
    applicationName: applicationName(options.release),
    output: deps.output,
    shutdown: deps.shutdown,
  });
}
