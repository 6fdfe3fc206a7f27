import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { databaseUrl } from '../../cli/embedded-postgres.ts';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** A connected client; closed by `drop()` if the test forgot. */
  connect(options?: { applicationName?: string }): Promise<pg.Client>;
  drop(): Promise<void>;
}

function serverUrl(): string {
  const url = process.env.LOCKSTEP_TEST_DATABASE_URL;
  if (!url)
    throw new Error(
      'LOCKSTEP_TEST_DATABASE_URL is not set: run tests with `npm test` (test/run.ts starts PostgreSQL)',
    );
  return url;
}

/** A new, empty database on the test server. */
export async function freshDatabase(): Promise<TestDatabase> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = databaseUrl(serverUrl(), name);
  const clients = new Set<pg.Client>();
  return {
    name,
    url,
    async connect(options = {}) {
      const client = new pg.Client({
        connectionString: url,
        application_name: options.applicationName ?? 'lockstep-test',
      });
      client.on('error', () => {}); // a server-side termination must not crash the test process
      await client.connect();
      clients.add(client);
      return client;
    },
    async drop() {
      await Promise.all([...clients].map((c) => c.end().catch(() => {})));
      const a = new pg.Client({ connectionString: serverUrl() });
      await a.connect();
      try {
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await a.end();
      }
    },
  };
}

/** Writes migration files into a new temporary directory. */
export async function migrationsDir(
  files: Record<string, string>,
): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'lockstep-migrations-'));
  await Promise.all(Object.entries(files).map(([name, sql]) => writeFile(join(dir, name), sql)));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
