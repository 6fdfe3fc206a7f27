import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { type ApprovalDeps, requestApproval } from '../../../functions/approval/approval.ts';
import { readApprovalConfig } from '../../../functions/approval/config.ts';
import { formatDuration } from '../../../functions/approval/notification.ts';
import { ConfigError, InvalidInputError, ReleaseLockLostError } from '../../../functions/shared/errors.ts';
import { type LocalDynamo, startDynamo } from '../../support/dynalite.ts';

const SELF = 'arn:aws:states:eu-west-1:123456789012:execution:lockstep-shop:v1-4-2';
const OTHER = 'arn:aws:states:eu-west-1:123456789012:execution:lockstep-shop:v1-4-3';
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:alerts';
const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAdGhlLXRhc2stdG9rZW4tc2VjcmV0';
const now = new Date('2026-11-22T10:00:00Z');

const sqlEvent = (extra: Record<string, unknown> = {}) => ({
  taskToken: TOKEN,
  executionId: SELF,
  release: { release: 'v1.4.2', image: 'shop/api:v1.4.2', migrations: 'bundled' },
  database: 'shop-db',
  snapshotId: 'lockstep-shop-db-20261122095500-ab12',
  timeoutSeconds: 3600,
  plan: {
    mode: 'plan',
    pendingCount: 2,
    pending: { count: 2, first: ['0007_add_index.sql', '0008_backfill.sql'], last: [] },
    needsSnapshot: true,
    lint: { findings: 1, failing: 0, rules: { count: 1, first: ['create-index-blocking'], last: [] } },
  },
  ...extra,
});

