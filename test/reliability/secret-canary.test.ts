/**
 * A distinctive password for a dedicated role, used on every path this suite knows: the CLI succeeding,
 * failing a migration, timing out on the migration lock and on a table lock, refused by a closed port, by a
 * wrong password and a missing database, given a malformed URL or an ambiguous one (an unencoded "@" and "/" in
 * the password); the migrate function core applying, planning,
 * failing a migration, timing out on the lock, and failing to connect. Everything they print or return —
 * stdout, stderr, --json documents, Powertools log lines, errors as Lambda serializes them and as
 * util.inspect shows them with their causes — is collected, and the password appears in none of it, in any
 * encoding.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import pg from 'pg';
import { HistoryTable } from '../../engine/history.ts';
import { createMigrateHandler, type MigrateDeps } from '../../functions/migrate/migrate.ts';
import { SecretSource } from '../../functions/shared/database.ts';
import { createLogger } from '../../functions/shared/logger.ts';
import { bundledMigrationsDir } from '../support/bundled-migrations.ts';
import { type CliRun, runCli } from '../support/cli-process.ts';
import { freshDatabase, migrationsDir, type TestDatabase } from '../support/database.ts';
import { report } from './support.ts';

/** The core is plain letters and digits, so it survives any escaping: finding it anywhere is a leak. */
const CANARY_CORE = 'CanaryQ7x9Zt4Lw';
/** Characters a URL must percent-encode, so the encoded form is checked too. */
const CANARY = `${CANARY_CORE}#p/w@%2F:s?k&e=y`;
const FORMS = [CANARY, encodeURIComponent(CANARY), CANARY_CORE, JSON.stringify(CANARY).slice(1, -1)];
const OTHER_PASSWORD = 'not-the-canary-5e1d';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:canary-db-AbCdEf';

/** Everything any path produced, labelled by path. */
const collected: Array<{ path: string; text: string }> = [];
const collect = (path: string, ...texts: string[]) => {
  for (const text of texts) collected.push({ path, text });
};

let db: TestDatabase;
let admin: pg.Client;
let role: string;
let otherRole: string;
let port: string;
const migrations: Array<{ dir: string; cleanup(): Promise<void> }> = [];

const urlFor = (user: string, password: string, database = db.name, atPort = port) =>
  `postgres://${user}:${encodeURIComponent(password)}@127.0.0.1:${atPort}/${database}`;

async function dirWith(files: Record<string, string>): Promise<string> {
  const d = await migrationsDir(files);
  migrations.push(d);
  return d.dir;
}

/** The same, as the synth bundles them into the migrate function (checked, split, with their manifest). */
async function bundledDirWith(files: Record<string, string>): Promise<string> {
  const d = await bundledMigrationsDir(files);
  migrations.push(d);
  return d.dir;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: p } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return p;
}

const BASE = {
  '0001_create_accounts.sql': 'CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL);',
  '0002_add_account_name.sql': 'ALTER TABLE accounts ADD COLUMN name text;',
};

