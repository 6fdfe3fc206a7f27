/**
 * Reading release records (cli/release-records.ts): the Query it sends (aws-sdk-client-mock), and the same reads
 * against dynalite (a real DynamoDB implementation, the table shaped as the construct makes it) and against the
 * rehearsal's file-backed stand-in (rehearsal/stand-ins/records.ts), which must agree.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { type AttributeValue, DynamoDBClient, PutItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { findRecord, formatRecord, listRecords, parseRecord } from '../../cli/release-records.ts';
import { LocalRecordsTable } from '../../rehearsal/stand-ins/records.ts';
import { type LocalDynamo, startDynamo } from '../support/dynalite.ts';

const TABLE = 'ReleaseRecords';
const DIGEST = `sha256:${'ab'.repeat(32)}`;

/** An item as the state machine writes it. */
function item(database: string, startedAt: string, release: string, extra: Record<string, string> = {}) {
  const attributes: Record<string, string> = {
    database,
    recordKey: `${startedAt}#${release}`,
    kind: 'release',
    release,
    image: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@${DIGEST}`,
    outcome: 'SUCCEEDED',
    executionArn: `arn:aws:states:eu-west-1:123456789012:execution:m:${release}`,
    startedAt,
    updatedAt: startedAt,
    snapshotId: `lockstep-${database}-20261202101500-${release}`,
    plan: JSON.stringify({
      record: {
        phase: 'pre-deploy',
        count: 1,
        truncated: false,
        migrations: [{ version: '1', file: '0001_a.sql', checksum: 'c1' }],
      },
    }),
    deployment: JSON.stringify({
      taskDefinitionArn: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/app:8',
      previousTaskDefinitionArn: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/app:7',
    }),
    revision: 'null',
    input: JSON.stringify({ ecr: { repository: 'app' } }),
    ...extra,
  };
  return Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, { S: v }])) as Record<
    string,
    AttributeValue
  >;
}

const ITEMS = [
  item('shop', '2026-12-01T10:00:00.000Z', 'v1'),
  item('shop', '2026-12-02T10:00:00.000Z', 'v2', {
    outcome: 'FAILED',
    failedStep: 'Migrate',
    error: 'MigrationFailedError',
    cause: '{"errorMessage":"0002_b.sql failed"}',
  }),
  item('billing', '2026-12-01T12:00:00.000Z', 'b1'),
  item('shop', '2026-12-03T10:00:00.000Z', 'v3', { outcome: 'RUNNING' }),
];

describe('parseRecord', () => {
  test('reads what the rollback needs: digest, revisions, migrations, snapshot and its time, trigger', () => {
    const r = parseRecord(ITEMS[0] as Record<string, AttributeValue>);
    assert.equal(r.imageDigest, DIGEST);
    assert.equal(r.trigger, 'image push');
    assert.equal(r.taskDefinitionBefore, 'arn:aws:ecs:eu-west-1:123456789012:task-definition/app:7');
    assert.equal(r.taskDefinitionAfter, 'arn:aws:ecs:eu-west-1:123456789012:task-definition/app:8');
    assert.equal(r.snapshotTime, '2026-12-02T10:15:00Z');
    assert.equal(r.migrationsState, 'applied');
    // Written before after-deploy migrations existed: read in today's shape, every one before the deploy.
    assert.deepEqual(r.migrations, {
      phase: 'before-deploy',
      count: 1,
      afterDeployCount: 0,
      truncated: false,
      migrations: [{ version: '1', file: '0001_a.sql', checksum: 'c1', phase: 'before-deploy' }],
    });
    assert.match(formatRecord(r), /0001_a\.sql {2}c1/);
  });

  test('a failure at migrate is partly applied; a record still RUNNING says it cannot tell', () => {
    const failed = parseRecord(ITEMS[1] as Record<string, AttributeValue>);
    assert.deepEqual(failed.failure, {
      step: 'Migrate',
      error: 'MigrationFailedError',
      cause: '{"errorMessage":"0002_b.sql failed"}',
    });
    assert.equal(failed.migrationsState, 'partly applied');
    assert.equal(parseRecord(ITEMS[3] as Record<string, AttributeValue>).migrationsState, 'unknown');
  });
});

describe('listRecords and findRecord, as sent', () => {
  const dynamodb = mockClient(DynamoDBClient);
  beforeEach(() => dynamodb.reset());
  // The mock is on every DynamoDBClient: the real ones below must reach dynalite.
  after(() => dynamodb.restore());

  test('one database: the table’s own Query, newest first, following pages up to the limit', async () => {
    dynamodb
      .on(QueryCommand)
      .resolvesOnce({ Items: [ITEMS[3], ITEMS[1]] as never, LastEvaluatedKey: { database: { S: 'shop' } } })
      .resolvesOnce({ Items: [ITEMS[0]] as never });
    const records = await listRecords(new DynamoDBClient({}), TABLE, { database: 'shop', limit: 3 });

    assert.deepEqual(
      records.map((r) => r.release),
      ['v3', 'v2', 'v1'],
    );
    const sent = dynamodb.commandCalls(QueryCommand).map((c) => c.args[0].input);
    assert.deepEqual(sent[0], {
      TableName: TABLE,
      KeyConditionExpression: '#k = :v',
      ExpressionAttributeNames: { '#k': 'database' },
      ExpressionAttributeValues: { ':v': { S: 'shop' } },
      ScanIndexForward: false,
      Limit: 3,
    });
    assert.deepEqual(sent[1]?.ExclusiveStartKey, { database: { S: 'shop' } });
    assert.equal(sent[1]?.Limit, 1);
  });

  test('every database: the newest index; one release: the byRelease index', async () => {
    dynamodb.on(QueryCommand).resolves({ Items: [ITEMS[0]] as never });
    await listRecords(new DynamoDBClient({}), TABLE, { limit: 5 });
    await findRecord(new DynamoDBClient({}), TABLE, 'v1');
    const sent = dynamodb.commandCalls(QueryCommand).map((c) => c.args[0].input);
    assert.deepEqual(
      sent.map((i) => [i.IndexName, i.ExpressionAttributeNames?.['#k'], i.ExpressionAttributeValues?.[':v']]),
      [
        ['newest', 'kind', { S: 'release' }],
        ['byRelease', 'release', { S: 'v1' }],
      ],
    );
  });

  test('an unknown release is a usage error that says how to list them', async () => {
    dynamodb.on(QueryCommand).resolves({ Items: [] });
    await assert.rejects(findRecord(new DynamoDBClient({}), TABLE, 'v9'), {
      name: 'InvalidInputError',
      message: /no release record for "v9".*lockstep releases lists them/,
    });
  });
});

describe('the same reads on dynalite and on the rehearsal’s stand-in', () => {
  let dynamo: LocalDynamo;
  let dir: string;
  let local: LocalRecordsTable;
  before(async () => {
    dynamo = await startDynamo();
    await dynamo.createRecordsTable(TABLE);
    dir = mkdtempSync(join(tmpdir(), 'lockstep-records-'));
    local = new LocalRecordsTable(TABLE, dir);
    for (const i of ITEMS) {
      await dynamo.client.send(new PutItemCommand({ TableName: TABLE, Item: i }));
      local.putItem({ TableName: TABLE, Item: i });
    }
  });
  after(async () => {
    await dynamo.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [what, options] of [
    ['one database', { database: 'shop', limit: 10 }],
    ['one database, limited', { database: 'shop', limit: 2 }],
    ['every database', { limit: 10 }],
  ] as const) {
    test(`${what}: the same records in the same order`, async () => {
      const real = await listRecords(dynamo.client, TABLE, options);
      const standIn = await listRecords(local.client(), TABLE, options);
      assert.deepEqual(standIn, real);
      assert.ok(real.length > 0);
    });
  }

  test('a release by label, and a rewritten record replaces the one before (same key)', async () => {
    local.putItem({
      TableName: TABLE,
      Item: item('shop', '2026-12-01T10:00:00.000Z', 'v1', { outcome: 'FAILED' }),
    });
    await dynamo.client.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: item('shop', '2026-12-01T10:00:00.000Z', 'v1', { outcome: 'FAILED' }),
      }),
    );
    assert.deepEqual(
      await findRecord(local.client(), TABLE, 'v1'),
      await findRecord(dynamo.client, TABLE, 'v1'),
    );
    assert.equal((await findRecord(local.client(), TABLE, 'v1')).outcome, 'FAILED');
    assert.equal((await listRecords(local.client(), TABLE, { database: 'shop', limit: 10 })).length, 3);
  });
});
