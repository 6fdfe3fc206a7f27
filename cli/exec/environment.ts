/**
 * The environment `lockstep exec` gives its command: lockstep's own, plus the database it locked, as
 * `DATABASE_URL` and as the libpq variables, so that tools reading either connect where lockstep did.
 */

/** The connection lockstep made, as node-postgres resolved it (URL first, then its own PG* environment). */
export interface ResolvedConnection {
  readonly host: string;
  readonly port: number;
  readonly database: string | undefined;
  readonly user: string | undefined;
  readonly password: string | undefined;
}

/** URL parameters libpq also reads from the environment, passed on when the URL sets them. */
const URL_PARAMETERS: ReadonlyArray<readonly [parameter: string, variable: string]> = [
  ['sslmode', 'PGSSLMODE'],
  ['sslrootcert', 'PGSSLROOTCERT'],
  ['sslcert', 'PGSSLCERT'],
  ['sslkey', 'PGSSLKEY'],
];

export interface CommandEnvironmentInput {
  /** lockstep's environment, passed on. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The URL lockstep connected with, passed on as given. */
  readonly url: string;
  readonly connection: ResolvedConnection;
  /** Options for every session the command opens (`-c lock_timeout=5000`); empty for none. */
  readonly pgOptions: string;
  readonly release: string;
}

/**
 * `DATABASE_URL` is the URL as given (its query parameters, Prisma's `?schema=` for one, intact). `PGHOST`,
 * `PGPORT`, `PGDATABASE`, `PGUSER` and `PGPASSWORD` describe the connection lockstep made, replacing any inherited
 * (a `PGPASSWORD` is removed when lockstep used none); `PGSSLMODE` and the certificate variables come from the URL
 * when it sets them, else stay as inherited. lockstep's `PGOPTIONS` go before any the environment already has, so
 * for a setting both name the environment's wins. `LOCKSTEP_RELEASE` is the release label.
 */
export function commandEnvironment(input: CommandEnvironmentInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.env)) if (value !== undefined) env[name] = value;
  const { connection } = input;
  env.DATABASE_URL = input.url;
  env.PGHOST = connection.host;
  env.PGPORT = String(connection.port);
  setOrRemove(env, 'PGDATABASE', connection.database);
  setOrRemove(env, 'PGUSER', connection.user);
  setOrRemove(env, 'PGPASSWORD', connection.password);
  const search = urlSearchParams(input.url);
  for (const [parameter, variable] of URL_PARAMETERS) {
    const value = search?.get(parameter);
    if (value) env[variable] = value;
  }
  const options = [input.pgOptions.trim(), env.PGOPTIONS?.trim() ?? ''].filter((o) => o !== '').join(' ');
  setOrRemove(env, 'PGOPTIONS', options || undefined);
  env.LOCKSTEP_RELEASE = input.release;
  return env;
}

function setOrRemove(env: Record<string, string>, name: string, value: string | undefined): void {
  if (value === undefined || value === '') delete env[name];
  else env[name] = value;
}

function urlSearchParams(url: string): URLSearchParams | undefined {
  try {
    return new URL(url).searchParams;
  } catch {
    return undefined;
  }
}

/** lockstep's default `PGOPTIONS`: the lock timeout it gives its own migration statements. */
export function defaultPgOptions(lockTimeoutMs: number): string {
  return `-c lock_timeout=${lockTimeoutMs}`;
}
