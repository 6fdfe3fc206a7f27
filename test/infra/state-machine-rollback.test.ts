/**
 * The rollback state machine (infra/constructs/rollback-definition.ts) as synthesized, executed locally
 * (test/support/local-release.ts with `machine: 'rollback'`): the real preflight, restore and deploy handlers, the
 * release lock and the records on dynalite, ECS on the rehearsal's stand-in, and RDS on {@link FakeRds}, seeded with
 * recorded DescribeDBInstances / DescribeDBClusters responses. An instance restored and switched, an Aurora cluster
 * with its members, an image-only rollback, a failure at each step (each alert naming what holds the data and the
 * command that renames it back), and a release holding the lock refusing the rollback. Between the restore and the
 * switch the rollback waits for a confirmation, sent by `lockstep approve` / `reject`'s own code (cli/approval.ts)
 * through the local task tokens: approved, it switches; rejected or not decided in time, nothing is switched.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { DBInstance } from '@aws-sdk/client-rds';
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { type Decision, type DecisionResult, decideApproval } from '../../cli/approval.ts';
import { listRecords, type ReleaseRecord } from '../../cli/release-records.ts';
import { ROLLBACK_STATE as STATE } from '../../infra/constructs/rollback-state-names.ts';
import { executionArnFor } from '../../rehearsal/interpreter.ts';
import { LOCAL_CLIENT_CONFIG } from '../../rehearsal/stand-ins/account.ts';
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

const BOB = 'arn:aws:sts::123456789012:assumed-role/ReleaseApprovers/bob';
/** Long enough for a decision sent at once, short enough to wait out in the timeout test. */
const CONFIRM_SECONDS = 4;

let db: TestDatabase;
let dir: { dir: string; cleanup(): Promise<void> };
const sts = mockClient(STSClient);
let runs = 0;

/**
 * Starts a rollback and, if it comes to wait for its confirmation, sends `decision` there as `lockstep approve` /
 * `reject` would (none: lets it wait). A run that ends before its confirmation is returned as it ended.
 */
async function rollbackDecidedBy(
  local: LocalRelease,
  input: unknown,
  decision: Decision | null,
  options: Parameters<LocalRelease['runRelease']>[1] = {},
): Promise<ReleaseRun & { readonly decided?: DecisionResult; readonly waited: boolean }> {
  const name = `rollback-${++runs}`;
  const executionArn = executionArnFor(local.definition, name);
  const waiting = local.tokens.nextWait();
  const running = local.runRelease(input, { ...options, executionName: name });
  const waited = await Promise.race([waiting.then(() => true), running.then(() => false)]);
  const decided =
    waited && decision
      ? await decideApproval(
          {
            sfn: local.tokens.client(),
            sts: new STSClient(LOCAL_CLIENT_CONFIG),
            dynamodb: local.dynamo.client,
            now: () => new Date('2026-11-22T10:15:00Z'),
          },
          { executionArn, lockTable: local.definition.lockTableName, decision },
        )
      : undefined;
  return { ...(await running), ...(decided ? { decided } : {}), waited };
}

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
  sts.on(GetCallerIdentityCommand).resolves({ Arn: BOB, Account: '123456789012' });
});
after(async () => {
  sts.restore();
  await dir.cleanup();
  await db.drop();
});

