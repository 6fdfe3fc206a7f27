/**
 * The rehearsal's stand-ins. The DynamoDB one is checked against dynalite, a real DynamoDB implementation: the
 * same sequence of release-lock calls gives the same outcome on both. The ECS and RDS ones are checked for the
 * behaviour the deploy and snapshot functions depend on.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ResourceNotFoundException,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, ExecutionDoesNotExist, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { interpretMigrationTask } from '../../functions/migration-task/interpret-task.ts';
import { migrationTaskHandler } from '../../functions/migration-task/setup.ts';
import { acquireReleaseLock, releaseReleaseLock } from '../../functions/preflight/release-lock.ts';
import { MigrationTaskTimeoutError, ReleaseInProgressError } from '../../functions/shared/errors.ts';
import { LOCAL_ACCOUNT, LOCAL_CLIENT_CONFIG } from '../../rehearsal/stand-ins/account.ts';
import { LocalDynamoTable } from '../../rehearsal/stand-ins/dynamodb.ts';
import { LocalEcsService } from '../../rehearsal/stand-ins/ecs.ts';
import { TASK_ERRORS, TASK_SHAPES } from '../../rehearsal/stand-ins/ecs-task-shapes.ts';
import { LocalExecutions } from '../../rehearsal/stand-ins/executions.ts';
import { LocalLogs } from '../../rehearsal/stand-ins/logs.ts';
import { LocalRds, MemorySnapshots } from '../../rehearsal/stand-ins/rds.ts';
import { type LocalDynamo, startDynamo } from '../support/dynalite.ts';

const TABLE = 'ReleaseLocks';
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const A = 'arn:aws:states:eu-west-1:123456789012:execution:release:a';
const B = 'arn:aws:states:eu-west-1:123456789012:execution:release:b';

/** A script of lock calls and raw conditional writes; each step's outcome (ok, or the error's name). */
async function script(dynamodb: DynamoDBClient, running: ReadonlySet<string>): Promise<string[]> {
  const sfn = mockClient(SFNClient);
  sfn.on(DescribeExecutionCommand).callsFake(({ executionArn }) => {
    if (running.has(executionArn)) return { status: 'RUNNING' };
    throw new ExecutionDoesNotExist({ message: 'gone', $metadata: {} });
  });
  let clock = 1_000_000;
  const deps = {
    dynamodb,
    sfn: new SFNClient(LOCAL_CLIENT_CONFIG),
    log: silent,
    now: () => new Date(clock * 1000),
  };
  const config = { table: TABLE, lockId: 'app', ttlSeconds: 60 };
  const outcomes: string[] = [];
  const step = async (work: () => Promise<unknown>) => {
    try {
      await work();
      outcomes.push('ok');
    } catch (err) {
      outcomes.push((err as Error).name);
    }
  };
  const owner = async () => {
    const out = await dynamodb.send(
      new GetItemCommand({ TableName: TABLE, Key: { lockId: { S: 'app' } }, ConsistentRead: true }),
    );
    outcomes.push(out.Item?.owner?.S ?? 'free');
  };
  try {
    await step(() => acquireReleaseLock(deps, config, A));
    await owner();
    await step(() => acquireReleaseLock(deps, config, B)); // A runs: B waits
    await step(() => acquireReleaseLock(deps, config, A)); // a retried preflight of the owner
    await step(() => releaseReleaseLock(deps, config, B)); // not B's to give back
    await owner();
    clock += 61; // A's lock expires
    await step(() => acquireReleaseLock(deps, config, B));
    await owner();
    await step(() => releaseReleaseLock(deps, config, B));
    await owner();
    // The state machine's unlock state: a conditional delete, failing when the owner differs.
    await step(() => acquireReleaseLock(deps, config, A));
    await step(() =>
      dynamodb.send(
        new DeleteItemCommand({
          TableName: TABLE,
          Key: { lockId: { S: 'app' } },
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': { S: B } },
        }),
      ),
    );
    await owner();
    await step(() =>
      dynamodb.send(
        new PutItemCommand({
          TableName: TABLE,
          Item: { lockId: { S: 'app' }, owner: { S: B }, expiresAt: { N: '5' } },
          ConditionExpression: 'attribute_exists(lockId) AND expiresAt > :n',
          ExpressionAttributeValues: { ':n': { N: '10' } },
        }),
      ),
    );
    // Now expiresAt is 5: the same condition fails, and so does one about an attribute the item lacks.
    for (const condition of [
      'attribute_exists(lockId) AND expiresAt > :n',
      'acquiredAt < :n OR expiresAt > :n',
    ])
      await step(() =>
        dynamodb.send(
          new PutItemCommand({
            TableName: TABLE,
            Item: { lockId: { S: 'app' } },
            ConditionExpression: condition,
            ExpressionAttributeValues: { ':n': { N: '10' } },
          }),
        ),
      );
    await step(() =>
      dynamodb.send(new GetItemCommand({ TableName: 'NoSuchTable', Key: { lockId: { S: 'x' } } })),
    );
  } finally {
    sfn.restore();
  }
  return outcomes;
}