describe('approval request', () => {
  const sns = mockClient(SNSClient);
  let dynamo: LocalDynamo;
  let table = '';
  let tables = 0;
  let deps: ApprovalDeps;

  before(async () => {
    dynamo = await startDynamo();
  });
  after(async () => {
    await dynamo.close();
  });

  const lockItem = async () =>
    (
      await dynamo.client.send(
        new GetItemCommand({ TableName: table, Key: { lockId: { S: 'shop-db' } }, ConsistentRead: true }),
      )
    ).Item;
  const holdLock = (owner: string) =>
    dynamo.client.send(
      new PutItemCommand({ TableName: table, Item: { lockId: { S: 'shop-db' }, owner: { S: owner } } }),
    );

  beforeEach(async () => {
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    table = await dynamo.createLockTable(`locks-${++tables}`);
    deps = {
      dynamodb: dynamo.client,
      sns: new SNSClient({ region: 'eu-west-1' }),
      log: { debug() {}, info() {}, warn() {}, error() {} },
      config: { lockTable: table, lockId: 'shop-db', topicArn: TOPIC },
      now: () => now,
    };
  });

  test('stores the task token on the lock item this execution holds, then notifies without the token', async () => {
    await holdLock(SELF);

    const out = await requestApproval(deps, sqlEvent());

    assert.deepEqual(out, {
      requestedAt: now.toISOString(),
      deadline: '2026-11-22T11:00:00.000Z',
      messageId: 'm-1',
    });
    const item = await lockItem();
    assert.equal(item?.owner?.S, SELF);
    assert.equal(item?.approvalToken?.S, TOKEN);
    assert.equal(item?.approvalDeadline?.S, '2026-11-22T11:00:00.000Z');
    const published = sns.commandCalls(PublishCommand);
    assert.equal(published.length, 1);
    const input = published[0]?.args[0].input;
    assert.equal(input?.TopicArn, TOPIC);
    assert.equal(input?.Subject, 'lockstep: release v1.4.2 awaits approval');
    const message = String(input?.Message);
    assert.ok(!message.includes(TOKEN), 'every subscriber reads the message: no token in it');
    assert.ok(!JSON.stringify(input).includes(TOKEN));
    assert.match(message, /Plan: 2 migration\(s\) pending:\n {2}0007_add_index\.sql\n {2}0008_backfill\.sql/);
    assert.match(message, /Lint: 1 finding\(s\).*create-index-blocking/);
    assert.match(message, /Snapshot: lockstep-shop-db-20261122095500-ab12/);
    assert.ok(message.includes(`lockstep approve ${SELF} --lock-table ${table}`));
    assert.ok(message.includes(`lockstep reject ${SELF} --lock-table ${table} --reason "<why>"`));
    assert.match(message, /No decision by 2026-11-22T11:00:00\.000Z \(1 hour from now\) fails the release/);
  });

  test('command mode names the command and the revision it runs in', async () => {
    await holdLock(SELF);
    const { plan: _, ...event } = sqlEvent({
      command: {
        command: 'python manage.py migrate',
        taskDefinitionArn: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/app:8',
      },
      snapshotId: 'none',
    });

    await requestApproval(deps, event);

    const message = String(sns.commandCalls(PublishCommand)[0]?.args[0].input.Message);
    assert.match(message, /Migration command: python manage\.py migrate\n {2}in task definition .*app:8/);
    assert.match(message, /Snapshot: none taken by this release/);
  });

  test('the rollback’s confirmation says what the switch does and what the live database loses; the item says it is a rollback’s', async () => {
    await holdLock(SELF);
    const { plan: _, ...event } = sqlEvent({
      release: { release: 'rollback-to-v1.3.0', image: 'shop/api:v1.3.0' },
      snapshotId: 'lockstep-shop-db-20261121100000-v140',
      timeoutSeconds: 5400,
      rollback: {
        to: {
          release: 'v1.3.0',
          recordKey: '2026-11-20T09:00:00.000Z#v1-3-0',
          image: 'shop/api:v1.3.0',
          taskDefinitionArn: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/app:7',
        },
        requestedBy: 'arn:aws:sts::123456789012:assumed-role/deployer/alice',
        reason: 'v1.4.0 corrupts orders',
        snapshotCreatedAt: '2026-11-21T10:00:00Z',
        kind: 'instance',
        database: 'shop-db',
        restored: 'shop-db-restored-20261122100000',
        aside: 'shop-db-before-20261122100000',
        endpoint: 'shop-db-restored-20261122100000.abc.eu-west-1.rds.amazonaws.com:5432',
      },
    });

    const out = await requestApproval(deps, event);

    assert.equal(out.deadline, '2026-11-22T11:30:00.000Z');
    const item = await lockItem();
    assert.equal(item?.approvalToken?.S, TOKEN);
    assert.equal(item?.approvalFor?.S, 'rollback');
    const input = sns.commandCalls(PublishCommand)[0]?.args[0].input;
    assert.equal(input?.Subject, 'lockstep: rollback rollback-to-v1.3.0 awaits confirmation to switch');
    const message = String(input?.Message);
    assert.match(
      message,
      /^Rollback rollback-to-v1\.3\.0 to release v1\.3\.0 is waiting for your confirmation before it switches DB instance shop-db\./,
    );
    assert.match(
      message,
      /Requested by arn:aws:sts::123456789012:assumed-role\/deployer\/alice: v1\.4\.0 corrupts orders/,
    );
    assert.match(
      message,
      /shop-db-restored-20261122100000 is available\.\n {2}Endpoint: shop-db-restored-20261122100000\.abc\.eu-west-1\.rds\.amazonaws\.com:5432/,
    );
    assert.match(
      message,
      /shop-db is renamed to shop-db-before-20261122100000: kept, with every change made since 2026-11-21T10:00:00Z/,
    );
    assert.match(message, /task definition arn:aws:ecs:eu-west-1:123456789012:task-definition\/app:7/);
    assert.ok(message.includes(`lockstep approve ${SELF} --lock-table ${table}`));
    assert.ok(message.includes(`lockstep reject ${SELF} --lock-table ${table} --reason "<why>"`));
    assert.match(
      message,
      /No decision by 2026-11-22T11:30:00\.000Z \(1 hour 30 minutes from now\) ends the rollback/,
    );
    assert.ok(!message.includes(TOKEN));
    assert.doesNotMatch(message, /migrates, then deploys/);
  });

  test('a release’s request marks the item as a release’s', async () => {
    await holdLock(SELF);
    await requestApproval(deps, sqlEvent());
    assert.equal((await lockItem())?.approvalFor?.S, 'release');
  });

  test('a lock another release holds now is not written to, and nothing is published', async () => {
    await holdLock(OTHER);

    await assert.rejects(requestApproval(deps, sqlEvent()), (err: unknown) => {
      assert.ok(err instanceof ReleaseLockLostError);
      assert.equal(err.name, 'ReleaseLockLostError');
      return true;
    });

    assert.equal((await lockItem())?.approvalToken, undefined);
    assert.equal(sns.commandCalls(PublishCommand).length, 0);
  });

  test('an event without a token is refused before anything is written', async () => {
    await holdLock(SELF);
    const { taskToken: _, ...event } = sqlEvent();

    await assert.rejects(requestApproval(deps, event), (err: unknown) => {
      assert.ok(err instanceof InvalidInputError);
      assert.match(err.message, /taskToken/);
      return true;
    });
    assert.equal((await lockItem())?.approvalToken, undefined);
    assert.equal(sns.commandCalls(PublishCommand).length, 0);
  });

  test('a failed publish fails the request (the state machine alerts), after the token was stored', async () => {
    await holdLock(SELF);
    sns
      .on(PublishCommand)
      .rejects(Object.assign(new Error('denied'), { name: 'AuthorizationErrorException' }));

    await assert.rejects(requestApproval(deps, sqlEvent()), { name: 'AuthorizationErrorException' });
  });
});

describe('approval config', () => {
  const env = {
    LOCK_TABLE: 'Locks',
    DB_IDENTIFIER: 'shop-db',
    ALERT_TOPIC_ARN: TOPIC,
  };

  test('reads the lock table, the lock key and the topic (each gate sends its own timeout)', () => {
    assert.deepEqual(readApprovalConfig(env), {
      lockTable: 'Locks',
      lockId: 'shop-db',
      topicArn: TOPIC,
    });
  });

  test('a topic that is not an SNS ARN is a ConfigError naming the variable', () => {
    assert.throws(
      () => readApprovalConfig({ ...env, ALERT_TOPIC_ARN: 'alerts' }),
      (err: unknown) => err instanceof ConfigError && err.variable === 'ALERT_TOPIC_ARN',
    );
  });
});

test('durations read as a person says them', () => {
  assert.equal(formatDuration(3600), '1 hour');
  assert.equal(formatDuration(5400), '1 hour 30 minutes');
  assert.equal(formatDuration(90), '1 minute 30 seconds');
  assert.equal(formatDuration(7200), '2 hours');
});
