/**
 * Where the CLI's database comes from: a URL it may fail to reach (exit 7, no secret printed), or the embedded
 * PostgreSQL it starts itself when given none.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import {
  databaseUrl,
  EMBEDDED_DATABASE,
  freePort,
  startEmbeddedPostgres,
} from '../../cli/embedded-postgres.ts';
import { repoRoot, runCli } from '../support/cli-process.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const PASSWORD = 'canary-Pw-93e1';

describe('connecting to PostgreSQL', () => {
  let db: TestDatabase | undefined;
  after(async () => db?.drop());

  it('exits 7 without printing the password when nothing listens on the port', async () => {
    const url = `postgres://lockstep:${PASSWORD}@127.0.0.1:${await freePort()}/app`;

    const text = await runCli(['migrate', '--dir', 'migrations'], { databaseUrl: url });
    const json = await runCli(['status', '--dir', 'migrations', '--json'], { databaseUrl: url });

    assert.equal(text.code, 7, text.stderr);
    assert.match(
      text.stderr,
      /DatabaseUnavailableError: cannot connect to PostgreSQL at 127\.0\.0\.1:\d+, database "app" as user "lockstep": connection refused/,
    );
    assert.equal(json.code, 7, json.stderr);
    assert.equal(JSON.parse(json.stdout).error.code, 'DATABASE_UNAVAILABLE');
    for (const output of [text.stdout, text.stderr, json.stdout, json.stderr]) {
      assert.ok(!output.includes(PASSWORD), `password printed: ${output}`);
      assert.ok(!output.includes(url), `URL printed: ${output}`);
    }
  });

  it('exits 7 without printing the password when the server refuses it or lacks the database', async () => {
    db = await freshDatabase();
    const wrongPassword = new URL(db.url);
    wrongPassword.password = PASSWORD;
    const noDatabase = new URL(db.url);
    noDatabase.pathname = '/no_such_database';

    const refused = await runCli(['status', '--dir', 'migrations'], {
      databaseUrl: wrongPassword.toString(),
    });
    const missing = await runCli(['status', '--dir', 'migrations'], { databaseUrl: noDatabase.toString() });

    assert.equal(refused.code, 7, refused.stderr);
    assert.match(
      refused.stderr,
      /cannot connect to PostgreSQL at .*: password authentication failed for user "postgres" \(28P01\)/,
    );
    assert.ok(!`${refused.stdout}${refused.stderr}`.includes(PASSWORD));
    assert.equal(missing.code, 7, missing.stderr);
    assert.match(missing.stderr, /database "no_such_database" does not exist \(3D000\)/);
    assert.ok(!`${missing.stdout}${missing.stderr}`.includes(new URL(db.url).password));
  });
});

describe('the embedded PostgreSQL', () => {
  let cwd: string | undefined;
  after(async () => {
    if (!cwd) return;
    // The CLI stops the server it started; if a failed run left one behind, stop it by its recorded pid.
    const pidFile = join(cwd, '.lockstep', 'pg', 'postmaster.pid');
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
      try {
        process.kill(pid, 'SIGINT');
        await new Promise((resolve) => setTimeout(resolve, 1000));
      } catch {
        // already gone
      }
    }
    await rm(cwd, { recursive: true, force: true });
  });

  it('is started in .lockstep/pg without a database URL, stopped at exit, and its data reused', async () => {
    cwd = await mkdtemp(join(tmpdir(), 'lockstep-cli-embedded-'));
    await chmod(cwd, 0o755); // as root, PostgreSQL runs as another user that must reach the data directory
    await cp(join(repoRoot, 'migrations'), join(cwd, 'migrations'), { recursive: true });

    const first = await runCli(['migrate'], { cwd });
    const stoppedAfterFirst = !existsSync(join(cwd, '.lockstep', 'pg', 'postmaster.pid'));
    const second = await runCli(['migrate'], { cwd });

    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stderr,
      /using the embedded PostgreSQL .*data \S+\/\.lockstep\/pg, port \d+, database app; started now/,
    );
    assert.match(first.stdout, /^applied \d+ migrations/);
    assert.doesNotMatch(`${first.stdout}${first.stderr}`, /postgres:\/\/|lockstep-local/);
    assert.ok(stoppedAfterFirst, 'the server was stopped when the CLI exited');
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /nothing to do/);
  });

  it('migrate, status and the rehearsal mean the same database: "app", not the maintenance database', async () => {
    assert.ok(cwd, 'runs after the test above');
    const server = await startEmbeddedPostgres({ dataDir: join(cwd, '.lockstep', 'pg') });
    const status = await runCli(['status', '--json'], { cwd });
    const tables = async (database: string) => {
      const client = new pg.Client({ connectionString: databaseUrl(server.url, database) });
      await client.connect();
      try {
        const { rows } = await client.query(
          "SELECT to_regclass('lockstep.schema_history') IS NOT NULL AS history",
        );
        return rows[0].history;
      } finally {
        await client.end();
      }
    };
    try {
      assert.equal(status.code, 0, status.stderr);
      assert.equal(
        JSON.parse(status.stdout).applied.length,
        readdirSync(join(repoRoot, 'migrations')).filter((f) => f.endsWith('.sql')).length,
      );
      assert.match(status.stderr, /database app; already running/);
      assert.equal(EMBEDDED_DATABASE, 'app');
      assert.deepEqual([await tables('app'), await tables('postgres')], [true, false]);
    } finally {
      await server.stop();
    }
  });
});