describe('the local DynamoDB agrees with dynalite on the release lock’s calls', () => {
  let dynamo: LocalDynamo;
  before(async () => {
    dynamo = await startDynamo();
    await dynamo.createLockTable(TABLE);
  });
  after(async () => dynamo?.close());

  test('the same outcomes, step by step', async () => {
    const running = new Set([A]);
    const real = await script(dynamo.client, running);
    const local = await script(new LocalDynamoTable(TABLE, 'lockId').client(), running);
    assert.deepEqual(local, real);
    // And the script meant something: the waits, refusals and takeovers all happened.
    assert.deepEqual(real, [
      'ok',
      A,
      ReleaseInProgressError.name,
      'ok',
      'ok',
      A,
      'ok',
      B,
      'ok',
      'free',
      'ok',
      'ConditionalCheckFailedException',
      A,
      'ok',
      'ConditionalCheckFailedException',
      'ConditionalCheckFailedException',
      ResourceNotFoundException.name,
    ]);
  });
});

/** The approval gate's calls on the lock item: the token stored (conditioned), found by a Scan, taken off. */
async function approvalScript(dynamodb: DynamoDBClient, table: string): Promise<string[]> {
  const outcomes: string[] = [];
  // Attributes in name order: the services need not list them alike.
  const canonical = (item: Record<string, unknown> | undefined) =>
    item ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => a.localeCompare(b))) : null;
  const step = async (work: () => Promise<unknown>) => {
    try {
      const out = (await work()) as { Items?: Record<string, unknown>[] };
      outcomes.push(out.Items ? JSON.stringify(out.Items.map(canonical)) : 'ok');
    } catch (err) {
      outcomes.push((err as Error).name);
    }
  };
  const item = async () =>
    JSON.stringify(
      canonical(
        (
          await dynamodb.send(
            new GetItemCommand({ TableName: table, Key: { lockId: { S: 'app' } }, ConsistentRead: true }),
          )
        ).Item,
      ),
    );
  const store = (owner: string) =>
    dynamodb.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { lockId: { S: 'app' } },
        UpdateExpression: 'SET approvalToken = :token, approvalDeadline = :deadline',
        ConditionExpression: '#owner = :execution',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: {
          ':token': { S: `token-of-${owner.slice(-1)}` },
          ':deadline': { S: '2026-01-01T01:00:00Z' },
          ':execution': { S: owner },
        },
      }),
    );
  const scan = (owner: string) =>
    dynamodb.send(
      new ScanCommand({
        TableName: table,
        ConsistentRead: true,
        FilterExpression: '#owner = :execution',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':execution': { S: owner } },
      }),
    );
  await step(() => store(A)); // no lock item yet: the condition fails
  await step(() =>
    dynamodb.send(new PutItemCommand({ TableName: table, Item: { lockId: { S: 'app' }, owner: { S: A } } })),
  );
  await step(() => store(B)); // not B's lock
  await step(() => store(A));
  outcomes.push(await item());
  await step(() => scan(A));
  await step(() => scan(B));
  await step(() =>
    dynamodb.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { lockId: { S: 'app' } },
        UpdateExpression: 'REMOVE approvalToken, approvalDeadline',
        ConditionExpression: '#owner = :owner',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':owner': { S: A } },
      }),
    ),
  );
  outcomes.push(await item());
  await step(() => scan(A));
  return outcomes;
}

