/**
 * `lockstep rollback --local` from the installed command (bin/lockstep.cjs; `npm run build:cli` first), against the
 * rehearsal's embedded database and local service: an additive release rolled back by image only (schema kept), a
 * destructive one refused without --restore-database and restored with it (data back to the snapshot, what was
 * written since lost, image back), a dry run that changes nothing; each rollback leaves its record.
 */
import assert from 'node:assert/strict';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { databaseUrl, startEmbeddedPostgres } from '../../cli/embedded-postgres.ts';
import { localCertificate } from '../../rehearsal/tls.ts';
import { repoRoot, runCli } from '../support/cli-process.ts';

describe('lockstep rollback --local (installed)', () => {
  let cwd: string;
  const lockstep = async (args: string[]) => {
    const run = await runCli(args, {
      cwd,
      installed: true,
      timeoutMs: 240_000,
      env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    return { code: run.code, out: `${run.stdout}${run.stderr}` };
  };
  const migration = (file: string, sql: string) => writeFileSync(join(cwd, 'migrations', file), sql);
  /** The app database, while no command runs. */
  async function sql<T>(query: string): Promise<T[]> {
    const certificate = await localCertificate(join(cwd, '.lockstep', 'tls'));
    const server = await startEmbeddedPostgres({ dataDir: join(cwd, '.lockstep', 'pg'), tls: certificate });
    const client = new pg.Client({ connectionString: databaseUrl(server.url, 'app') });
    try {
      await client.connect();
      return (await client.query(query)).rows as T[];
    } finally {
      await client.end().catch(() => {});
      await server.stop();
    }
  }
  const columns = async () =>
    (
      await sql<{ c: string }>(
        "SELECT column_name AS c FROM information_schema.columns WHERE table_name = 'accounts' ORDER BY ordinal_position",
      )
    ).map((r) => r.c);
  const service = () => {
    const state = JSON.parse(readFileSync(join(cwd, '.lockstep', 'deploy.json'), 'utf8'));
    return {
      revision: state.taskDefinition as string,
      image: state.taskDefinitions[state.taskDefinition].containerDefinitions[0].image as string,
    };
  };
  const recordCount = () => readdirSync(join(cwd, '.lockstep', 'releases')).length;

  before(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'lockstep-rollback-'));
    chmodSync(cwd, 0o755);
    mkdirSync(join(cwd, 'migrations'));
    for (const f of ['0001_create_accounts.sql', '0002_create_projects.sql'])
      cpSync(join(repoRoot, 'migrations', f), join(cwd, 'migrations', f));
    const r1 = await lockstep(['release', '--local', '--release', 'r1']);
    assert.equal(r1.code, 0, r1.out);
    migration('0003_add_nickname.sql', 'ALTER TABLE accounts ADD COLUMN nickname text;\n');
    const r2 = await lockstep(['release', '--local', '--release', 'r2']);
    assert.equal(r2.code, 0, r2.out);
  });
  after(() => rmSync(cwd, { recursive: true, force: true }));

  test('--dry-run prints the decision and the steps, and changes nothing', async () => {
    const before = { service: service(), records: recordCount() };

    const run = await lockstep(['rollback', '--local', '--to', 'r1', '--dry-run']);

    assert.equal(run.code, 0, run.out);
    assert.match(run.out, /0003_add_nickname\.sql +compatible/);
    assert.match(run.out, /decision: image only/);
    assert.match(run.out, /steps:\n {2}1\. take the rehearsal lock/);
    assert.match(run.out, /dry run: nothing was changed/);
    assert.deepEqual({ service: service(), records: recordCount() }, before);
  });

  test('an additive release is rolled back by image only: the schema stays, the image is back, a record says so', async () => {
    const run = await lockstep(['rollback', '--local', '--to', 'r1', '--reason', 'r2 is slow']);

    assert.equal(run.code, 0, run.out);
    assert.equal(service().image, 'local/app:r1');
    assert.ok((await columns()).includes('nickname'), 'the column r2 added is kept');
    const shown = await lockstep(['releases', 'show', 'rollback-to-r1', '--local', '--json']);
    const { record } = JSON.parse(shown.out.slice(shown.out.indexOf('{'))) as {
      record: { outcome: string; image: string; rollback: { restored: boolean } };
    };
    assert.deepEqual(
      [record.outcome, record.image, record.rollback.restored],
      ['SUCCEEDED', 'local/app:r1', false],
    );
  });

  test('a destructive release needs --restore-database; with it the data is back as the snapshot had it', async () => {
    await sql("INSERT INTO accounts (email, display_name, nickname) VALUES ('before@x.io', 'B', 'kept')");
    migration(
      '0004_drop_nickname.sql',
      '-- lockstep:allow drop-column no running version reads it\nALTER TABLE accounts DROP COLUMN nickname;\n',
    );
    const r3 = await lockstep(['release', '--local', '--release', 'r3']);
    assert.equal(r3.code, 0, r3.out);
    await sql("INSERT INTO accounts (email, display_name) VALUES ('after@x.io', 'A')");
    const released = { service: service(), records: recordCount() };

    const refused = await lockstep(['rollback', '--local', '--to', 'r2']);

    assert.equal(refused.code, 10, refused.out);
    assert.match(refused.out, /0004_drop_nickname\.sql +incompatible: line 2: drops a column/);
    assert.match(
      refused.out,
      /RestoreRequiredError: .*run again with --restore-database to restore lockstep-app-\d{14}-r3/,
    );
    assert.match(refused.out, /LOST: everything written to the database since/);
    assert.deepEqual({ service: service(), records: recordCount() }, released);
    assert.ok(!(await columns()).includes('nickname'), 'nothing was restored');

    const restored = await lockstep(['rollback', '--local', '--to', 'r2', '--restore-database']);

    assert.equal(restored.code, 0, restored.out);
    assert.equal(service().image, 'local/app:r2');
    assert.deepEqual(
      await sql('SELECT email, nickname FROM accounts ORDER BY id'),
      [{ email: 'before@x.io', nickname: 'kept' }],
      'the data as the snapshot had it; what was written since is gone',
    );
    assert.equal(recordCount(), released.records + 1);
  });
});
