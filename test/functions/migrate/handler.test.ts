import assert from 'node:assert/strict';
import { appendFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type pg from 'pg';
import { generate } from 'selfsigned';
import { migrationChecksum } from '../../../engine/checksum.ts';
import { type BundledMigrations, bundledMigrationsDir } from '../../support/bundled-migrations.ts';
import { freshDatabase, type TestDatabase } from '../../support/database.ts';

// A password distinctive enough that finding it anywhere but in the database proves a leak.
const CANARY = 'Canary-Pw-7f3e9b1c!';
const ROTATED = 'Canary-Rotated-0d44a2';
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:lockstep-db-AbCdEf';
const secrets = mockClient(SecretsManagerClient);
const secretFor = (password: string) => ({
  SecretString: JSON.stringify({ username: role, password, engine: 'postgres' }),
});

let db: TestDatabase;
let admin: pg.Client;
let role: string;
let dir: BundledMigrations;
const MIGRATIONS = {
  '0001_create_accounts.sql': 'CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);',
  '0002_add_name.sql': 'ALTER TABLE accounts ADD COLUMN name text;',
};
let handler: (event: unknown, context: { getRemainingTimeInMillis(): number }) => Promise<unknown>;
const logged: string[] = [];
/** Every result and error the handler produced, serialized every way a caller might see it. */
const seen: string[] = [];
const realWrite = process.stdout.write.bind(process.stdout);

const event = (mode: 'plan' | 'apply', overrides: Record<string, unknown> = {}) => ({
  mode,
  ...(mode === 'apply' ? { phase: 'before-deploy' } : {}),
  executionId: 'arn:aws:states:eu-west-1:123456789012:execution:lockstep:rel-1',
  release: {
    release: 'v1.0.0',
    image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v1.0.0',
    migrations: 'bundled',
    options: { skipSnapshot: false, dryRun: false },
    ...overrides,
  },
});
const lambdaContext = { getRemainingTimeInMillis: () => 600_000 };

async function lockstepSessions(): Promise<number> {
  const { rows } = await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1', [
    role,
  ]);
  return rows[0].n;
}

