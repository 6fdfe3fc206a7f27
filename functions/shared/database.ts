/**
 * Connecting to the release's database: credentials from Secrets Manager (never from configuration, never
 * logged), TLS with full certificate verification, and one re-read of the secret when the password was just
 * rotated. The password lives only in this module's local variables and the pg client it configures.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type pg from 'pg';
// The client alone, without the pool and the native binding (engine/pg-lib.d.ts).
import Client from 'pg/lib/client.js';
import * as z from 'zod/mini';
import { ConfigError, DatabaseUnavailableError, LockstepError } from './errors.ts';
import type { Log } from './logger.ts';

/** Where to connect; host, port and database override the secret's (RDS-managed secrets hold only credentials). */
export interface DatabaseTarget {
  readonly secretId: string;
  readonly host?: string | undefined;
  readonly port?: number | undefined;
  readonly database?: string | undefined;
  /** PEM bundle to trust; otherwise Node's store plus NODE_EXTRA_CA_CERTS (the Lambda runtime's RDS CAs). */
  readonly ca?: string | undefined;
  /** Seconds to wait for the TCP and TLS handshake. @default 10 */
  readonly connectTimeoutSeconds?: number;
}

const secretShape = z.object({
  username: z.string().check(z.minLength(1)),
  password: z.string().check(z.minLength(1)),
  host: z.optional(z.string().check(z.minLength(1))),
  port: z.optional(z.coerce.number().check(z.int(), z.positive())),
  dbname: z.optional(z.string().check(z.minLength(1))),
});
type DatabaseSecret = z.infer<typeof secretShape>;

/** Reads the secret once per container and again, on request, after an authentication failure. */
export class SecretSource {
  private cached: DatabaseSecret | undefined;

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretId: string,
  ) {}

  async get(options: { fresh?: boolean } = {}): Promise<DatabaseSecret> {
    if (this.cached && !options.fresh) return this.cached;
    const response = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }));
    let parsed: unknown;
    try {
      parsed = JSON.parse(response.SecretString ?? '');
    } catch {
      throw new ConfigError(
        'DB_SECRET_ARN',
        'the secret is not JSON (expected the RDS shape: username, password, …)',
      );
    }
    const result = secretShape.safeParse(parsed);
    if (!result.success) {
      // Name the field only: an issue's `input` could be the secret value itself.
      const field = String(result.error.issues[0]?.path[0] ?? 'secret');
      throw new ConfigError(
        'DB_SECRET_ARN',
        `the secret's "${field}" is missing or invalid (expected the RDS shape)`,
      );
    }
    this.cached = result.data;
    return result.data;
  }
}

export interface ConnectDeps {
  readonly secrets: SecretSource;
  readonly log: Log;
}

/** Connects, re-reading the secret once if PostgreSQL says the password is wrong (28P01): it may have just rotated. */
export async function connectToDatabase(
  deps: ConnectDeps,
  target: DatabaseTarget,
  applicationName: string,
): Promise<pg.Client> {
  const secret = await deps.secrets.get();
  try {
    return await connectOnce(secret, target, applicationName);
  } catch (err) {
    if (err instanceof LockstepError) throw err;
    if ((err as { code?: string }).code !== '28P01') throw unavailable(err, secret, target);
    deps.log.warn('database rejected the password; reading the secret again in case it was rotated');
    const fresh = await deps.secrets.get({ fresh: true });
    try {
      return await connectOnce(fresh, target, applicationName);
    } catch (again) {
      if (again instanceof LockstepError) throw again;
      throw unavailable(again, fresh, target);
    }
  }
}

async function connectOnce(
  secret: DatabaseSecret,
  target: DatabaseTarget,
  applicationName: string,
): Promise<pg.Client> {
  const host = target.host ?? secret.host;
  const database = target.database ?? secret.dbname;
  if (!host) throw new ConfigError('DB_HOST', 'not set, and the secret has no "host"');
  if (!database) throw new ConfigError('DB_NAME', 'not set, and the secret has no "dbname"');
  const client = new Client({
    host,
    port: target.port ?? secret.port ?? 5432,
    database,
    user: secret.username,
    password: secret.password,
    application_name: applicationName.slice(0, 63),
    connectionTimeoutMillis: (target.connectTimeoutSeconds ?? 10) * 1000,
    // Full verification, always: the certificate must chain to a trusted CA and name this host.
    ssl: { rejectUnauthorized: true, ...(target.ca ? { ca: target.ca } : {}) },
  });
  // A server-side termination must surface through the pending query, not crash the container.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw err;
  }
  return client;
}

/** A connection failure as an error that names where, never with what credentials. */
function unavailable(err: unknown, secret: DatabaseSecret, target: DatabaseTarget): DatabaseUnavailableError {
  const e = err as { code?: string; message?: string };
  const where = `${target.host ?? secret.host ?? '?'}:${target.port ?? secret.port ?? 5432}/${target.database ?? secret.dbname ?? '?'} as ${secret.username}`;
  const reason =
    e.code === '28P01'
      ? 'password authentication failed, also with the secret read again'
      : e.code === '3D000'
        ? 'the database does not exist'
        : (e.message ?? String(err)).split(secret.password).join('***');
  return new DatabaseUnavailableError(`cannot connect to ${where}: ${reason}${e.code ? ` [${e.code}]` : ''}`);
}
