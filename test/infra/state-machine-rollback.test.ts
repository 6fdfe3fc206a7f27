/**
 * The rollback state machine (infra/constructs/rollback-definition.ts) as synthesized, executed locally
 * (test/support/local-release.ts with `machine: 'rollback'`): the real preflight, restore and deploy handlers, the
 * release lock and the records on dynalite, ECS on the rehearsal's stand-in, and RDS on {@link FakeRds}, seeded with
 * recorded DescribeDBInstances / DescribeDBClusters responses. An instance restored and switched, an Aurora cluster
 * with its members, an image-only rollback, a failure at each step (each alert naming what holds the data and the
 * command that renames it back), and a release holding the lock refusing the rollback.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { DBInstance } from '@aws-sdk/client-rds';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { listRecords, type ReleaseRecord } from '../../cli/release-records.ts';
import { ROLLBACK_STATE as STATE } from '../../infra/constructs/rollback-state-names.ts';
import { freshDatabase, migrationsDir, type TestDatabase } from '../support/database.ts';
import { FakeRds, RECORDED } from '../support/fake-rds.ts';
import {
  createLocalRelease,
  FIXTURE_MIGRATIONS,
  type LocalRelease,
  type ReleaseRun,
  TARGET,
} from '../support/local-release.ts';

const SNAPSHOT = 'lockstep-database-20261121100000-v140';
const V140 = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v1.4.0';
const RELEASE_EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:LockstepRelease-Release-X:v1-5-0';

let db: TestDatabase;
let dir: { dir: string; cleanup(): Promise<void> };

function rollbackInput(target: string, restore: boolean, extra: Record<string, unknown> = {}) {
  return {
    rollback: 'rollback-to-v1.3.0',
    to: {
      release: 'v1.3.0',
      recordKey: '2026-11-20T09:00:00.000Z#v1-3-0',
      image: TARGET.initialImage,
      taskDefinitionArn: target,
    },
    restore: restore ? { snapshotId: SNAPSHOT, snapshotCreatedAt: '2026-11-21T10:00:00Z' } : null,
    requestedBy: 'arn:aws:sts::123456789012:assumed-role/deployer/alice',
    reason: 'v1.4.0 corrupts orders',
    ...extra,
  };
}

/** The service as a release left it: revision 1 (the target) replaced by revision 2, on v1.4.0, rolled out. */
function releasedV140(local: LocalRelease): string {
  const target = local.ecs.taskDefinitionArn;
  const arn = local.ecs.registerTaskDefinition({
    family: TARGET.family,
    containerDefinitions: [{ name: TARGET.container, image: V140 }],
  }).taskDefinition?.taskDefinitionArn as string;
  local.ecs.updateService({ cluster: TARGET.cluster, service: TARGET.service, taskDefinition: arn });
  for (let i = 0; i < 3; i++)
    local.ecs.describeServices({ cluster: TARGET.cluster, services: [TARGET.service] });
  return target;
}

async function recordOf(local: LocalRelease, run: ReleaseRun): Promise<ReleaseRecord> {
  const records = await listRecords(local.dynamo.client, local.definition.recordsTableName, {
    database: TARGET.dbIdentifier,
    limit: 100,
  });
  const record = records.find((r) => r.executionArn === run.executionArn);
  assert.ok(record, `a record of ${run.executionArn}`);
  return record;
}

/** `state` returns a deadline already past, so the status after it times out at its first look. */
const pastDeadline = (state: string) => ({
  tasks: {
    [state]: async (input: unknown, invoke: (input: unknown) => Promise<unknown>) => ({
      ...((await invoke(input)) as object),
      waitUntil: new Date(Date.now() - 1000).toISOString(),
    }),
  },
});

before(async () => {
  db = await freshDatabase();
  dir = await migrationsDir(FIXTURE_MIGRATIONS);
});
after(async () => {
  await dir.cleanup();
  await db.drop();
});