describe('migrate handler', () => {
  before(async () => {
    db = await freshDatabase();
    admin = await db.connect();
    role = `app_${db.name}`;
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${CANARY}'`);
    await admin.query(
      `GRANT CREATE ON DATABASE ${db.name} TO ${role}; GRANT CREATE ON SCHEMA public TO ${role}`,
    );
    dir = await bundledMigrationsDir(MIGRATIONS);
    const url = new URL(db.url);
    Object.assign(process.env, {
      DB_SECRET_ARN: SECRET_ARN,
      DB_HOST: 'localhost',
      DB_PORT: url.port,
      DB_NAME: db.name,
      DB_CA_FILE: process.env.LOCKSTEP_TEST_CA_FILE,
      MIGRATIONS_DIR: dir.dir,
      POWERTOOLS_LOG_LEVEL: 'DEBUG',
    });
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      logged.push(String(chunk));
      return realWrite(chunk, ...rest);
    }) as typeof process.stdout.write;
    const real = (await import('../../../functions/migrate/handler.ts')).handler;
    handler = async (e, c) => {
      try {
        const result = await real(e, c);
        seen.push(JSON.stringify(result));
        return result;
      } catch (err) {
        const e2 = err as Error & { toJSON?: () => unknown };
        seen.push(
          String(err),
          e2.stack ?? '',
          JSON.stringify(e2.toJSON?.() ?? {}),
          String((e2 as { cause?: unknown }).cause ?? ''),
        );
        throw err;
      }
    };
  });

  after(async () => {
    process.stdout.write = realWrite;
    await dir.cleanup();
    await admin.query(`DROP OWNED BY ${role}`).catch(() => {});
    await db.drop();
    const a = await freshDatabase();
    await (await a.connect()).query(`DROP ROLE IF EXISTS ${role}`);
    await a.drop();
  });

  beforeEach(() => {
    secrets.reset();
    secrets.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves(secretFor(CANARY));
  });

  test('plan over verified TLS reports pending migrations and that a snapshot is needed, changing nothing', async () => {
    const result = await handler(event('plan'), lambdaContext);
    assert.deepEqual(result, {
      mode: 'plan',
      pendingCount: 2,
      pending: { count: 2, first: ['0001_create_accounts.sql', '0002_add_name.sql'], last: [] },
      databaseAhead: { count: 0, first: [], last: [] },
      needsSnapshot: true,
      afterDeployCount: 0,
      record: {
        phase: 'before-deploy',
        count: 2,
        afterDeployCount: 0,
        truncated: false,
        migrations: [
          {
            version: '1',
            file: '0001_create_accounts.sql',
            checksum: migrationChecksum(MIGRATIONS['0001_create_accounts.sql']),
            phase: 'before-deploy',
          },
          {
            version: '2',
            file: '0002_add_name.sql',
            checksum: migrationChecksum(MIGRATIONS['0002_add_name.sql']),
            phase: 'before-deploy',
          },
        ],
      },
      lint: { findings: 0, failing: 0, rules: { count: 0, first: [], last: [] } },
    });
    const { rows } = await admin.query("SELECT to_regclass('accounts') AS t");
    assert.equal(rows[0].t, null);
    const ssl = await admin.query(
      'SELECT count(*)::int AS n FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.usename = $1 AND s.ssl',
      [role],
    );
    assert.equal(ssl.rows[0].n, 0, 'the function closed its connection');
  });

  test('apply runs the migrations, records the release label, then a warm re-run is a no-op; no connection is left open', async () => {
    const first = (await handler(event('apply'), lambdaContext)) as {
      appliedCount: number;
      incomplete: boolean;
    };
    assert.equal(first.appliedCount, 2);
    assert.equal(first.incomplete, false);
    for (let i = 0; i < 4; i++) {
      const again = (await handler(event('apply'), lambdaContext)) as { appliedCount: number };
      assert.equal(again.appliedCount, 0);
    }
    const { rows } = await admin.query('SELECT DISTINCT applied_by FROM lockstep.schema_history');
    assert.deepEqual(rows, [{ applied_by: 'v1.0.0' }]);
    assert.equal(await lockstepSessions(), 0);
    assert.equal(
      secrets.commandCalls(GetSecretValueCommand).length,
      0,
      'the secret is cached while the container is warm',
    );
  });

  test('a rotated password: the cached secret fails, the secret is read again once, and the run succeeds', async () => {
    await admin.query(`ALTER ROLE ${role} PASSWORD '${ROTATED}'`);
    secrets.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves(secretFor(ROTATED));
    const result = (await handler(event('plan'), lambdaContext)) as { pendingCount: number };
    assert.equal(result.pendingCount, 0);
    assert.equal(secrets.commandCalls(GetSecretValueCommand).length, 1);
  });

  test('a wrong password even after re-reading is DatabaseUnavailableError, without the password', async () => {
    // The database's password changed again, and the secret does not have it yet.
    await admin.query(`ALTER ROLE ${role} PASSWORD 'Third-0e99f1'`);
    await assert.rejects(handler(event('plan'), lambdaContext), (err: unknown) => {
      assert.equal((err as Error).name, 'DatabaseUnavailableError');
      assert.match((err as Error).message, /password authentication failed, also with the secret read again/);
      assert.ok(!(err as Error).message.includes(CANARY));
      assert.ok(!(err as Error).message.includes(ROTATED));
      return true;
    });
    assert.equal(secrets.commandCalls(GetSecretValueCommand).length, 1, 'read again once, not in a loop');
    await admin.query(`ALTER ROLE ${role} PASSWORD '${CANARY}'`);
  });

  test('a failing migration is a MigrationFailedError naming file and line, and nothing of it is applied', async () => {
    await dir.rebundle({
      ...MIGRATIONS,
      '0003_broken.sql': 'ALTER TABLE accounts ADD COLUMN note text;\nSELECT missing FROM accounts;\n',
    });
    try {
      await assert.rejects(handler(event('apply'), lambdaContext), (err: unknown) => {
        assert.equal((err as Error).name, 'MigrationFailedError');
        assert.match((err as Error).message, /0003_broken\.sql:2:8/);
        return true;
      });
      const { rows } = await admin.query(
        "SELECT count(*)::int AS n FROM information_schema.columns WHERE column_name = 'note'",
      );
      assert.equal(rows[0].n, 0);
      assert.equal(await lockstepSessions(), 0, 'the connection is closed on the failure path too');
    } finally {
      await dir.rebundle(MIGRATIONS);
    }
  });

  test('bundled files that are not the ones checked at synth, or no manifest, are ManifestMismatchError before connecting', async () => {
    const { runMigrate } = await import('../../../functions/migrate/migrate.ts');
    const own = await bundledMigrationsDir({ '0001_a.sql': 'CREATE TABLE tampered (id int);\n' });
    const deps = {
      secrets: { get: () => assert.fail('no connection is attempted') } as never,
      s3: {} as never,
      log: { debug() {}, info() {}, warn() {}, error() {} },
      now: Date.now,
      config: { target: {} as never, bundledDir: own.dir, s3: undefined, engine: {} },
    };
    try {
      await appendFile(join(own.dir, '0001_a.sql'), 'DROP TABLE accounts;\n');
      await assert.rejects(
        runMigrate(deps, event('plan') as never, { remainingMs: 60_000 }),
        (err: unknown) => {
          assert.equal((err as Error).name, 'ManifestMismatchError');
          assert.match((err as Error).message, /0001_a\.sql: sha256 differs from the manifest/);
          return true;
        },
      );
      await rm(join(own.dir, 'manifest.json'));
      await assert.rejects(
        runMigrate(deps, event('plan') as never, { remainingMs: 60_000 }),
        (err: unknown) => {
          assert.equal((err as Error).name, 'ManifestMismatchError');
          assert.match(
            (err as Error).message,
            /no manifest\.json: bundled migrations are checked and split at synth/,
          );
          return true;
        },
      );
    } finally {
      await own.cleanup();
    }
  });

  test('a server certificate from an untrusted CA is refused: verification is never turned off', async () => {
    const { runMigrate } = await import('../../../functions/migrate/migrate.ts');
    const { SecretSource } = await import('../../../functions/shared/database.ts');
    const other = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048 });
    const url = new URL(db.url);
    const deps = {
      secrets: new SecretSource(new SecretsManagerClient({}), SECRET_ARN),
      s3: {} as never,
      log: { debug() {}, info() {}, warn() {}, error() {} },
      now: Date.now,
      config: {
        target: {
          secretId: SECRET_ARN,
          host: 'localhost',
          port: Number(url.port),
          database: db.name,
          ca: other.cert,
        },
        bundledDir: dir.dir,
        s3: undefined,
        engine: {},
      },
    };
    await assert.rejects(
      runMigrate(deps, event('plan') as never, { remainingMs: 60_000 }),
      (err: unknown) => {
        assert.equal((err as Error).name, 'DatabaseUnavailableError');
        assert.match((err as Error).message, /certificate/i);
        return true;
      },
    );
  });

  test('apply with too little Lambda time left stops between migrations and reports incomplete; the next call finishes', async () => {
    const { runMigrate } = await import('../../../functions/migrate/migrate.ts');
    const { SecretSource } = await import('../../../functions/shared/database.ts');
    const own = await bundledMigrationsDir({
      '0001_a.sql': 'CREATE TABLE deadline_a (id int);',
      '0002_b.sql': 'CREATE TABLE deadline_b (id int);',
      '0003_c.sql': 'CREATE TABLE deadline_c (id int);',
    });
    // The clock jumps a second whenever a migration is applied, as if each took that long.
    let offset = 0;
    const url = new URL(db.url);
    const deps = {
      secrets: new SecretSource(new SecretsManagerClient({}), SECRET_ARN),
      s3: {} as never,
      log: {
        debug() {},
        warn() {},
        error() {},
        info: (message: string) => {
          if (message === 'applied') offset += 1000;
        },
      },
      now: () => Date.now() + offset,
      config: {
        target: {
          secretId: SECRET_ARN,
          host: 'localhost',
          port: Number(url.port),
          database: db.name,
          ca:
            process.env.LOCKSTEP_TEST_CA_FILE &&
            (await import('node:fs')).readFileSync(process.env.LOCKSTEP_TEST_CA_FILE, 'utf8'),
        },
        bundledDir: own.dir,
        s3: undefined,
        engine: { historyTable: 'lockstep.deadline_history' },
      },
    };
    try {
      // 5 s kept back to return, a 10 s engine margin: 1.5 s of work fits before the margin, so two migrations start.
      const first = (await runMigrate(deps, event('apply') as never, { remainingMs: 16_500 })) as {
        appliedCount: number;
        pendingCount: number;
        incomplete: boolean;
      };
      assert.deepEqual([first.appliedCount, first.pendingCount, first.incomplete], [2, 1, true]);
      const second = (await runMigrate(deps, event('apply') as never, { remainingMs: 600_000 })) as {
        appliedCount: number;
        incomplete: boolean;
      };
      assert.deepEqual([second.appliedCount, second.incomplete], [1, false]);
    } finally {
      await own.cleanup();
    }
  });

  test('plan stops the release on a lint finding from the manifest, sized by the live table; LINT_FAIL_ON=never reports it', async () => {
    const { migrateHandler } = await import('../../../functions/migrate/setup.ts');
    const own = await bundledMigrationsDir({
      '0001_a.sql':
        "CREATE TABLE lint_orders (id int, note text); INSERT INTO lint_orders SELECT g, 'x' FROM generate_series(1, 100) g;",
    });
    const env = { ...process.env, MIGRATIONS_DIR: own.dir, HISTORY_TABLE: 'lockstep.lint_history' };
    const secretsClient = new SecretsManagerClient({});
    try {
      const apply = migrateHandler(env, { secrets: secretsClient, s3: {} as never }, own.dir);
      await apply(event('apply'), lambdaContext);
      await own.rebundle({
        '0001_a.sql':
          "CREATE TABLE lint_orders (id int, note text); INSERT INTO lint_orders SELECT g, 'x' FROM generate_series(1, 100) g;",
        '0002_b.sql':
          'CREATE TABLE lint_new (id int);\nCREATE INDEX lint_new_id ON lint_new (id);\nALTER TABLE lint_orders ALTER COLUMN note SET NOT NULL;',
      });
      const strict = migrateHandler(
        { ...env, LINT_FAIL_ON: 'info' },
        { secrets: secretsClient, s3: {} as never },
        own.dir,
      );
      await assert.rejects(strict(event('plan'), lambdaContext), (err: unknown) => {
        assert.equal((err as Error).name, 'UnsafeMigrationError');
        assert.match(
          (err as Error).message,
          /0002_b\.sql:3:1 info set-not-null: ALTER TABLE lint_orders ALTER COLUMN note SET NOT NULL\n.*\(lint_orders: \d+ kB now\)\n {4}safe: ADD CONSTRAINT/,
        );
        assert.doesNotMatch(
          (err as Error).message,
          /lint_new/,
          'a table the release creates is not existing',
        );
        return true;
      });
      const lenient = migrateHandler(
        { ...env, LINT_FAIL_ON: 'never' },
        { secrets: secretsClient, s3: {} as never },
        own.dir,
      );
      const plan = (await lenient(event('plan'), lambdaContext)) as { lint: unknown };
      assert.deepEqual(plan.lint, {
        findings: 1,
        failing: 0,
        rules: { count: 1, first: ['0002_b.sql:3:1 info set-not-null'], last: [] },
      });
    } finally {
      await own.cleanup();
    }
  });

  test('the password appears in no log line, error, cause or result of any of the runs above', () => {
    const everything = logged.join('');
    assert.ok(
      everything.includes('"executionId":"arn:aws:states:eu-west-1:123456789012:execution:lockstep:rel-1"'),
      'logs carry the execution id',
    );
    assert.ok(everything.includes('"release":"v1.0.0"'), 'logs carry the release label');
    assert.ok(seen.length >= 8, `saw ${seen.length} results and errors`);
    assert.ok(
      seen.some((s) => s.includes('MigrationFailedError')) &&
        seen.some((s) => s.includes('DatabaseUnavailableError')),
      'failure paths were seen',
    );
    for (const text of [everything, ...seen]) {
      assert.ok(!text.includes(CANARY));
      assert.ok(!text.includes(ROTATED));
    }
  });
});
