import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, ExecutionDoesNotExist, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { prepareManifest } from '../../../engine/prepare.ts';
import { type PreflightDeps, preflight } from '../../../functions/preflight/preflight.ts';
import { releaseReleaseLock } from '../../../functions/preflight/release-lock.ts';
import {
  InvalidInputError,
  MigrationsNotFoundError,
  ReleaseInProgressError,
  RollbackRefusedError,
} from '../../../functions/shared/errors.ts';
import { publishMigrations } from '../../../functions/shared/migrations-s3.ts';
import { type LocalDynamo, startDynamo } from '../../support/dynalite.ts';
import { fakeS3 } from '../../support/fake-s3.ts';

const STATE_MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:lockstep-shop';
const SELF = 'arn:aws:states:eu-west-1:123456789012:execution:lockstep-shop:v1-4-2';
const IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api:v1.4.2';
const started = new Date('2026-11-22T10:00:00Z');

const event = (input: unknown) => ({
  input,
  execution: { id: SELF, startTime: started.toISOString(), stateMachineArn: STATE_MACHINE },
});

describe('preflight', () => {
  const sfn = mockClient(SFNClient);
  let s3: ReturnType<typeof fakeS3>;
  let deps: PreflightDeps;
  const logs: string[] = [];
  let dynamo: LocalDynamo;
  let tables = 0;
  let table = '';

  before(async () => {
    dynamo = await startDynamo();
  });
  after(async () => {
    await dynamo.close();
  });

  /** Who holds the lock now, read from DynamoDB. */
  const lockOwner = async () =>
    (
      await dynamo.client.send(
        new GetItemCommand({ TableName: table, Key: { lockId: { S: 'shop-db' } }, ConsistentRead: true }),
      )
    ).Item?.owner?.S;

  beforeEach(async () => {
    sfn.reset();
    s3?.mock.restore();
    s3 = fakeS3();
    // Every execution the tests name is running unless a test says otherwise.
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
    table = await dynamo.createLockTable(`locks-${++tables}`);
    deps = {
      sfn: new SFNClient({ region: 'eu-west-1' }),
      s3: s3.client,
      log: { debug() {}, info: (m) => logs.push(m), warn() {}, error() {} },
      config: {
        defaultMigrations: 'bundled',
        s3: { bucket: 'shop-releases', prefix: 'migrations' },
        database: 'shop-db',
      },
      lock: { dynamodb: dynamo.client, config: { table, lockId: 'shop-db', ttlSeconds: 6 * 3600 } },
      now: () => started,
    };
  });

  test('normalizes the input and takes the database’s release lock for this execution', async () => {
    const out = await preflight(deps, event({ image: IMAGE }));
    assert.deepEqual(out, {
      release: {
        release: 'v1.4.2',
        image: IMAGE,
        migrations: 'bundled',
        options: { skipSnapshot: false, dryRun: false },
      },
      executionId: SELF,
      database: 'shop-db',
    });
    assert.equal(await lockOwner(), SELF);
  });

  test('another release running against the database stops this one, naming it; the lock stays its', async () => {
    const other = 'arn:aws:states:eu-west-1:123456789012:execution:lockstep-shop:v1-4-1';
    await preflight(deps, { ...event({ image: IMAGE }), execution: { ...event({}).execution, id: other } });
    await assert.rejects(preflight(deps, event({ image: IMAGE })), (err: unknown) => {
      assert.ok(err instanceof ReleaseInProgressError);
      assert.equal(err.name, 'ReleaseInProgressError');
      assert.equal(err.otherExecutionArn, other);
      assert.match(err.message, /v1-4-1 \(started 2026-11-22T10:00:00\.000Z\)/);
      return true;
    });
    assert.equal(await lockOwner(), other);
  });

  test('two preflights racing for the lock: exactly one wins, against a real DynamoDB', async () => {
    const owners = Array.from({ length: 8 }, (_, i) => `${SELF}-${i}`);
    const results = await Promise.allSettled(
      owners.map((id) =>
        preflight(deps, { ...event({ image: IMAGE }), execution: { ...event({}).execution, id } }),
      ),
    );
    const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [owners[i]] : []));
    assert.equal(won.length, 1, 'one winner');
    assert.equal(await lockOwner(), won[0]);
    for (const r of results) {
      if (r.status === 'rejected') assert.ok(r.reason instanceof ReleaseInProgressError, String(r.reason));
    }
  });

  test('a retried preflight of the lock’s owner goes on', async () => {
    await preflight(deps, event({ image: IMAGE }));
    await preflight(deps, event({ image: IMAGE }));
    assert.equal(await lockOwner(), SELF);
  });

  for (const status of ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'] as const) {
    test(`a lock whose owner execution ended ${status} is taken over`, async () => {
      const stale = 'arn:aws:states:eu-west-1:123456789012:execution:lockstep-shop:crashed';
      await preflight(deps, { ...event({ image: IMAGE }), execution: { ...event({}).execution, id: stale } });
      sfn.on(DescribeExecutionCommand, { executionArn: stale }).resolves({ status });

      await preflight(deps, event({ image: IMAGE }));

      assert.equal(await lockOwner(), SELF);
    });
  }

  test('a lock whose owner Step Functions no longer knows is taken over', async () => {
    const stale = 'arn:aws:states:eu-west-1:123456789012:execution:lockstep-shop:forgotten';
    await preflight(deps, { ...event({ image: IMAGE }), execution: { ...event({}).execution, id: stale } });
    sfn
      .on(DescribeExecutionCommand, { executionArn: stale })
      .rejects(new ExecutionDoesNotExist({ message: 'gone', $metadata: {} }));
    await preflight(deps, event({ image: IMAGE }));
    assert.equal(await lockOwner(), SELF);
  });

  test('an expired lock is taken without asking Step Functions', async () => {
    const stale = 'arn:aws:states:eu-west-1:123456789012:execution:lockstep-shop:ancient';
    const old = { ...deps, now: () => new Date(started.getTime() - 7 * 3600_000) };
    await preflight(old, { ...event({ image: IMAGE }), execution: { ...event({}).execution, id: stale } });
    await preflight(deps, event({ image: IMAGE }));
    assert.equal(await lockOwner(), SELF);
    assert.equal(sfn.commandCalls(DescribeExecutionCommand).length, 0);
  });

  test('migrations not published: the lock is given back', async () => {
    await assert.rejects(preflight(deps, event({ image: IMAGE, migrations: 's3' })), MigrationsNotFoundError);
    assert.equal(await lockOwner(), undefined);
  });

  test('the lock is given back only by its owner', async () => {
    await preflight(deps, event({ image: IMAGE }));
    const lock = deps.lock as NonNullable<PreflightDeps['lock']>;
    await releaseReleaseLock(lock, lock.config, `${SELF}-someone-else`);
    assert.equal(await lockOwner(), SELF);
    await releaseReleaseLock(lock, lock.config, SELF);
    assert.equal(await lockOwner(), undefined);
  });

  test('S3 migrations must have been published for this release', async () => {
    await assert.rejects(preflight(deps, event({ image: IMAGE, migrations: 's3' })), (err: unknown) => {
      assert.ok(err instanceof MigrationsNotFoundError);
      assert.match(err.message, /s3:\/\/shop-releases\/migrations\/v1\.4\.2\//);
      return true;
    });
    const files = [['0001_a.sql', Buffer.from('SELECT 1;')]] as const;
    const manifest = await prepareManifest(files, { release: 'v1.4.2', createdAt: started });
    await publishMigrations(s3.client, { bucket: 'shop-releases', prefix: 'migrations' }, files, manifest);
    const out = await preflight(deps, event({ image: IMAGE, migrations: 's3' }));
    assert.equal(out.release.migrations, 's3');
  });

  test('in command mode the release reports migrations "command" and looks for no migration files', async () => {
    deps = { ...deps, config: { ...deps.config, defaultMigrations: 'command', s3: undefined } };

    const out = await preflight(deps, event({ image: IMAGE }));

    assert.equal(out.release.migrations, 'command');
    assert.equal(s3.mock.commandCalls(HeadObjectCommand).length, 0);
    assert.equal(await lockOwner(), SELF);
  });

  for (const asked of ['bundled', 's3'] as const) {
    test(`in command mode a release asking for ${asked} migrations is refused naming migrations, lock untaken`, async () => {
      deps = { ...deps, config: { ...deps.config, defaultMigrations: 'command', s3: undefined } };

      const attempt = preflight(deps, event({ image: IMAGE, migrations: asked }));

      await assert.rejects(attempt, (err: unknown) => {
        assert.ok(err instanceof InvalidInputError, String(err));
        assert.equal(err.field, 'migrations');
        assert.match(err.message, /command mode/);
        return true;
      });
      assert.equal(await lockOwner(), undefined);
      assert.equal(sfn.calls().length, 0);
    });
  }

  const malformed: Array<[string, unknown, string]> = [
    ['no input at all', undefined, 'input'],
    ['an image without a tag', { image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api' }, 'image'],
    ['a misspelled option', { image: IMAGE, options: { skipSnapshots: true } }, 'options'],
    ['a release label with spaces', { image: IMAGE, release: 'v 1' }, 'release'],
    ['s3 migrations on a stack without a bucket', { image: IMAGE, migrations: 's3' }, 'migrations'],
  ];
  for (const [what, input, field] of malformed) {
    test(`rejects ${what} naming ${field}, before any AWS call`, async () => {
      if (field === 'migrations') deps = { ...deps, config: { ...deps.config, s3: undefined } };
      await assert.rejects(preflight(deps, event(input)), (err: unknown) => {
        assert.ok(err instanceof InvalidInputError, String(err));
        assert.equal(err.field, field);
        return true;
      });
      assert.equal(sfn.calls().length, 0);
      assert.equal(s3.mock.commandCalls(HeadObjectCommand).length, 0);
    });
  }

  test('an event without the execution context is rejected naming the field', async () => {
    await assert.rejects(preflight(deps, { input: { image: IMAGE } }), (err: unknown) => {
      assert.ok(err instanceof InvalidInputError);
      assert.equal(err.field, 'execution');
      return true;
    });
  });

  describe('the rollback state machine’s preflight', () => {
    const ROLLBACK =
      'arn:aws:states:eu-west-1:123456789012:execution:lockstep-shop-rollback:rollback-to-v1-3-0';
    const rollbackInput = (extra: Record<string, unknown> = {}) => ({
      rollback: 'rollback-to-v1.3.0',
      to: {
        release: 'v1.3.0',
        recordKey: '2026-11-20T09:00:00.000Z#v1-3-0',
        image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api:v1.3.0',
        taskDefinitionArn: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-api:41',
      },
      restore: {
        snapshotId: 'lockstep-shop-db-20261121100000-v1-4-0',
        snapshotCreatedAt: '2026-11-21T10:00:00Z',
      },
      requestedBy: 'arn:aws:sts::123456789012:assumed-role/deployer/alice',
      reason: 'v1.4.0 corrupts orders',
      ...extra,
    });
    const rollbackEvent = (input: unknown) => ({
      flow: 'rollback',
      input,
      execution: { id: ROLLBACK, startTime: started.toISOString(), stateMachineArn: STATE_MACHINE },
    });

    test('validates the input, takes the lock and gives the deploy steps the target’s image under the rollback’s label', async () => {
      const out = await preflight(deps, rollbackEvent(rollbackInput()));
      assert.deepEqual(out.release, {
        release: 'rollback-to-v1.3.0',
        image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api:v1.3.0',
        migrations: 'bundled',
        options: { skipSnapshot: true, dryRun: false },
      });
      assert.equal(out.database, 'shop-db');
      assert.equal((out as { rollback?: { to: { release: string } } }).rollback?.to.release, 'v1.3.0');
      assert.equal(await lockOwner(), ROLLBACK);
    });

    test('a release holding the lock refuses the rollback at once, naming the release', async () => {
      await preflight(deps, event({ image: IMAGE }));
      await assert.rejects(
        preflight(deps, rollbackEvent(rollbackInput({ restore: null }))),
        (err: unknown) => {
          assert.ok(err instanceof RollbackRefusedError, String(err));
          assert.match(err.message, /holds the release lock of shop-db: .*:v1-4-2/);
          assert.match(err.message, /aws stepfunctions stop-execution --execution-arn arn:.*:v1-4-2/);
          return true;
        },
      );
      assert.equal(await lockOwner(), SELF);
    });

    const bad: Array<[string, Record<string, unknown>, string]> = [
      [
        'a task definition that is not an ARN',
        { to: { ...rollbackInput().to, taskDefinitionArn: 'shop-api:41' } },
        'to.taskDefinitionArn',
      ],
      [
        'a restore without its snapshot',
        { restore: { snapshotCreatedAt: '2026-11-21T10:00:00Z' } },
        'restore.snapshotId',
      ],
      ['no caller', { requestedBy: '' }, 'requestedBy'],
      ['an unknown field', { force: true }, 'input'],
    ];
    for (const [what, extra, field] of bad) {
      test(`rejects ${what} naming ${field}, before taking the lock`, async () => {
        await assert.rejects(preflight(deps, rollbackEvent(rollbackInput(extra))), (err: unknown) => {
          assert.ok(err instanceof InvalidInputError, String(err));
          assert.equal(err.field, field);
          return true;
        });
        assert.equal(await lockOwner(), undefined);
      });
    }
  });
});