before(async () => {
  db = await freshDatabase();
  admin = await db.connect({ applicationName: 'canary-admin' });
  role = `canary_${db.name}`;
  otherRole = `other_${db.name}`;
  port = new URL(db.url).port;
  await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD ${pg.escapeLiteral(CANARY)}`);
  await admin.query(`CREATE ROLE ${otherRole} LOGIN PASSWORD ${pg.escapeLiteral(OTHER_PASSWORD)}`);
  await admin.query(
    `GRANT CREATE ON DATABASE ${db.name} TO ${role}; GRANT CREATE ON SCHEMA public TO ${role}`,
  );
});

after(async () => {
  await Promise.all(migrations.map((m) => m.cleanup()));
  await db.drop();
  const server = new pg.Client({ connectionString: process.env.LOCKSTEP_TEST_DATABASE_URL });
  await server.connect();
  try {
    await server.query(`DROP ROLE IF EXISTS ${role}; DROP ROLE IF EXISTS ${otherRole}`);
  } finally {
    await server.end();
  }
});

describe('the secret canary', () => {
  test('the CLI never prints the password: success, failed migration, lock timeouts, refused connections', {
    timeout: 120_000,
  }, async () => {
    const cli = async (path: string, expectedCode: number, args: string[], url: string | undefined) => {
      const run: CliRun = await runCli(args, {
        ...(url === undefined ? {} : { databaseUrl: url }),
        installed: true,
      });
      collect(`cli ${path}`, run.stdout, run.stderr);
      assert.equal(run.code, expectedCode, `${path}: ${run.stdout}${run.stderr}`);
      return run;
    };
    const url = urlFor(role, CANARY);
    const dir = await dirWith(BASE);

    // Success, the URL in DATABASE_URL and in --database-url, text and JSON.
    await cli('migrate --json', 0, ['migrate', '--dir', dir, '--json'], url);
    await cli('migrate again', 0, ['migrate', '--dir', dir, '--database-url', url], undefined);
    await cli('status', 0, ['status', '--dir', dir, '--json', '--database-url', url], undefined);
    await cli('plan', 0, ['plan', '--dir', dir], url);

    // A failing migration.
    const broken = await dirWith({ ...BASE, '0003_broken.sql': 'SELECT no_such_column FROM accounts;' });
    const failed = await cli('failed migration --json', 3, ['migrate', '--dir', broken, '--json'], url);
    assert.match(failed.stdout, /MigrationFailedError/);
    await cli('failed migration', 3, ['migrate', '--dir', broken, '--database-url', url], undefined);

    // Another run holds the migration lock.
    const next = await dirWith({
      ...BASE,
      '0003_add_account_note.sql': 'ALTER TABLE accounts ADD COLUMN note text;',
    });
    const [k1, k2] = new HistoryTable().lockKey;
    await admin.query('SELECT pg_advisory_lock($1::int, $2::int)', [k1, k2]);
    const timedOut = await cli(
      'lock timeout --json',
      4,
      ['migrate', '--dir', next, '--json', '--lock-wait', '0'],
      url,
    );
    assert.match(timedOut.stdout, /LockTimeoutError/);
    await cli('lock timeout', 4, ['migrate', '--dir', next, '--lock-wait', '1'], url);
    await admin.query('SELECT pg_advisory_unlock($1::int, $2::int)', [k1, k2]);

    // A long transaction holds the table the migration alters.
    await admin.query('BEGIN; LOCK TABLE accounts IN ACCESS SHARE MODE');
    const busy = await cli(
      'table lock --json',
      4,
      ['migrate', '--dir', next, '--json', '--lock-timeout', '100', '--lock-retries', '0'],
      url,
    );
    assert.match(busy.stdout, /LockNotAvailableError/);
    await admin.query('ROLLBACK');

    // Connections that fail, the password in the URL every time.
    const refused = await cli(
      'connection refused --json',
      7,
      ['migrate', '--dir', dir, '--json'],
      urlFor(role, CANARY, db.name, String(await closedPort())),
    );
    assert.match(refused.stdout, /DatabaseUnavailableError/);
    await cli(
      'connection refused',
      7,
      ['migrate', '--dir', dir, '--database-url', urlFor(role, CANARY, db.name, String(await closedPort()))],
      undefined,
    );
    const wrong = await cli(
      'wrong password',
      7,
      ['migrate', '--dir', dir, '--json'],
      urlFor(otherRole, CANARY),
    );
    assert.match(wrong.stdout, /password authentication failed/);
    await cli('missing database', 7, ['status', '--dir', dir], urlFor(role, CANARY, 'no_such_database'));
    // Malformed URLs: whatever the exit code, the password is not echoed.
    for (const bad of [
      `postgres://${role}:${encodeURIComponent(CANARY)}@127.0.0.1:notaport/${db.name}`,
      `postgres://${role}:${CANARY}@127.0.0.1:${port}/${db.name}`,
      `postgres://${role}:${encodeURIComponent(CANARY)}@[::1/${db.name}`,
    ]) {
      const run = await runCli(['migrate', '--dir', dir, '--json'], { databaseUrl: bad, installed: true });
      collect('cli malformed URL', run.stdout, run.stderr);
      assert.notEqual(run.code, 0);
    }
    // An unencoded "@" and "/" in the password: a URL parser takes what follows the first "@" for the host (and
    // would print it), so lockstep refuses the URL as ambiguous without echoing any of it.
    for (const ambiguous of [
      `postgres://${role}:pw@${CANARY_CORE}/x@127.0.0.1:${port}/${db.name}`,
      `postgres://${role}:${CANARY_CORE}@${CANARY_CORE}-9f8e7d/x@127.0.0.1:${port}/${db.name}`,
      `postgres://${role}:${CANARY}@127.0.0.1:${port}/${db.name}`,
    ]) {
      const json = await runCli(['migrate', '--dir', dir, '--json'], {
        databaseUrl: ambiguous,
        installed: true,
      });
      const text = await runCli(['status', '--dir', dir, '--database-url', ambiguous], { installed: true });
      collect('cli ambiguous URL', json.stdout, json.stderr, text.stdout, text.stderr);
      assert.equal(json.code, 2, json.stdout);
      assert.equal(JSON.parse(json.stdout).error.field, 'DATABASE_URL');
      assert.equal(text.code, 2, text.stderr);
      assert.match(text.stderr, /InvalidInputError: --database-url: is ambiguous/);
    }
  });

  test('the migrate function never logs, returns or throws the password: success and failure', {
    timeout: 60_000,
  }, async () => {
    const secrets = mockClient(SecretsManagerClient);
    secrets
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ username: role, password: CANARY, engine: 'postgres' }) });
    const realStdout = process.stdout.write.bind(process.stdout);
    const realStderr = process.stderr.write.bind(process.stderr);
    const logged: string[] = [];
    const capture =
      (real: typeof process.stdout.write) =>
      (chunk: string | Uint8Array, ...rest: never[]): boolean => {
        logged.push(String(chunk));
        return real(chunk, ...rest);
      };
    const previousLevel = process.env.POWERTOOLS_LOG_LEVEL;
    process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
    process.stdout.write = capture(realStdout) as typeof process.stdout.write;
    process.stderr.write = capture(realStderr) as typeof process.stderr.write;
    try {
      const ca = readFileSync(process.env.LOCKSTEP_TEST_CA_FILE as string, 'utf8');
      const dir = await bundledDirWith({
        '0001_create_ledger.sql': 'CREATE TABLE fn_ledger (id int PRIMARY KEY);',
        '0002_add_note.sql': 'ALTER TABLE fn_ledger ADD COLUMN note text;',
      });
      const handlerFor = (target: { port: number; database?: string }, bundledDir: string) => {
        const logger = createLogger('lockstep-migrate');
        const deps: MigrateDeps = {
          secrets: new SecretSource(new SecretsManagerClient({ region: 'eu-west-1' }), SECRET_ARN),
          s3: {} as never,
          log: logger,
          now: Date.now,
          config: {
            target: {
              secretId: SECRET_ARN,
              host: 'localhost',
              port: target.port,
              database: target.database ?? db.name,
              ca,
            },
            bundledDir,
            s3: undefined,
            engine: {
              historyTable: 'lockstep.function_history',
              lockWaitMs: 0,
              lockTimeoutMs: 100,
              lockRetries: 0,
            },
          },
        };
        return createMigrateHandler(deps, logger);
      };
      const event = (mode: 'plan' | 'apply') => ({
        mode,
        ...(mode === 'apply' ? { phase: 'before-deploy' } : {}),
        executionId: 'arn:aws:states:eu-west-1:123456789012:execution:lockstep:canary-1',
        release: {
          release: 'canary-1',
          image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:canary-1',
          migrations: 'bundled',
          options: { skipSnapshot: false, dryRun: false },
        },
      });
      const context = { getRemainingTimeInMillis: () => 600_000 };
      /** Runs the handler; records the result, or the error every way Lambda or a developer would see it. */
      const invoke = async (
        path: string,
        handler: ReturnType<typeof handlerFor>,
        e: unknown,
        expectedError?: string,
      ) => {
        try {
          const result = await handler(e, context);
          collect(`function ${path}`, JSON.stringify(result));
          assert.equal(expectedError, undefined, `${path} succeeded`);
        } catch (err) {
          const error = err as Error & { toJSON?: () => unknown };
          collect(
            `function ${path}`,
            String(err),
            error.stack ?? '',
            JSON.stringify({ errorType: error.name, errorMessage: error.message }),
            JSON.stringify(error.toJSON?.() ?? {}),
            inspect(err, { depth: 10, showHidden: true }),
          );
          assert.equal(error.name, expectedError, `${path}: ${error.message}`);
        }
      };
      const here = handlerFor({ port: Number(port) }, dir);

      await invoke('plan', here, event('plan'));
      await invoke('apply', here, event('apply'));
      await invoke('apply again', here, event('apply'));

      const broken = await bundledDirWith({
        '0001_create_ledger.sql': 'CREATE TABLE fn_ledger (id int PRIMARY KEY);',
        '0002_add_note.sql': 'ALTER TABLE fn_ledger ADD COLUMN note text;',
        '0003_broken.sql': 'SELECT no_such_column FROM fn_ledger;',
      });
      await invoke(
        'failed migration',
        handlerFor({ port: Number(port) }, broken),
        event('apply'),
        'MigrationFailedError',
      );

      const [k1, k2] = new HistoryTable('lockstep.function_history').lockKey;
      await admin.query('SELECT pg_advisory_lock($1::int, $2::int)', [k1, k2]);
      await invoke(
        'lock timeout',
        handlerFor({ port: Number(port) }, broken),
        event('apply'),
        'LockTimeoutError',
      );
      await admin.query('SELECT pg_advisory_unlock($1::int, $2::int)', [k1, k2]);

      await invoke(
        'connection refused',
        handlerFor({ port: await closedPort() }, dir),
        event('apply'),
        'DatabaseUnavailableError',
      );
      await invoke(
        'missing database',
        handlerFor({ port: Number(port), database: 'no_such_database' }, dir),
        event('plan'),
        'DatabaseUnavailableError',
      );
      await admin.query(`ALTER ROLE ${role} PASSWORD ${pg.escapeLiteral(OTHER_PASSWORD)}`);
      await invoke(
        'wrong password',
        handlerFor({ port: Number(port) }, dir),
        event('plan'),
        'DatabaseUnavailableError',
      );
      await admin.query(`ALTER ROLE ${role} PASSWORD ${pg.escapeLiteral(CANARY)}`);
      await invoke('invalid event', here, { ...event('apply'), mode: 'destroy' }, 'InvalidInputError');
    } finally {
      process.stdout.write = realStdout;
      process.stderr.write = realStderr;
      if (previousLevel === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
      else process.env.POWERTOOLS_LOG_LEVEL = previousLevel;
      secrets.restore();
    }
    const logs = logged.join('');
    collect('function logs', logs);
    assert.match(logs, /"level":"DEBUG"|"level":"INFO"/, 'Powertools log lines were captured');
    assert.match(logs, /"executionId":"arn:aws:states:eu-west-1:123456789012:execution:lockstep:canary-1"/);
  });

  test('the password occurs in nothing any path printed, returned or threw', () => {
    const everything = collected.map((c) => c.text).join('\n');
    const leaks = collected.flatMap(({ path, text }) =>
      FORMS.filter((form) => text.includes(form)).map((form) => `${path}: contains ${JSON.stringify(form)}`),
    );
    const paths = new Set(collected.map((c) => c.path));
    report('secret-canary', {
      paths: paths.size,
      outputs: collected.length,
      bytes: Buffer.byteLength(everything),
      occurrences: leaks.length,
      failures: leaks.length,
    });
    for (const expected of [
      'MigrationFailedError',
      'LockTimeoutError',
      'LockNotAvailableError',
      'DatabaseUnavailableError',
      role,
    ]) {
      assert.ok(everything.includes(expected), `the collected output includes ${expected}: the path ran`);
    }
    assert.deepEqual(leaks, []);
  });
});