describe('the local DynamoDB agrees with dynalite on the approval gate’s calls', () => {
  let dynamo: LocalDynamo;
  before(async () => {
    dynamo = await startDynamo();
    await dynamo.createLockTable('ApprovalLocks');
  });
  after(async () => dynamo?.close());

  test('the same outcomes and items, step by step', async () => {
    const real = await approvalScript(dynamo.client, 'ApprovalLocks');
    const local = await approvalScript(
      new LocalDynamoTable('ApprovalLocks', 'lockId').client(),
      'ApprovalLocks',
    );
    assert.deepEqual(local, real);
    const stored = {
      approvalDeadline: { S: '2026-01-01T01:00:00Z' },
      approvalToken: { S: 'token-of-a' },
      lockId: { S: 'app' },
      owner: { S: A },
    };
    const cleared = { lockId: { S: 'app' }, owner: { S: A } };
    assert.deepEqual(real, [
      'ConditionalCheckFailedException',
      'ok',
      'ConditionalCheckFailedException',
      'ok',
      JSON.stringify(stored),
      JSON.stringify([stored]),
      '[]',
      'ok',
      JSON.stringify(cleared),
      JSON.stringify([cleared]),
    ]);
  });
});

describe('the local Step Functions', () => {
  test('the rehearsal’s execution runs; any other is gone', async () => {
    const executions = new LocalExecutions();
    executions.start(A);
    const sfn = executions.client();
    assert.equal((await sfn.send(new DescribeExecutionCommand({ executionArn: A }))).status, 'RUNNING');
    await assert.rejects(sfn.send(new DescribeExecutionCommand({ executionArn: B })), {
      name: 'ExecutionDoesNotExist',
    });
  });
});