describe('rollback state machine: DB instance', () => {
  let local: LocalRelease;
  let fake: FakeRds;
  let target: string;
  const asidePattern = /^database-before-\d{14}$/;

  before(async () => {
    local = await createLocalRelease({ databaseUrl: db.url, migrationsDir: dir.dir, machine: 'rollback' });
  });
  after(async () => {
    await local.dynamo.close();
  });
  beforeEach(async () => {
    local.reset();
    await local.clearLock();
    fake = new FakeRds();
    fake.addInstance({ ...RECORDED.instance, DBInstanceIdentifier: TARGET.dbIdentifier });
    fake.addSnapshot({ id: SNAPSHOT, source: TARGET.dbIdentifier, status: 'available' });
    fake.install(local.aws.rds);
    target = releasedV140(local);
  });

  const holder = (identifier: string) => fake.peek(identifier) as DBInstance | undefined;

  test('restores the snapshot into a new instance, switches identifiers, redeploys the target, records and notifies', async () => {
    const run = await local.runRelease(rollbackInput(target, true));

    assert.equal(run.status, 'SUCCEEDED', `${run.error}: ${run.cause}`);
    assert.deepEqual(
      run.states.filter((s) => !s.startsWith('Wait')),
      [
        STATE.preflight,
        STATE.restoreWanted,
        STATE.restore,
        STATE.restoreStatus,
        STATE.restored,
        STATE.restoreStatus,
        STATE.restored,
        STATE.renameOriginal,
        STATE.renameOriginalStatus,
        STATE.originalRenamed,
        STATE.renameRestored,
        STATE.renameRestoredStatus,
        STATE.restoredRenamed,
        STATE.switched,
        STATE.startDeploy,
        STATE.rolloutStatus,
        STATE.rolledOut,
        STATE.rolloutStatus,
        STATE.rolledOut,
        STATE.unlock,
        STATE.notify,
        STATE.rolledBack,
      ],
    );
    // The identifier now names the restored instance; the original, with the newer data, is kept aside.
    const restored = holder(TARGET.dbIdentifier);
    assert.match(restored?.DbiResourceId ?? '', /^db-RESTORED/);
    assert.equal(restored?.DBInstanceClass, 'db.r6g.large');
    const asideId = (run.output as { restore: { aside: string } }).restore.aside;
    assert.match(asideId, asidePattern);
    assert.equal(holder(asideId)?.DbiResourceId, RECORDED.instance.DbiResourceId);
    assert.equal(local.ecs.taskDefinitionArn, target);
    assert.equal(local.ecs.image, TARGET.initialImage);
    assert.equal(await local.lockOwner(), undefined);

    assert.equal(run.alerts.length, 1);
    assert.equal(run.alerts[0]?.subject, 'lockstep: rollback complete');
    assert.match(
      run.alerts[0]?.message ?? '',
      /the original with the newer data is kept as database-before-\d{14}/,
    );

    const record = await recordOf(local, run);
    assert.equal(record.outcome, 'SUCCEEDED');
    assert.equal(record.release, 'rollback-to-v1.3.0');
    assert.equal(record.image, TARGET.initialImage);
    assert.equal(record.snapshotId, SNAPSHOT);
    assert.equal(record.taskDefinitionAfter, target);
    assert.deepEqual(record.rollback, { toRecordKey: '2026-11-20T09:00:00.000Z#v1-3-0', restored: true });
    assert.deepEqual(record.restoredAs, {
      restored: (run.output as { restore: { restored: string } }).restore.restored,
      aside: asideId,
    });
  });

  test('image only (restore null): redeploys the target revision and never calls RDS', async () => {
    const run = await local.runRelease(rollbackInput(target, false));

    assert.equal(run.status, 'SUCCEEDED', `${run.error}: ${run.cause}`);
    assert.deepEqual(run.states.slice(0, 4), [
      STATE.preflight,
      STATE.restoreWanted,
      STATE.imageOnly,
      STATE.startDeploy,
    ]);
    assert.equal(local.aws.rds.calls().length, 0);
    assert.equal(local.ecs.taskDefinitionArn, target);
    assert.match(run.alerts[0]?.message ?? '', /The database was not touched/);
    const record = await recordOf(local, run);
    assert.equal(record.outcome, 'SUCCEEDED');
    assert.equal(record.snapshotId, undefined);
    assert.deepEqual(record.rollback, { toRecordKey: '2026-11-20T09:00:00.000Z#v1-3-0', restored: false });
    assert.equal(record.restoredAs, undefined);
  });

  test('a release holding the lock refuses the rollback at once: nothing restored, the lock stays the release’s', async () => {
    await local.dynamo.client.send(
      new PutItemCommand({
        TableName: local.definition.lockTableName,
        Item: {
          lockId: { S: TARGET.dbIdentifier },
          owner: { S: RELEASE_EXECUTION },
          acquiredAt: { S: new Date().toISOString() },
          expiresAt: { N: String(Math.floor(Date.now() / 1000) + 3600) },
        },
      }),
    );
    local.aws.sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });

    const run = await local.runRelease(rollbackInput(target, true));

    assert.equal(run.status, 'FAILED');
    assert.equal(run.error, 'RollbackRefusedError');
    // Refused, not queued: preflight ran once.
    assert.equal(run.calls.filter((c) => c.state === STATE.preflight).length, 1);
    assert.equal(local.aws.rds.calls().length, 0);
    assert.equal(await local.lockOwner(), RELEASE_EXECUTION);
    assert.equal(run.alerts[0]?.subject, 'lockstep: rollback failed at preflight');
    assert.match(run.alerts[0]?.message ?? '', /holds the release lock of database: .*:v1-5-0/);
    assert.match(run.alerts[0]?.message ?? '', /The rollback was refused before anything was changed/);
  });

  test('input the contract does not allow is refused at preflight, before anything, naming the field', async () => {
    const run = await local.runRelease(rollbackInput(target, true, { to: { release: 'v1.3.0' } }));

    assert.equal(run.status, 'FAILED');
    assert.equal(run.error, 'InvalidInputError');
    assert.match(run.alerts[0]?.message ?? '', /Rollback \(input not validated\)/);
    assert.match(run.cause ?? '', /to\.recordKey/);
    assert.equal(await local.lockOwner(), undefined);
  });

  describe('a failure at each step alerts, gives the lock back and records it', () => {
    async function failedRun(run: ReleaseRun, step: string): Promise<string> {
      assert.equal(run.status, 'FAILED');
      assert.equal(run.alerts.length, 1, JSON.stringify(run.alerts));
      assert.equal(run.alerts[0]?.subject, `lockstep: rollback failed at ${step.toLowerCase()}`);
      assert.equal(await local.lockOwner(), undefined);
      const record = await recordOf(local, run);
      assert.equal(record.outcome, 'FAILED');
      assert.equal(record.failure?.step, step);
      return run.alerts[0]?.message ?? '';
    }

    test('restore refused: a snapshot of another database; nothing created, the original still serves', async () => {
      fake.addSnapshot({ id: SNAPSHOT, source: 'billing-db', status: 'available' });
      const run = await local.runRelease(rollbackInput(target, true));
      const message = await failedRun(run, STATE.restore);
      assert.equal(run.error, 'RollbackRefusedError');
      assert.match(message, /taken of billing-db, not of database/);
      assert.match(message, /Nothing was switched: database still holds the current data and serves the app/);
      assert.equal(holder(TARGET.dbIdentifier)?.DbiResourceId, RECORDED.instance.DbiResourceId);
      assert.equal(local.ecs.image, V140);
    });

    test('the restore not available by its deadline: nothing switched, the restored copy named and kept', async () => {
      fake.restoreStatuses = ['creating'];
      const run = await local.runRelease(rollbackInput(target, true), pastDeadline(STATE.restore));
      const message = await failedRun(run, STATE.restoreStatus);
      assert.equal(run.error, 'RestoreTimeoutError');
      assert.match(message, /the copy restored from the snapshot, database-restored-\d{14}, is kept/);
      assert.equal(holder(TARGET.dbIdentifier)?.DbiResourceId, RECORDED.instance.DbiResourceId);
    });

    test('the rename switch failing half-way: the alert names the instance holding the data and the command to rename it back', async () => {
      const run = await local.runRelease(rollbackInput(target, true), {
        tasks: {
          [STATE.renameRestored]: (input, invoke) => {
            fake.failNext(
              'ModifyDBInstanceCommand',
              Object.assign(new Error('not authorized to perform rds:ModifyDBInstance'), {
                name: 'AccessDenied',
              }),
            );
            return invoke(input);
          },
        },
      });
      const message = await failedRun(run, STATE.renameRestored);
      // The identifier is unused: the original is aside, the restored copy not yet in place.
      assert.equal(holder(TARGET.dbIdentifier), undefined);
      const aside = /now (database-before-\d{14})/.exec(message)?.[1] ?? '';
      assert.equal(holder(aside)?.DbiResourceId, RECORDED.instance.DbiResourceId, message);
      assert.match(
        message,
        new RegExp(
          `put the original back with\\n  aws rds modify-db-instance --db-instance-identifier ${aside} --new-db-instance-identifier database --apply-immediately`,
        ),
      );
      assert.match(
        message,
        /finish the switch with\n {2}aws rds modify-db-instance --db-instance-identifier database-restored-\d{14} --new-db-instance-identifier database --apply-immediately/,
      );
      assert.match(message, /Nothing was deleted; nothing was deployed/);
      assert.equal(local.ecs.image, V140);
    });

    test('the original’s rename not visible by its deadline: the alert says where the data may be and both commands', async () => {
      fake.renameLooks = 1000;
      const run = await local.runRelease(rollbackInput(target, true), pastDeadline(STATE.renameOriginal));
      const message = await failedRun(run, STATE.renameOriginalStatus);
      assert.equal(run.error, 'RenameTimeoutError');
      assert.match(
        message,
        /The original instance with the newest data is database, or database-before-\d{14} if its rename went through/,
      );
      assert.match(
        message,
        /put the original back with\n {2}aws rds modify-db-instance --db-instance-identifier database-before-\d{14} --new-db-instance-identifier database --apply-immediately/,
      );
    });

    test('the redeploy failing after the switch: the alert says the database is the restored copy and where the original is', async () => {
      local.ecs.rollouts = ['IN_PROGRESS', 'FAILED'];
      const run = await local.runRelease(rollbackInput(target, true));
      const message = await failedRun(run, STATE.rolloutStatus);
      assert.equal(run.error, 'DeploymentFailedError');
      assert.match(
        message,
        /The database is the copy restored from snapshot lockstep-database-20261121100000-v140, now database; the original with the newer data is kept as database-before-\d{14}/,
      );
      assert.match(holder(TARGET.dbIdentifier)?.DbiResourceId ?? '', /^db-RESTORED/);
    });

    test('a restore function error AWS reports (restore refused by RDS) is final and alerts with its name', async () => {
      fake.failNext(
        'RestoreDBInstanceFromDBSnapshotCommand',
        Object.assign(new Error('The requested DB instance class is not available'), {
          name: 'InsufficientDBInstanceCapacityFault',
        }),
      );
      const run = await local.runRelease(rollbackInput(target, true));
      const message = await failedRun(run, STATE.restore);
      assert.match(message, /Error: InsufficientDBInstanceCapacityFault/);
      assert.equal(run.calls.filter((c) => c.state === STATE.restore).length, 1);
    });
  });
});