describe('rollback state machine: DB instance', () => {
  let local: LocalRelease;
  let fake: FakeRds;
  let target: string;
  const asidePattern = /^database-before-\d{14}$/;

  before(async () => {
    local = await createLocalRelease({
      databaseUrl: db.url,
      migrationsDir: dir.dir,
      machine: 'rollback',
      approvalTimeoutSeconds: CONFIRM_SECONDS,
    });
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

  test('restores the snapshot into a new instance, waits for a confirmation, switches identifiers, redeploys the target, records and notifies', async () => {
    let atConfirmation: unknown;
    const run = await rollbackDecidedBy(
      local,
      rollbackInput(target, true),
      { kind: 'approve' },
      {
        tasks: {
          [STATE.confirmSwitch]: async (input, invoke) => {
            // Nothing is switched while it waits: the original still holds the identifier.
            atConfirmation = holder(TARGET.dbIdentifier)?.DbiResourceId;
            return invoke(input);
          },
        },
      },
    );
    assert.equal(run.waited, true);
    const decided = await decideApproval(
      {
        sfn: local.tokens.client(),
        sts: new STSClient(LOCAL_CLIENT_CONFIG),
        dynamodb: local.dynamo.client,
        now: () => new Date(),
      },
      {
        executionArn: run.executionArn,
        lockTable: local.definition.lockTableName,
        decision: { kind: 'approve' },
      },
    ).catch((err: Error) => err.name);
    assert.equal(decided, 'ApprovalNotPendingError', 'the confirmation is closed once the rollback ends');

    assert.equal(run.status, 'SUCCEEDED', `${run.error}: ${run.cause}`);
    assert.equal(atConfirmation, RECORDED.instance.DbiResourceId);
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
        STATE.confirmSwitch,
        STATE.clearConfirmation,
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

    // The confirmation request, then the notice of the rollback.
    assert.equal(run.alerts.length, 2);
    const [request, done] = run.alerts;
    assert.equal(request?.subject, 'lockstep: rollback rollback-to-v1.3.0 awaits confirmation to switch');
    assert.ok(request?.message.includes(`lockstep approve ${run.executionArn} --lock-table`));
    assert.match(
      request?.message ?? '',
      /database-restored-\d{14} is available\.\n {2}Endpoint: database-restored-\d{14}\.c0ffee12\.eu-west-1\.rds\.amazonaws\.com:5432/,
    );
    assert.match(
      request?.message ?? '',
      /database is renamed to database-before-\d{14}: kept, with every change made since 2026-11-21T10:00:00Z/,
    );
    assert.equal(done?.subject, 'lockstep: rollback complete');
    assert.match(done?.message ?? '', /the original with the newer data is kept as database-before-\d{14}/);

    const record = await recordOf(local, run);
    assert.equal(record.outcome, 'SUCCEEDED');
    assert.equal(record.release, 'rollback-to-v1.3.0');
    assert.equal(run.decided?.decision, 'approved');
    assert.equal(run.decided?.waiting, 'rollback');
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

  test('rejected at the confirmation: nothing switched or deployed, the restored copy named and kept, the lock given back', async () => {
    const run = await rollbackDecidedBy(local, rollbackInput(target, true), {
      kind: 'reject',
      reason: 'the copy misses the refunds',
    });

    assert.equal(run.status, 'FAILED');
    assert.equal(run.error, 'ReleaseRejectedError');
    assert.equal(run.cause, `rejected by ${BOB} at 2026-11-22T10:15:00.000Z: the copy misses the refunds`);
    assert.equal(run.decided?.waiting, 'rollback');
    assert.ok(!run.states.includes(STATE.renameOriginal) && !run.states.includes(STATE.startDeploy));
    assert.equal(holder(TARGET.dbIdentifier)?.DbiResourceId, RECORDED.instance.DbiResourceId);
    const restoredId =
      (run.calls.find((c) => c.state === STATE.restore)?.output as { restored?: string })?.restored ?? '';
    assert.equal(holder(restoredId)?.DBInstanceStatus, 'available', 'the restored copy is kept');
    assert.equal(local.ecs.image, V140);
    assert.equal(await local.lockOwner(), undefined);
    const alert = run.alerts.find((a) => a.subject?.includes('failed'));
    assert.equal(alert?.subject, 'lockstep: rollback failed at confirm switch');
    assert.match(alert?.message ?? '', /Error: ReleaseRejectedError/);
    assert.match(alert?.message ?? '', /the copy misses the refunds/);
    assert.ok(
      alert?.message.includes(
        `Nothing was switched: database still holds the current data and serves the app; the copy restored from the snapshot, ${restoredId}, is kept`,
      ),
    );
    const record = await recordOf(local, run);
    assert.equal(record.outcome, 'FAILED');
    assert.equal(record.failure?.step, STATE.confirmSwitch);
  });

  test('no confirmation in time: it fails with States.Timeout saying so, nothing switched, the lock given back', async () => {
    const run = await rollbackDecidedBy(local, rollbackInput(target, true), null);

    assert.equal(run.waited, true);
    assert.equal(run.status, 'FAILED');
    assert.equal(run.error, 'States.Timeout');
    assert.match(
      run.cause ?? '',
      /No one approved or rejected the switch to the restored database within 1 hour \(the approval timeout\)/,
    );
    assert.ok(!run.states.includes(STATE.renameOriginal));
    assert.equal(holder(TARGET.dbIdentifier)?.DbiResourceId, RECORDED.instance.DbiResourceId);
    assert.equal(await local.lockOwner(), undefined);
    assert.equal(
      run.alerts.find((a) => a.subject?.includes('failed'))?.subject,
      'lockstep: rollback failed at confirm switch',
    );
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

    const run = await rollbackDecidedBy(local, rollbackInput(target, true), { kind: 'approve' });

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
      // One alert, after the confirmation request when the rollback came that far.
      const alerts = run.alerts.filter((a) => !a.subject?.endsWith('awaits confirmation to switch'));
      assert.equal(alerts.length, 1, JSON.stringify(run.alerts));
      assert.equal(alerts[0]?.subject, `lockstep: rollback failed at ${step.toLowerCase()}`);
      assert.equal(await local.lockOwner(), undefined);
      const record = await recordOf(local, run);
      assert.equal(record.outcome, 'FAILED');
      assert.equal(record.failure?.step, step);
      return alerts[0]?.message ?? '';
    }

    test('restore refused: a snapshot of another database; nothing created, the original still serves', async () => {
      fake.addSnapshot({ id: SNAPSHOT, source: 'billing-db', status: 'available' });
      const run = await rollbackDecidedBy(local, rollbackInput(target, true), { kind: 'approve' });
      const message = await failedRun(run, STATE.restore);
      assert.equal(run.error, 'RollbackRefusedError');
      assert.match(message, /taken of billing-db, not of database/);
      assert.match(message, /Nothing was switched: database still holds the current data and serves the app/);
      assert.equal(holder(TARGET.dbIdentifier)?.DbiResourceId, RECORDED.instance.DbiResourceId);
      assert.equal(local.ecs.image, V140);
    });

    test('the restore not available by its deadline: nothing switched, the restored copy named and kept', async () => {
      fake.restoreStatuses = ['creating'];
      const run = await rollbackDecidedBy(
        local,
        rollbackInput(target, true),
        { kind: 'approve' },
        pastDeadline(STATE.restore),
      );
      const message = await failedRun(run, STATE.restoreStatus);
      assert.equal(run.error, 'RestoreTimeoutError');
      assert.match(message, /the copy restored from the snapshot, database-restored-\d{14}, is kept/);
      assert.equal(holder(TARGET.dbIdentifier)?.DbiResourceId, RECORDED.instance.DbiResourceId);
    });

    test('the rename switch failing half-way: the alert names the instance holding the data and the command to rename it back', async () => {
      const run = await rollbackDecidedBy(
        local,
        rollbackInput(target, true),
        { kind: 'approve' },
        {
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
        },
      );
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
      const run = await rollbackDecidedBy(
        local,
        rollbackInput(target, true),
        { kind: 'approve' },
        pastDeadline(STATE.renameOriginal),
      );
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
      const run = await rollbackDecidedBy(local, rollbackInput(target, true), { kind: 'approve' });
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
      const run = await rollbackDecidedBy(local, rollbackInput(target, true), { kind: 'approve' });
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
    const run = await rollbackDecidedBy(local, rollbackInput(target, true), { kind: 'approve' });

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
