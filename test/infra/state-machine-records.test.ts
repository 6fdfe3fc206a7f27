/**
 * The release record (infra/constructs/release-records.ts), written by the synthesized state machine run locally
 * (test/support/local-release.ts) into dynalite, and read back with the CLI's reader (cli/release-records.ts): a
 * RUNNING record once preflight holds the lock, replaced at every end — released, dry run, and a failure at each
 * step — and a record that cannot be written alerts without changing the release's outcome.
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import type pg from 'pg';
import { findRecord, listRecords, type ReleaseRecord } from '../../cli/release-records.ts';
import { migrationChecksum } from '../../engine/checksum.ts';
import { STATE } from '../../infra/constructs/release-definition.ts';
import { freshDatabase, migrationsDir, type TestDatabase } from '../support/database.ts';
import {
  createLocalRelease,
  FIXTURE_MIGRATIONS,
  type LocalRelease,
  type ReleaseRun,
  releaseInput,
  resetDatabase,
  TARGET,
} from '../support/local-release.ts';

let db: TestDatabase;
let admin: pg.Client;
let dir: { dir: string; cleanup(): Promise<void> };
let release: LocalRelease;

const { release: LABEL, image: IMAGE } = releaseInput();

/** This run's record, as `lockstep releases` reads it (the table's own Query, newest first). */
async function recordOf(run: ReleaseRun): Promise<ReleaseRecord> {
  const records = await listRecords(release.dynamo.client, release.definition.recordsTableName, {
    database: TARGET.dbIdentifier,
    limit: 100,
  });
  const record = records.find((r) => r.executionArn === run.executionArn);
  assert.ok(record, `a record of ${run.executionArn}`);
  return record;
}

const failWith = (name: string) => () => {
  throw Object.assign(new Error(`rehearsed ${name}`), { name });
};

