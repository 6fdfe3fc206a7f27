/**
 * The after-deploy phase (`-- lockstep:after-deploy`), executed from the synthesized definition with the real
 * handlers (test/support/local-release.ts): it runs once the rollout is complete, never before; a failure there
 * alerts that the new version is already serving and undoes nothing before it.
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { UpdateServiceCommand } from '@aws-sdk/client-ecs';
import type pg from 'pg';
import { listRecords } from '../../cli/release-records.ts';
import { STATE } from '../../infra/constructs/release-definition.ts';
import { freshDatabase, migrationsDir, type TestDatabase } from '../support/database.ts';
import {
  createLocalRelease,
  FIXTURE_MIGRATIONS,
  type LocalRelease,
  releaseInput,
  resetDatabase,
  TARGET,
} from '../support/local-release.ts';

let db: TestDatabase;
let admin: pg.Client;
let dir: { dir: string; cleanup(): Promise<void> };
let release: LocalRelease;

const DROP_EMAIL = '0004_drop_email.sql';

async function columns(table: string): Promise<string[]> {
  const { rows } = await admin.query(
    'SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position',
    [table],
  );
  return rows.map((r: { column_name: string }) => r.column_name);
}

async function appliedFiles(): Promise<string[]> {
  const { rows } = await admin.query(
    'SELECT file_name FROM lockstep.schema_history WHERE success ORDER BY version',
  );
  return rows.map((r: { file_name: string }) => r.file_name);
}

/** Runs `work` with `extra` files in the release's migrations directory. */
async function withFiles(extra: Record<string, string>, work: () => Promise<void>): Promise<void> {
  for (const [name, sql] of Object.entries(extra)) await writeFile(join(dir.dir, name), sql);
  try {
    await work();
  } finally {
    for (const name of Object.keys(extra)) await rm(join(dir.dir, name), { force: true });
  }
}

