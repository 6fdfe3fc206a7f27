import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import {
  CreateDBInstanceCommand,
  InvalidDBInstanceStateFault,
  ModifyDBInstanceCommand,
  RDSClient,
  RestoreDBClusterFromSnapshotCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import type { RestoreConfig } from '../../../functions/restore/config.ts';
import { renameCommand, rollbackNames } from '../../../functions/restore/names.ts';
import {
  parseRestoreEvent,
  type RestoreDeps,
  type RestoreState,
  renameOriginal,
  renameRestored,
  renameStatus,
  restoreSnapshot,
  restoreStatus,
} from '../../../functions/restore/restore.ts';
import {
  DatabaseNotReadyError,
  InvalidInputError,
  RenameTimeoutError,
  RestoreFailedError,
  RestoreTimeoutError,
  RollbackRefusedError,
  SwitchConflictError,
} from '../../../functions/shared/errors.ts';
import { FakeRds, RECORDED } from '../../support/fake-rds.ts';

const EXECUTION = 'arn:aws:states:eu-west-1:123456789012:execution:lockstep-rollback:rollback-to-v1-3-0';
const START = '2026-11-22T10:00:00.000Z';
const SNAPSHOT = 'lockstep-shop-db-20261121100000-v140';

describe('restore function', () => {
  const mock = mockClient(RDSClient);
  let fake: FakeRds;
  let now: Date;
  const config = (kind: 'instance' | 'cluster'): RestoreConfig => ({
    dbKind: kind,
    dbIdentifier: kind === 'instance' ? 'shop-db' : 'shop-aurora',
    restoreTimeoutSeconds: 3600,
    renameTimeoutSeconds: 600,
  });
  const deps = (kind: 'instance' | 'cluster' = 'instance'): RestoreDeps => ({
    rds: new RDSClient({ region: 'eu-west-1' }),
    log: { debug() {}, info() {}, warn() {}, error() {} },
    now: () => now,
    config: config(kind),
  });
  const restoreEvent = {
    action: 'restore',
    executionId: EXECUTION,
    startTime: START,
    rollback: 'rollback-to-v1.3.0',
    snapshotId: SNAPSHOT,
  } as const;

  beforeEach(() => {
    mock.reset();
    fake = new FakeRds();
    fake.addInstance(RECORDED.instance);
    fake.addSnapshot({ id: SNAPSHOT, source: 'shop-db', status: 'available' });
    fake.install(mock);
    now = new Date(START);
  });

  /** Runs status until available, as the state machine's loop does. */
  async function untilAvailable(d: RestoreDeps, state: RestoreState): Promise<number> {
    for (let looks = 1; looks < 20; looks++)
      if ((await restoreStatus(d, state, EXECUTION)).available) return looks;
    throw new Error('never available');
  }

  describe('names', () => {
    test('restored and aside names carry the execution’s start time and the database’s identifier', () => {
      assert.deepEqual(rollbackNames('shop-db', START, 'instance'), {
        database: 'shop-db',
        restored: 'shop-db-restored-20261122100000',
        aside: 'shop-db-before-20261122100000',
      });
      assert.equal(
        renameCommand('cluster', 'a-before-1', 'a'),
        'aws rds modify-db-cluster --db-cluster-identifier a-before-1 --new-db-cluster-identifier a --apply-immediately',
      );
    });

    test('an identifier too long for the names is refused before any call', async () => {
      const long = `db-${'x'.repeat(40)}`;
      assert.throws(() => rollbackNames(long, START, 'instance'), RollbackRefusedError);
      await assert.rejects(
        restoreSnapshot({ ...deps(), config: { ...config('instance'), dbIdentifier: long } }, restoreEvent),
        RollbackRefusedError,
      );
      assert.equal(mock.calls().length, 0);
    });
  });

  describe('instance', () => {
    test('restores into a new instance with the original’s configuration, then reports it available', async () => {
      const state = await restoreSnapshot(deps(), restoreEvent);
      assert.equal(state.restored, 'shop-db-restored-20261122100000');
      assert.equal(state.originalResourceId, RECORDED.instance.DbiResourceId);
      assert.match(
        state.renameBack,
        /--db-instance-identifier shop-db-before-20261122100000 --new-db-instance-identifier shop-db /,
      );
      const [call] = mock.commandCalls(RestoreDBInstanceFromDBSnapshotCommand);
      const input = call?.args[0].input;
      assert.deepEqual(
        { ...input, Tags: undefined },
        {
          DBInstanceIdentifier: 'shop-db-restored-20261122100000',
          DBSnapshotIdentifier: SNAPSHOT,
          DBInstanceClass: 'db.r6g.large',
          Port: 5432,
          MultiAZ: true,
          DBSubnetGroupName: 'shop-db-subnets',
          VpcSecurityGroupIds: ['sg-0a1b2c3d4e5f60718', 'sg-0f9e8d7c6b5a40312'],
          PubliclyAccessible: false,
          AutoMinorVersionUpgrade: true,
          DBParameterGroupName: 'shop-postgres17',
          OptionGroupName: 'default:postgres-17',
          StorageType: 'gp3',
          AllocatedStorage: 500,
          Iops: 12000,
          StorageThroughput: 500,
          EnableIAMDatabaseAuthentication: true,
          DeletionProtection: true,
          CopyTagsToSnapshot: true,
          EnableCloudwatchLogsExports: ['postgresql'],
          CACertificateIdentifier: 'rds-ca-rsa2048-g1',
          Tags: undefined,
        },
      );
      // The original's own tags, not AWS's nor an earlier rollback's; then this rollback's.
      assert.deepEqual(input?.Tags, [
        { Key: 'team', Value: 'shop' },
        { Key: 'lockstep:rollback', Value: 'rollback-to-v1.3.0' },
        { Key: 'lockstep:execution', Value: EXECUTION },
        { Key: 'lockstep:restored-from', Value: SNAPSHOT },
      ]);
      assert.equal(await untilAvailable(deps(), state), 2);
    });

    test('a retried restore adopts the instance this execution started instead of restoring twice', async () => {
      const first = await restoreSnapshot(deps(), restoreEvent);
      now = new Date(Date.parse(START) + 60_000);
      const again = await restoreSnapshot(deps(), restoreEvent);
      assert.equal(mock.commandCalls(RestoreDBInstanceFromDBSnapshotCommand).length, 1);
      assert.equal(again.restoredResourceId, first.restoredResourceId);
      assert.notEqual(again.waitUntil, first.waitUntil);
    });

    const refusals: Array<[string, () => void, RegExp]> = [
      [
        'a snapshot of another database',
        () => fake.addSnapshot({ id: SNAPSHOT, source: 'billing-db', status: 'available' }),
        /taken of billing-db, not of shop-db/,
      ],
      [
        'a snapshot not yet available',
        () => fake.addSnapshot({ id: SNAPSHOT, source: 'shop-db', status: 'creating' }),
        /"creating", not available/,
      ],
      [
        'a restored name taken by something else',
        () =>
          fake.addInstance({
            ...RECORDED.instance,
            DBInstanceIdentifier: 'shop-db-restored-20261122100000',
            DbiResourceId: 'db-OTHER',
            TagList: [],
          }),
        /exists and was not created by this rollback/,
      ],
    ];
    for (const [what, arrange, message] of refusals) {
      test(`refuses ${what} before restoring anything`, async () => {
        arrange();
        await assert.rejects(restoreSnapshot(deps(), restoreEvent), (err: unknown) => {
          assert.ok(err instanceof RollbackRefusedError, String(err));
          assert.match(err.message, message);
          assert.match(err.message, /Nothing was changed: shop-db still serves the app/);
          return true;
        });
        assert.equal(mock.commandCalls(RestoreDBInstanceFromDBSnapshotCommand).length, 0);
      });
    }

    test('a restore that fails its status, or stays unavailable past the deadline, is reported as such', async () => {
      fake.restoreStatuses = ['creating', 'incompatible-parameters'];
      const failed = await restoreSnapshot(deps(), restoreEvent);
      await assert.rejects(untilAvailable(deps(), failed), RestoreFailedError);

      fake.restoreStatuses = ['creating'];
      const stuck = await restoreSnapshot(deps(), { ...restoreEvent, startTime: '2026-11-22T11:00:00Z' });
      assert.equal((await restoreStatus(deps(), stuck, EXECUTION)).available, false);
      now = new Date(Date.parse(stuck.waitUntil) + 1);
      await assert.rejects(restoreStatus(deps(), stuck, EXECUTION), RestoreTimeoutError);
    });

    test('the switch renames the original aside, then the restored one into its identifier, each once', async () => {
      const state = await restoreSnapshot(deps(), restoreEvent);
      await untilAvailable(deps(), state);
      // Visible on the third look: the retry below looks once, the first status once more.
      fake.renameLooks = 3;
      const aside = await renameOriginal(deps(), state);
      // A retry while the rename is under way does not rename again.
      await renameOriginal(deps(), state);
      assert.equal(mock.commandCalls(ModifyDBInstanceCommand).length, 1);
      assert.equal((await renameStatus(deps(), state, aside)).done, false);
      assert.equal((await renameStatus(deps(), state, aside)).done, true);
      // Done: a retry finds the original aside and changes nothing.
      await renameOriginal(deps(), state);
      assert.equal(mock.commandCalls(ModifyDBInstanceCommand).length, 1);

      const back = await renameRestored(deps(), state);
      await renameRestored(deps(), state);
      while (!(await renameStatus(deps(), state, back)).done);
      await renameRestored(deps(), state);
      await renameOriginal(deps(), state);
      assert.deepEqual(
        mock
          .commandCalls(ModifyDBInstanceCommand)
          .map((c) => [
            c.args[0].input.DBInstanceIdentifier,
            c.args[0].input.NewDBInstanceIdentifier,
            c.args[0].input.ApplyImmediately,
          ]),
        [
          ['shop-db', 'shop-db-before-20261122100000', true],
          ['shop-db-restored-20261122100000', 'shop-db', true],
        ],
      );
      assert.equal(
        (fake.peek('shop-db') as { DbiResourceId?: string }).DbiResourceId,
        state.restoredResourceId,
      );
      assert.equal(
        (fake.peek('shop-db-before-20261122100000') as { DbiResourceId?: string }).DbiResourceId,
        state.originalResourceId,
      );
    });

    test('the restored one does not take the identifier while the original still holds it', async () => {
      const state = await restoreSnapshot(deps(), restoreEvent);
      await untilAvailable(deps(), state);
      await assert.rejects(renameRestored(deps(), state), (err: unknown) => {
        assert.ok(err instanceof SwitchConflictError);
        assert.match(err.message, /shop-db is still held by the original/);
        return true;
      });
      assert.equal(mock.commandCalls(ModifyDBInstanceCommand).length, 0);
    });

    test('a database busy with something else is retried; a rename not visible by its deadline times out', async () => {
      const state = await restoreSnapshot(deps(), restoreEvent);
      fake.failNext(
        'ModifyDBInstanceCommand',
        new InvalidDBInstanceStateFault({ message: 'busy', $metadata: {} }),
      );
      await assert.rejects(renameOriginal(deps(), state), DatabaseNotReadyError);
      fake.renameLooks = 5;
      const aside = await renameOriginal(deps(), state);
      now = new Date(Date.parse(aside.waitUntil) + 1);
      await assert.rejects(renameStatus(deps(), state, aside), (err: unknown) => {
        assert.ok(err instanceof RenameTimeoutError);
        assert.equal(err.to, 'shop-db-before-20261122100000');
        return true;
      });
    });
  });

  describe('Aurora cluster', () => {
    beforeEach(() => {
      fake.addCluster(RECORDED.cluster);
      for (const member of RECORDED.members) fake.addInstance(member);
      fake.addSnapshot({ id: SNAPSHOT, source: 'shop-aurora', status: 'available' }, 'cluster');
    });

    test('restores the cluster, then creates its members as the original’s, the writer first, once it is available', async () => {
      const state = await restoreSnapshot(deps('cluster'), restoreEvent);
      assert.deepEqual(state.members, [
        { identifier: 'shop-aurora-restored-20261122100000-1', source: 'shop-aurora-writer' },
        { identifier: 'shop-aurora-restored-20261122100000-2', source: 'shop-aurora-reader' },
      ]);
      const input = mock.commandCalls(RestoreDBClusterFromSnapshotCommand)[0]?.args[0].input;
      assert.equal(input?.Engine, 'aurora-postgresql');
      assert.equal(input?.DBClusterParameterGroupName, 'shop-aurora-pg16');
      assert.equal(input?.DBSubnetGroupName, 'shop-aurora-subnets');
      assert.equal(input?.KmsKeyId, RECORDED.cluster.KmsKeyId);
      assert.equal(input?.EnableIAMDatabaseAuthentication, true);
      assert.deepEqual(input?.ServerlessV2ScalingConfiguration, { MinCapacity: 0.5, MaxCapacity: 16 });
      assert.equal(input?.StorageType, 'aurora-iopt1');
      // Nothing is created before the cluster is available.
      assert.equal((await restoreStatus(deps('cluster'), state, EXECUTION)).available, false);
      assert.equal(mock.commandCalls(CreateDBInstanceCommand).length, 0);
      const looks = await untilAvailable(deps('cluster'), state);
      assert.ok(looks >= 3, `available after ${looks} more looks`);
      assert.deepEqual(
        mock.commandCalls(CreateDBInstanceCommand).map((c) => {
          const i = c.args[0].input;
          return [
            i.DBInstanceIdentifier,
            i.DBClusterIdentifier,
            i.DBInstanceClass,
            i.DBParameterGroupName,
            i.PromotionTier,
          ];
        }),
        [
          [
            'shop-aurora-restored-20261122100000-1',
            'shop-aurora-restored-20261122100000',
            'db.r6g.xlarge',
            'shop-aurora-instance-pg16',
            0,
          ],
          [
            'shop-aurora-restored-20261122100000-2',
            'shop-aurora-restored-20261122100000',
            'db.serverless',
            'shop-aurora-instance-pg16',
            1,
          ],
        ],
      );
    });
  });

  test('an event with an unknown action or a bad state is rejected naming the field', () => {
    assert.throws(
      () => parseRestoreEvent({ action: 'delete', executionId: EXECUTION }),
      (err: unknown) => err instanceof InvalidInputError && err.field === 'action',
    );
    assert.throws(
      () =>
        parseRestoreEvent({ action: 'restoreStatus', executionId: EXECUTION, restore: { kind: 'instance' } }),
      (err: unknown) => err instanceof InvalidInputError && err.field.startsWith('restore.'),
    );
  });
});