describe('rollback state machine: Aurora cluster', () => {
  let local: LocalRelease;
  let fake: FakeRds;
  let target: string;

  before(async () => {
    // The same synthesized definition; the restore function configured for a cluster (DB_KIND), as a stack on an
    // Aurora cluster sets it.
    local = await createLocalRelease({
      databaseUrl: db.url,
      migrationsDir: dir.dir,
      machine: 'rollback',
      env: { DB_KIND: 'cluster' },
    });
  });
  after(async () => {
    await local.dynamo.close();
  });
  beforeEach(async () => {
    local.reset();
    await local.clearLock();
    fake = new FakeRds();
    fake.addCluster({ ...RECORDED.cluster, DBClusterIdentifier: TARGET.dbIdentifier });
    for (const member of RECORDED.members) fake.addInstance(member);
    fake.addSnapshot({ id: SNAPSHOT, source: TARGET.dbIdentifier, status: 'available' }, 'cluster');
    fake.install(local.aws.rds);
    target = releasedV140(local);
  });

  test('restores the cluster, creates its members as the original’s, switches the cluster identifier and redeploys', async () => {
    const run = await local.runRelease(rollbackInput(target, true));

    assert.equal(run.status, 'SUCCEEDED', `${run.error}: ${run.cause}`);
    const restored = fake.peek(TARGET.dbIdentifier) as {
      DbClusterResourceId?: string;
      DBClusterMembers?: unknown[];
    };
    assert.match(restored.DbClusterResourceId ?? '', /^cluster-RESTORED/);
    assert.deepEqual(
      (restored.DBClusterMembers as { DBInstanceIdentifier: string; IsClusterWriter: boolean }[]).map((m) => [
        m.DBInstanceIdentifier.replace(/\d{14}/, '<time>'),
        m.IsClusterWriter,
      ]),
      [
        ['database-restored-<time>-1', true],
        ['database-restored-<time>-2', false],
      ],
    );
    const writer = fake.peek(
      restored.DBClusterMembers?.length
        ? (restored.DBClusterMembers[0] as { DBInstanceIdentifier: string }).DBInstanceIdentifier
        : '',
    ) as DBInstance;
    assert.equal(writer.DBInstanceClass, 'db.r6g.xlarge');
    const aside = (run.output as { restore: { aside: string } }).restore.aside;
    assert.equal(
      (fake.peek(aside) as { DbClusterResourceId?: string }).DbClusterResourceId,
      RECORDED.cluster.DbClusterResourceId,
    );
    assert.equal(local.ecs.taskDefinitionArn, target);
    // The restore waited for the members: more than the cluster's own looks.
    assert.ok(run.states.filter((s) => s === STATE.restoreStatus).length >= 4);
  });
});