describe('the local ECS service', () => {
  const options = {
    account: LOCAL_ACCOUNT,
    cluster: 'Cluster',
    service: 'AppService',
    container: 'app',
    initialImage: 'local/app:initial',
  };
  const register = (ecs: LocalEcsService, image: string) =>
    ecs.registerTaskDefinition({ family: 'app', containerDefinitions: [{ name: 'app', image }] })
      .taskDefinition?.taskDefinitionArn as string;
  const look = (ecs: LocalEcsService) =>
    ecs.describeServices({ cluster: 'Cluster', services: ['AppService'] }).services[0];

  test('a rollout moves one state per look; the service runs the new revision at once', () => {
    const ecs = new LocalEcsService(options);
    const arn = register(ecs, 'local/app:v2');
    ecs.updateService({ cluster: 'Cluster', service: 'AppService', taskDefinition: arn });
    assert.equal(ecs.image, 'local/app:v2');
    assert.equal(look(ecs)?.deployments?.[0]?.rolloutState, 'IN_PROGRESS');
    assert.equal(look(ecs)?.deployments?.[0]?.rolloutState, 'COMPLETED');
    assert.equal(look(ecs)?.deployments?.length, 1);
  });

  test('a FAILED rollout is rolled back, as the circuit breaker does', () => {
    const ecs = new LocalEcsService(options);
    ecs.rollouts = ['FAILED'];
    const arn = register(ecs, 'local/app:bad');
    ecs.updateService({ cluster: 'Cluster', service: 'AppService', taskDefinition: arn });
    const service = look(ecs);
    assert.equal(service?.deployments?.find((d) => d.taskDefinition === arn)?.rolloutState, 'FAILED');
    assert.equal(ecs.image, 'local/app:initial');
  });

  test('another cluster or service is MISSING, as ECS reports it', () => {
    const ecs = new LocalEcsService(options);
    const out = ecs.describeServices({ cluster: 'Cluster', services: ['Other'] });
    assert.deepEqual(out.failures, [{ arn: 'Other', reason: 'MISSING' }]);
  });

  test('kept in a state file, the next process finds the released image', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-ecs-'));
    try {
      const stateFile = join(dir, 'deploy.json');
      const first = new LocalEcsService({ ...options, stateFile });
      first.updateService({
        cluster: 'Cluster',
        service: 'AppService',
        taskDefinition: register(first, 'local/app:v3'),
      });
      assert.equal(new LocalEcsService({ ...options, stateFile }).image, 'local/app:v3');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('RunTask.sync plays the scripted migration tasks on the revision it was given; an unknown revision is refused', async () => {
    const ecs = new LocalEcsService(options);
    const arn = register(ecs, 'local/app:v2');
    ecs.migrationTasks = [TASK_SHAPES.exitedNonZero, TASK_SHAPES.succeeded];

    const first = await ecs.runTaskSync({ Cluster: 'Cluster', TaskDefinition: arn, StartedBy: 'lockstep-a' });
    const second = await ecs.runTaskSync({
      Cluster: 'Cluster',
      TaskDefinition: arn,
      StartedBy: 'lockstep-a',
    });

    assert.equal(interpretMigrationTask({ task: first }, { container: 'app' }).kind, 'failed');
    assert.equal(interpretMigrationTask({ task: second }, { container: 'app' }).kind, 'succeeded');
    assert.equal(second.TaskDefinitionArn, arn);
    assert.equal(ecs.runTaskCalls.length, 2);
    await assert.rejects(
      ecs.runTaskSync({ TaskDefinition: 'arn:aws:ecs:eu-west-1:000000000000:task-definition/app:99' }),
      { name: 'ECS.InvalidParameterException' },
    );
  });

  test('a timed-out migration task keeps running until the migration-task step stops it', async () => {
    const ecs = new LocalEcsService(options);
    const arn = register(ecs, 'local/app:v2');
    ecs.migrationTasks = [TASK_ERRORS.timedOut];
    await assert.rejects(ecs.runTaskSync({ TaskDefinition: arn, StartedBy: 'lockstep-a' }), {
      name: 'States.Timeout',
    });
    const [running] = ecs.listTasks({ startedBy: 'lockstep-a' }).taskArns;
    const handler = migrationTaskHandler(
      {
        ECS_CLUSTER: 'Cluster',
        CONTAINER_NAME: 'app',
        MIGRATION_TIMEOUT_SECONDS: '60',
        POWERTOOLS_LOG_LEVEL: 'SILENT',
      },
      { ecs: ecs.client(), logs: () => new LocalLogs().client() },
    );

    await assert.rejects(
      handler({
        action: 'migration',
        executionId: A,
        release: { release: 'v2' },
        startedBy: 'lockstep-a',
        taskDefinitionArn: arn,
        outcome: { error: TASK_ERRORS.timedOut },
      }),
      MigrationTaskTimeoutError,
    );
    assert.deepEqual(ecs.stoppedTasks, [running]);
    assert.deepEqual(ecs.listTasks({ startedBy: 'lockstep-a' }).taskArns, []);
  });
});

describe('the local RDS instance', () => {
  test('a new snapshot is creating, then moves through the statuses as it is looked at', async () => {
    const rds = new LocalRds({ account: LOCAL_ACCOUNT, instance: 'app', store: new MemorySnapshots('app') });
    rds.statuses = ['creating', 'creating', 'available'];
    const created = await rds.createDBSnapshot({ DBInstanceIdentifier: 'app', DBSnapshotIdentifier: 's1' });
    assert.equal(created.DBSnapshot.Status, 'creating');
    const look = async () =>
      (await rds.describeDBSnapshots({ DBSnapshotIdentifier: 's1' })).DBSnapshots[0]?.Status;
    assert.deepEqual(
      [await look(), await look(), await look(), await look()],
      ['creating', 'creating', 'available', 'available'],
    );
  });

  test('another instance is not found; listing another instance’s snapshots finds none', async () => {
    const rds = new LocalRds({ account: LOCAL_ACCOUNT, instance: 'app', store: new MemorySnapshots('app') });
    await assert.rejects(
      rds.createDBSnapshot({ DBInstanceIdentifier: 'other', DBSnapshotIdentifier: 's1' }),
      {
        name: 'DBInstanceNotFoundFault',
      },
    );
    await rds.createDBSnapshot({ DBInstanceIdentifier: 'app', DBSnapshotIdentifier: 's2' });
    assert.equal((await rds.describeDBSnapshots({ DBInstanceIdentifier: 'other' })).DBSnapshots.length, 0);
    assert.equal((await rds.describeDBSnapshots({ DBInstanceIdentifier: 'app' })).DBSnapshots.length, 1);
  });
});