describe('release records', () => {
  before(async () => {
    db = await freshDatabase();
    admin = await db.connect();
    dir = await migrationsDir(FIXTURE_MIGRATIONS);
    release = await createLocalRelease({ databaseUrl: db.url, migrationsDir: dir.dir });
  });

  after(async () => {
    await release.dynamo.close();
    await dir.cleanup();
    await db.drop();
  });

  beforeEach(async () => {
    release.reset();
    await release.clearLock();
    await resetDatabase(admin);
  });

  test('a release is recorded RUNNING once it holds the lock, then SUCCEEDED with what the rollback needs', async () => {
    let running: ReleaseRecord | undefined;
    const run = await release.runRelease(releaseInput(), {
      tasks: {
        [STATE.plan]: async (input, invoke) => {
          running = await findRecord(release.dynamo.client, release.definition.recordsTableName, LABEL);
          return invoke(input);
        },
      },
    });

    assert.equal(run.status, 'SUCCEEDED', `${run.error}: ${run.cause}`);
    assert.equal(running?.outcome, 'RUNNING');
    assert.deepEqual(run.recordStates, [
      'Record view (started)',
      'Record release (started)',
      'Record view (released)',
      'Record release (released)',
    ]);
    const record = await recordOf(run);
    const created = run.calls.find((c) => c.state === STATE.createSnapshot)?.output as { snapshotId: string };
    const deployed = run.calls.find((c) => c.state === STATE.startDeploy)?.output as {
      taskDefinitionArn: string;
      previousTaskDefinitionArn: string;
    };
    assert.equal(record.database, TARGET.dbIdentifier);
    assert.equal(record.recordKey, `${record.startedAt}#${run.executionArn.split(':').at(-1)}`);
    assert.deepEqual(
      [record.release, record.image, record.outcome, record.trigger, record.failure],
      [LABEL, IMAGE, 'SUCCEEDED', 'start', undefined],
    );
    assert.equal(record.snapshotId, created.snapshotId);
    assert.match(record.snapshotTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(record.taskDefinitionBefore, deployed.previousTaskDefinitionArn);
    assert.equal(record.taskDefinitionAfter, deployed.taskDefinitionArn);
    assert.notEqual(record.taskDefinitionBefore, record.taskDefinitionAfter);
    assert.ok(record.updatedAt >= record.startedAt, 'ended after it started');
    assert.equal(record.migrationsState, 'applied');
    assert.deepEqual(record.migrations, {
      phase: 'before-deploy',
      count: 3,
      afterDeployCount: 0,
      truncated: false,
      migrations: Object.entries(FIXTURE_MIGRATIONS).map(([file, sql]) => ({
        version: String(Number(file.slice(0, 4))),
        file,
        checksum: migrationChecksum(sql),
        phase: 'before-deploy',
      })),
    });
  });

  test('a dry run is recorded DRY_RUN: nothing applied, nothing deployed', async () => {
    const run = await release.runRelease(releaseInput({ options: { dryRun: true } }));

    assert.equal(run.status, 'SUCCEEDED');
    const record = await recordOf(run);
    assert.deepEqual(
      [record.outcome, record.migrationsState, record.snapshotId, record.taskDefinitionAfter],
      ['DRY_RUN', 'none applied', undefined, undefined],
    );
  });

  test('a failure at each step is recorded FAILED, naming the step, the error and what was applied', async () => {
    const cases: Array<{ step: string; state: string; applied: string; deployed: boolean }> = [
      { step: STATE.plan, state: STATE.plan, applied: 'not recorded', deployed: false },
      { step: STATE.createSnapshot, state: STATE.createSnapshot, applied: 'none applied', deployed: false },
      { step: STATE.migrate, state: STATE.migrate, applied: 'partly applied', deployed: false },
      { step: STATE.startDeploy, state: STATE.startDeploy, applied: 'applied', deployed: false },
      { step: STATE.rolloutStatus, state: STATE.rolloutStatus, applied: 'applied', deployed: true },
    ];
    for (const c of cases) {
      release.reset();
      await release.clearLock();
      await resetDatabase(admin);
      const run = await release.runRelease(releaseInput(), {
        tasks: { [c.state]: failWith('RehearsedError') },
      });

      assert.equal(run.status, 'FAILED', c.step);
      assert.equal(run.error, 'RehearsedError', c.step);
      assert.deepEqual(run.recordStates, [
        'Record view (started)',
        'Record release (started)',
        'Record view (failed)',
        'Record release (failed)',
      ]);
      const record = await recordOf(run);
      assert.equal(record.outcome, 'FAILED', c.step);
      assert.equal(record.failure?.step, c.step);
      assert.equal(record.failure?.error, 'RehearsedError');
      assert.match(record.failure?.cause ?? '', /rehearsed RehearsedError/);
      assert.equal(record.migrationsState, c.applied, c.step);
      assert.equal(record.taskDefinitionAfter !== undefined, c.deployed, c.step);
      assert.equal(run.alerts.length, 1, c.step);
      assert.match(run.alerts[0]?.message ?? '', new RegExp(`Release record: ${record.recordKey}`));
    }
  });

  test('a migration that fails is recorded with the plan’s list and the Cause naming the file', async () => {
    await writeFile(join(dir.dir, '0004_broken.sql'), 'SELECT * FROM no_such_table;');
    try {
      const run = await release.runRelease(releaseInput());
      const record = await recordOf(run);
      assert.equal(record.failure?.step, STATE.migrate);
      assert.equal(record.failure?.error, 'MigrationFailedError');
      assert.match(record.failure?.cause ?? '', /0004_broken\.sql/);
      assert.deepEqual(
        record.migrations?.migrations.map((m) => m.file),
        [...Object.keys(FIXTURE_MIGRATIONS), '0004_broken.sql'],
      );
      assert.equal(record.migrationsState, 'partly applied');
    } finally {
      await rm(join(dir.dir, '0004_broken.sql'));
    }
  });

  test('an input preflight refuses is recorded too, under the database, with no release label to give', async () => {
    const run = await release.runRelease({ image: '' });

    assert.equal(run.status, 'FAILED');
    const record = await recordOf(run);
    assert.deepEqual(
      [record.outcome, record.failure?.step, record.release, record.migrationsState],
      ['FAILED', STATE.preflight, '(input not validated)', 'not recorded'],
    );
    assert.deepEqual(run.recordStates, ['Record view (failed)', 'Record release (failed)']);
  });

  test('a record that cannot be written at the end alerts, and the release still succeeds', async () => {
    const run = await release.runRelease(releaseInput(), {
      tasks: { 'Record release (released)': failWith('DynamoDB.AccessDeniedException') },
    });

    assert.equal(run.status, 'SUCCEEDED');
    assert.equal(run.alerts.length, 1);
    assert.equal(run.alerts[0]?.subject, 'lockstep: release record not written');
    assert.match(run.alerts[0]?.message ?? '', /Release v1\.4\.0 ended SUCCEEDED, but its release record/);
    assert.match(run.alerts[0]?.message ?? '', /DynamoDB\.AccessDeniedException/);
    // The RUNNING record stays: the trace that it started.
    assert.equal((await recordOf(run)).outcome, 'RUNNING');
  });

  test('a record that cannot be written after a failure alerts besides the failure’s own alert; the release still fails', async () => {
    const run = await release.runRelease(releaseInput(), {
      tasks: {
        [STATE.migrate]: failWith('RehearsedError'),
        'Record release (failed)': failWith('DynamoDB.ValidationException'),
      },
    });

    assert.equal(run.status, 'FAILED');
    assert.equal(run.error, 'RehearsedError');
    assert.deepEqual(
      run.alerts.map((a) => a.subject),
      ['lockstep: release failed at migrate', 'lockstep: release record not written'],
    );
  });

  test('a start record that cannot be written changes nothing: the release runs and is recorded at its end', async () => {
    const run = await release.runRelease(releaseInput(), {
      tasks: { 'Record release (started)': failWith('DynamoDB.ThrottlingException') },
    });

    assert.equal(run.status, 'SUCCEEDED');
    assert.equal(run.alerts.length, 0);
    assert.equal((await recordOf(run)).outcome, 'SUCCEEDED');
  });
});
