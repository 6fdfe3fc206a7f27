/**
 * The release state machine, executed from its synthesized definition with every Lambda task wired to the real
 * handler (see test/support/local-release.ts): the paths a release takes when nothing goes wrong, the loops,
 * the retries, and what the steps send to AWS. Failures at each step: state-machine-failures.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { RegisterTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import {
  CreateDBSnapshotCommand,
  DescribeDBSnapshotsCommand,
  RDSServiceException,
} from '@aws-sdk/client-rds';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import type pg from 'pg';
import { HistoryTable } from '../../engine/history.ts';
import { STATE } from '../../infra/constructs/release-definition.ts';
import { handlerOf } from '../../rehearsal/functions.ts';
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
const normalized = {
  release: LABEL,
  image: IMAGE,
  migrations: 'bundled',
  options: { skipSnapshot: false, dryRun: false },
};

function assertSucceeded(run: ReleaseRun): void {
  assert.equal(run.status, 'SUCCEEDED', `${run.error}: ${run.cause}\nafter ${run.states.join(' → ')}`);
}

/** What the invocations of a Task state returned, in order. */
function outputsOf<T>(run: ReleaseRun, state: string): T[] {
  return run.calls.filter((c) => c.state === state).map((c) => c.output as T);
}

/** Who holds the database's release lock now. */
/** Another execution takes the release lock, as its preflight would. */
async function holdLock(owner: string): Promise<void> {
  await release.dynamo.client.send(
    new PutItemCommand({
      TableName: release.definition.lockTableName,
      Item: {
        lockId: { S: TARGET.dbIdentifier },
        owner: { S: owner },
        acquiredAt: { S: new Date().toISOString() },
        expiresAt: { N: String(Math.floor(Date.now() / 1000) + 3600) },
      },
    }),
  );
}

async function appliedMigrations(): Promise<Array<{ file: string; by: string }>> {
  const { rows } = await admin.query(
    'SELECT file_name AS file, applied_by AS by FROM lockstep.schema_history WHERE success ORDER BY version',
  );
  return rows;
}