describe('release state machine, after-deploy migrations', () => {
  before(async () => {
    db = await freshDatabase();
    admin = await db.connect();
    dir = await migrationsDir(FIXTURE_MIGRATIONS);
    release = await createLocalRelease({ databaseUrl: db.url, migrationsDir: dir.dir });
  });

  after(async () => {
    await release.dynamo.close();
    await dir.cleanup();
    await admin.end();
    await db.drop();
  });

  beforeEach(async () => {
    release.reset();
    await release.clearLock();
    await resetDatabase(admin);
  });

  test('run once the rollout is complete: the old column is there for the old version, then dropped', async () => {
    await withFiles(
      { [DROP_EMAIL]: '-- lockstep:after-deploy\nALTER TABLE accounts DROP COLUMN email;' },
      async () => {
        let atAfterDeploy: { columns: string[]; image: string | undefined; updates: number } | undefined;
        const run = await release.runRelease(releaseInput(), {
          tasks: {
            [STATE.migrateAfterDeploy]: async (input, invoke) => {
              atAfterDeploy = {
                columns: await columns('accounts'),
                image: release.ecs.image,
                updates: release.aws.ecs.commandCalls(UpdateServiceCommand).length,
              };
              return invoke(input);
            },
          },
        });

        assert.equal(run.status, 'SUCCEEDED', `${run.error}: ${run.cause}`);
        const rolledOut = run.states.lastIndexOf(STATE.rolledOut);
        assert.deepEqual(run.states.slice(rolledOut, rolledOut + 5), [
          STATE.rolledOut,
          STATE.afterDeployRoute,
          STATE.migrateAfterDeploy,
          STATE.migratedAfterDeploy,
          STATE.prune,
        ]);
        assert.deepEqual(atAfterDeploy, {
          columns: ['id', 'email', 'name'],
          image: releaseInput().image,
          updates: 1,
        });
        assert.deepEqual(await columns('accounts'), ['id', 'name']);
        const before = run.calls.find((c) => c.state === STATE.migrate)?.output as {
          applied: { first: string[] };
        };
        assert.deepEqual(before.applied.first, Object.keys(FIXTURE_MIGRATIONS), 'Migrate left the drop');
        assert.deepEqual(await appliedFiles(), [...Object.keys(FIXTURE_MIGRATIONS), DROP_EMAIL]);

        const [record] = await listRecords(release.dynamo.client, release.definition.recordsTableName, {
          database: TARGET.dbIdentifier,
          limit: 1,
        });
        assert.equal(record?.outcome, 'SUCCEEDED');
        assert.equal(record?.migrations?.afterDeployCount, 1);
        assert.deepEqual(
          record?.migrations?.migrations.map((m) => `${m.file} ${m.phase}`),
          [...Object.keys(FIXTURE_MIGRATIONS).map((f) => `${f} before-deploy`), `${DROP_EMAIL} after-deploy`],
        );
      },
    );
  });

  test('a release with only an after-deploy file pending still snapshots first, then runs it after the rollout', async () => {
    const first = await release.runRelease(releaseInput({ release: 'v1.4.0' }));
    assert.equal(first.status, 'SUCCEEDED', `${first.error}: ${first.cause}`);
    release.reset();
    await withFiles(
      { [DROP_EMAIL]: '-- lockstep:after-deploy\nALTER TABLE accounts DROP COLUMN email;' },
      async () => {
        const run = await release.runRelease(releaseInput({ release: 'v1.5.0' }));
        assert.equal(run.status, 'SUCCEEDED', `${run.error}: ${run.cause}`);
        assert.ok(run.states.includes(STATE.createSnapshot), 'a snapshot before the drop');
        assert.ok(
          run.states.indexOf(STATE.startDeploy) < run.states.indexOf(STATE.migrateAfterDeploy),
          run.states.join(' → '),
        );
        assert.deepEqual(await columns('accounts'), ['id', 'name']);
      },
    );
  });

  test('a failure after the deploy alerts that the new version is serving; the deploy and the before-deploy migrations stay', async () => {
    await withFiles(
      {
        '0004_add_nickname.sql': '-- lockstep:after-deploy\nALTER TABLE accounts ADD COLUMN nickname text;',
        '0005_broken.sql': '-- lockstep:after-deploy\nALTER TABLE no_such_table DROP COLUMN x;',
      },
      async () => {
        const run = await release.runRelease(releaseInput());

        assert.equal(run.status, 'FAILED');
        assert.equal(run.error, 'MigrationFailedError');
        const last = run.states.lastIndexOf(STATE.migrateAfterDeploy);
        assert.deepEqual(run.states.slice(last + 1), [
          `Alert: ${STATE.migrateAfterDeploy.toLowerCase()}`,
          STATE.unlockFailed,
          STATE.formatAlert,
          STATE.sendAlert,
          STATE.failed,
        ]);
        assert.equal(run.alerts.length, 1);
        const message = run.alerts[0]?.message ?? '';
        assert.equal(run.alerts[0]?.subject, 'lockstep: release failed at migrate after deploy');
        assert.match(message, /The new version is already deployed and serving/);
        assert.match(message, /0005_broken\.sql/);
        assert.match(message, /lockstep migrate --phase after-deploy/);
        // Nothing before the failure is undone: the new image serves, the earlier migrations stay.
        assert.equal(release.ecs.image, releaseInput().image);
        assert.deepEqual(await appliedFiles(), [...Object.keys(FIXTURE_MIGRATIONS), '0004_add_nickname.sql']);
        assert.deepEqual(await columns('accounts'), ['id', 'email', 'name', 'nickname']);
        assert.equal(await release.lockOwner(), undefined, 'the release lock is given back');

        const [record] = await listRecords(release.dynamo.client, release.definition.recordsTableName, {
          database: TARGET.dbIdentifier,
          limit: 1,
        });
        assert.equal(record?.outcome, 'FAILED');
        assert.equal(record?.failure?.step, STATE.migrateAfterDeploy);
        assert.equal(record?.migrationsState, 'partly applied');
      },
    );
  });
});