describe('release state machine', () => {
  before(async () => {
    db = await freshDatabase();
    admin = await db.connect();
    dir = await migrationsDir(FIXTURE_MIGRATIONS);
    // Lock waits are short here, so a held lock fails the attempt quickly and the state machine's retry shows.
    release = await createLocalRelease({
      databaseUrl: db.url,
      migrationsDir: dir.dir,
      env: { LOCK_WAIT_SECONDS: '1' },
    });
  });

  after(async () => {
    await dir.cleanup();
    await db.drop();
  });

  beforeEach(async () => {
    release.reset();
    await release.clearLock();
    await resetDatabase(admin);
  });

  test('a full release runs preflight, plan, snapshot (polled until available), migrate, deploy (polled until complete), prune, in that order', async (t) => {
    const run = await release.runRelease(releaseInput());

    assertSucceeded(run);
    assert.deepEqual(run.states, [
      STATE.preflight,
      STATE.plan,
      STATE.route,
      STATE.createSnapshot,
      STATE.waitSnapshot,
      STATE.snapshotStatus,
      STATE.snapshotReady,
      STATE.waitSnapshot,
      STATE.snapshotStatus,
      STATE.snapshotReady,
      STATE.migrate,
      STATE.migrated,
      STATE.startDeploy,
      STATE.waitRollout,
      STATE.rolloutStatus,
      STATE.rolledOut,
      STATE.waitRollout,
      STATE.rolloutStatus,
      STATE.rolledOut,
      STATE.afterDeployRoute,
      STATE.prune,
      STATE.unlock,
      STATE.released,
    ]);
    assert.deepEqual(
      outputsOf<{ status: string }>(run, STATE.snapshotStatus).map((o) => o.status),
      ['creating', 'available'],
    );
    assert.deepEqual(
      outputsOf<{ rolloutState: string }>(run, STATE.rolloutStatus).map((o) => o.rolloutState),
      ['IN_PROGRESS', 'COMPLETED'],
    );
    assert.deepEqual(run.alerts, [], 'no alert when a release succeeds (notifyOnSuccess is off)');

    // The steps received what the state machine built for them.
    const migrateCall = run.calls.find((c) => c.state === STATE.migrate);
    assert.deepEqual(migrateCall?.input, {
      mode: 'apply',
      phase: 'before-deploy',
      executionId: run.executionArn,
      release: normalized,
    });
    assert.deepEqual(
      outputsOf<{ pending: { first: string[] } }>(run, STATE.plan).flatMap((p) => p.pending.first),
      Object.keys(FIXTURE_MIGRATIONS),
    );

    // The migrations really ran, recorded under the release label.
    assert.deepEqual(
      await appliedMigrations(),
      Object.keys(FIXTURE_MIGRATIONS).map((file) => ({ file, by: LABEL })),
    );

    // RDS: one snapshot of the configured instance, tagged as lockstep's and this execution's.
    const creates = release.aws.rds.commandCalls(CreateDBSnapshotCommand).map((c) => c.args[0].input);
    assert.equal(creates.length, 1);
    const snapshotId = creates[0]?.DBSnapshotIdentifier as string;
    assert.match(snapshotId, /^lockstep-database-\d{14}-release[0-9a-f]$/);
    assert.equal(creates[0]?.DBInstanceIdentifier, TARGET.dbIdentifier);
    assert.deepEqual(creates[0]?.Tags, [
      { Key: 'lockstep:managed', Value: 'true' },
      { Key: 'lockstep:release', Value: LABEL },
      { Key: 'lockstep:execution', Value: run.executionArn },
    ]);
    assert.ok(
      release.aws.rds
        .commandCalls(DescribeDBSnapshotsCommand)
        .some((c) => c.args[0].input.DBSnapshotIdentifier === snapshotId),
      'the status checks ask for the snapshot create returned',
    );

    // ECS: a new revision of the service's task definition with the release image, and the service moved to it.
    const registered = release.aws.ecs
      .commandCalls(RegisterTaskDefinitionCommand)
      .map((c) => c.args[0].input);
    assert.equal(registered.length, 1);
    assert.equal(registered[0]?.family, TARGET.family);
    assert.deepEqual(
      registered[0]?.containerDefinitions?.map((c) => [c.name, c.image]),
      [[TARGET.container, IMAGE]],
    );
    const updates = release.aws.ecs.commandCalls(UpdateServiceCommand).map((c) => c.args[0].input);
    assert.deepEqual(updates, [
      {
        cluster: TARGET.cluster,
        service: TARGET.service,
        taskDefinition: `arn:aws:ecs:eu-west-1:123456789012:task-definition/${TARGET.family}:2`,
      },
    ]);
    assert.equal(release.ecs.image, IMAGE);

    // Preflight took the database's release lock, and the end of the release gave it back.
    assert.equal(await release.lockOwner(), undefined);
    t.diagnostic(
      `full release: ${run.states.length} state transitions (two snapshot polls, two rollout polls)`,
    );
  });

  test('with nothing pending, no snapshot is taken and nothing migrated, but the image is still deployed', async (t) => {
    await handlerOf(release.handlers, 'migrate')(
      {
        mode: 'apply',
        phase: 'before-deploy',
        executionId: 'arn:aws:states:eu-west-1:123456789012:execution:m:earlier',
        release: normalized,
      },
      { getRemainingTimeInMillis: () => 900_000 },
    );
    release.ecs.rollouts = ['COMPLETED'];

    const run = await release.runRelease(releaseInput());

    assertSucceeded(run);
    assert.deepEqual(run.states, [
      STATE.preflight,
      STATE.plan,
      STATE.route,
      STATE.startDeploy,
      STATE.waitRollout,
      STATE.rolloutStatus,
      STATE.rolledOut,
      STATE.afterDeployRoute,
      STATE.prune,
      STATE.unlock,
      STATE.released,
    ]);
    assert.equal(release.aws.rds.commandCalls(CreateDBSnapshotCommand).length, 0);
    assert.equal(release.ecs.image, IMAGE);
    assert.deepEqual(
      outputsOf<{ pendingCount: number }>(run, STATE.plan).map((p) => p.pendingCount),
      [0],
    );
    assert.ok(!run.calls.some((c) => c.state === STATE.migrate));
    t.diagnostic(`nothing pending: ${run.states.length} state transitions (one rollout poll)`);
  });

  test('a dry run plans only: no snapshot, no migration, no deploy', async () => {
    const run = await release.runRelease(releaseInput({ options: { dryRun: true } }));

    assertSucceeded(run);
    assert.deepEqual(run.states, [
      STATE.preflight,
      STATE.plan,
      STATE.route,
      STATE.unlockDryRun,
      STATE.dryRun,
    ]);
    assert.equal(await release.lockOwner(), undefined, 'the lock is given back');
    assert.deepEqual(
      outputsOf<{ pendingCount: number }>(run, STATE.plan).map((p) => p.pendingCount),
      [3],
    );
    assert.equal(release.aws.rds.calls().length, 0);
    assert.equal(release.aws.ecs.calls().length, 0);
    const { rows } = await admin.query(
      "SELECT to_regclass('accounts') AS t, to_regclass('lockstep.schema_history') AS h",
    );
    assert.deepEqual(rows, [{ t: null, h: null }]);
  });

  test('skipSnapshot migrates without a snapshot, then deploys', async () => {
    const run = await release.runRelease(releaseInput({ options: { skipSnapshot: true } }));

    assertSucceeded(run);
    assert.deepEqual(run.states.slice(0, 5), [
      STATE.preflight,
      STATE.plan,
      STATE.route,
      STATE.migrate,
      STATE.migrated,
    ]);
    assert.ok(!run.states.includes(STATE.createSnapshot));
    assert.equal((await appliedMigrations()).length, 3);
    assert.equal(release.ecs.image, IMAGE);
  });

  test('a migrate invocation that runs out of time returns incomplete; the state machine invokes it again, then deploys', async () => {
    const run = await release.runRelease(releaseInput(), {
      tasks: {
        // The first invocation starts with less Lambda time left than the engine needs to start a migration.
        [STATE.migrate]: (input, invoke, attempt) =>
          invoke(input, { getRemainingTimeInMillis: () => (attempt === 1 ? 14_000 : 900_000) }),
      },
    });

    assertSucceeded(run);
    const from = run.states.indexOf(STATE.migrate);
    assert.deepEqual(run.states.slice(from, from + 5), [
      STATE.migrate,
      STATE.migrated,
      STATE.migrate,
      STATE.migrated,
      STATE.startDeploy,
    ]);
    const migrations = run.calls
      .filter((c) => c.state === STATE.migrate)
      .map((c) => c.output as { appliedCount: number; incomplete: boolean });
    assert.deepEqual(
      migrations.map((m) => [m.appliedCount, m.incomplete]),
      [
        [0, true],
        [3, false],
      ],
    );
    assert.equal((await appliedMigrations()).length, 3);
  });

  test('a migrate attempt that cannot get the migration lock fails with LockTimeoutError and is retried, then succeeds', async () => {
    const [classid, objid] = new HistoryTable().lockKey;
    const holder = await db.connect({ applicationName: 'another release' });
    const run = await release.runRelease(releaseInput(), {
      tasks: {
        [STATE.migrate]: async (input, invoke, attempt) => {
          if (attempt > 1) return invoke(input);
          await holder.query('SELECT pg_advisory_lock($1, $2)', [classid, objid]);
          try {
            return await invoke(input);
          } finally {
            await holder.query('SELECT pg_advisory_unlock($1, $2)', [classid, objid]);
          }
        },
      },
    });

    assertSucceeded(run);
    assert.deepEqual(
      run.calls.filter((c) => c.state === STATE.migrate).map((c) => c.error),
      ['LockTimeoutError', undefined],
    );
    const retried = run.events.filter((e) => e.type === 'StateRetried');
    assert.equal(retried.length, 1);
    assert.equal(retried[0]?.state?.name, STATE.migrate);
    assert.ok(retried[0]?.retry?.retrier.ErrorEquals.includes('LockTimeoutError'));
    assert.equal(run.states.filter((s) => s === STATE.migrate).length, 1, 'a retry is not a new state entry');
    assert.deepEqual(run.alerts, []);
    assert.equal((await appliedMigrations()).length, 3);
  });

  test('a failed prune of old snapshots sends one alert, but the release still succeeds', async () => {
    const denied = new RDSServiceException({
      name: 'AccessDenied',
      $fault: 'client',
      $metadata: { httpStatusCode: 403 },
      message: 'User is not authorized to perform: rds:DescribeDBSnapshots',
    });
    // The first listing is create's (does this execution have a snapshot already?); the second is prune's.
    release.aws.rds
      .on(DescribeDBSnapshotsCommand, { DBInstanceIdentifier: TARGET.dbIdentifier })
      .callsFakeOnce((input) => release.rds.describeDBSnapshots(input))
      .rejects(denied);

    const run = await release.runRelease(releaseInput());

    assertSucceeded(run);
    assert.deepEqual(run.states.slice(-6), [
      STATE.prune,
      'Describe prune failure',
      STATE.pruneAlert,
      STATE.sendPruneAlert,
      STATE.unlock,
      STATE.released,
    ]);
    assert.equal(run.alerts.length, 1);
    assert.equal(run.alerts[0]?.subject, 'lockstep: pruning old snapshots failed');
    assert.equal(run.alerts[0]?.topicArn, release.definition.alertTopicArn);
    assert.match(
      run.alerts[0]?.message ?? '',
      new RegExp(`^Release ${LABEL.replaceAll('.', '\\.')} succeeded`),
    );
    assert.match(run.alerts[0]?.message ?? '', /AccessDenied/);
    assert.equal(release.ecs.image, IMAGE);
  });

  test('a release started while another holds the lock waits its turn, then runs: no alert, nothing failed', async () => {
    const older = `${release.definition.stateMachineArn.replace(':stateMachine:', ':execution:')}:earlier-release`;
    await holdLock(older);
    // The earlier release is still running at the first three checks, then it has finished (without unlocking).
    release.aws.sfn
      .on(DescribeExecutionCommand, { executionArn: older })
      .resolvesOnce({ status: 'RUNNING' })
      .resolvesOnce({ status: 'RUNNING' })
      .resolvesOnce({ status: 'RUNNING' })
      .resolves({ status: 'SUCCEEDED' });

    const run = await release.runRelease(releaseInput());

    assertSucceeded(run);
    assert.deepEqual(run.alerts, []);
    const preflights = run.calls.filter((c) => c.state === STATE.preflight);
    assert.deepEqual(
      preflights.map((c) => c.error ?? 'ok'),
      ['ReleaseInProgressError', 'ReleaseInProgressError', 'ReleaseInProgressError', 'ok'],
    );
    assert.equal(await release.lockOwner(), undefined, 'given back at the end');
  });

  test('a release still blocked after 30 retries fails at preflight with ReleaseInProgressError, leaving the lock to its owner', async () => {
    const older = `${release.definition.stateMachineArn.replace(':stateMachine:', ':execution:')}:stuck-release`;
    await holdLock(older);

    const run = await release.runRelease(releaseInput());

    assert.equal(run.status, 'FAILED');
    assert.equal(run.error, 'ReleaseInProgressError');
    assert.equal(
      run.calls.filter((c) => c.state === STATE.preflight).length,
      31,
      'the first try and 30 retries',
    );
    assert.deepEqual(run.states, [
      STATE.preflight,
      'Alert: preflight',
      STATE.formatAlert,
      STATE.sendAlert,
      STATE.failed,
    ]);
    assert.ok(run.alerts[0]?.message.includes(older), 'the alert names the running release');
    assert.equal(await release.lockOwner(), older);
    assert.equal(release.aws.rds.calls().length, 0);
    assert.equal(release.aws.ecs.calls().length, 0);
  });

  test('the lock is given back when a release fails after preflight', async () => {
    release.rds.statuses = ['failed'];
    const run = await release.runRelease(releaseInput());
    assert.equal(run.status, 'FAILED');
    assert.ok(run.states.includes(STATE.unlockFailed), run.states.join(' → '));
    assert.equal(await release.lockOwner(), undefined);
  });

  test('preflight rejects a malformed input: one alert naming preflight, no RDS or ECS call, FAILED', async () => {
    const run = await release.runRelease({ release: LABEL, image: IMAGE, options: { dryrun: true } });

    assert.equal(run.status, 'FAILED');
    assert.equal(run.error, 'InvalidInputError');
    assert.deepEqual(run.states, [
      STATE.preflight,
      'Alert: preflight',
      STATE.formatAlert,
      STATE.sendAlert,
      STATE.failed,
    ]);
    assert.equal(run.alerts.length, 1);
    assert.equal(run.alerts[0]?.subject, 'lockstep: release failed at preflight');
    assert.match(run.alerts[0]?.message ?? '', /FAILED at step Preflight/);
    assert.match(run.alerts[0]?.message ?? '', /InvalidInputError/);
    assert.match(run.alerts[0]?.message ?? '', /dryrun/);
    assert.equal(release.aws.rds.calls().length, 0);
    assert.equal(release.aws.ecs.calls().length, 0);
    assert.equal(release.aws.sfn.calls().length, 0, 'rejected before any AWS call');
  });
});
