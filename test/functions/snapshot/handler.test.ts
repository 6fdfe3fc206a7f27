import assert from 'node:assert/strict';
import { before, beforeEach, test } from 'node:test';
import {
  CreateDBSnapshotCommand,
  type CreateDBSnapshotCommandInput,
  DescribeDBSnapshotsCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { InvalidInputError } from '../../../functions/shared/errors.ts';
import type { ReleaseInput } from '../../../functions/shared/release-input.ts';

const rdsMock = mockClient(RDSClient);

const EXECUTION =
  'arn:aws:states:eu-west-1:123456789012:execution:lockstep-release:3F2a9c1d-7b4e-4c1a-9f00-0123456789ab';
const RELEASE: ReleaseInput = {
  release: 'v1.2.3',
  image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v1.2.3',
  migrations: 'bundled',
  options: { skipSnapshot: false, dryRun: false },
};

let handler: (event: unknown) => Promise<unknown>;

before(async () => {
  // The handler reads its configuration once, when the module loads: set it first.
  Object.assign(process.env, {
    DB_KIND: 'instance',
    DB_IDENTIFIER: 'orders-db',
    SNAPSHOT_PREFIX: 'lockstep',
    SNAPSHOT_TIMEOUT_SECONDS: '600',
    AWS_REGION: 'eu-west-1',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  });
  ({ handler } = await import('../../../functions/snapshot/handler.ts'));
});

beforeEach(() => {
  rdsMock.reset();
});

test('rejects an unknown action with InvalidInputError naming it, before any AWS call', async () => {
  await assert.rejects(
    handler({ action: 'restore', executionId: EXECUTION, release: RELEASE }),
    (err) => err instanceof InvalidInputError && err.name === 'InvalidInputError' && err.field === 'action',
  );
  assert.equal(rdsMock.calls().length, 0);
});

test('rejects a status check without a snapshotId, before any AWS call', async () => {
  await assert.rejects(
    handler({ action: 'status', executionId: EXECUTION, release: RELEASE }),
    (err) => err instanceof InvalidInputError && err.field === 'snapshotId',
  );
  assert.equal(rdsMock.calls().length, 0);
});

test('runs create with the configured database and returns the new snapshot', async () => {
  // prepare
  rdsMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [] });
  rdsMock.on(CreateDBSnapshotCommand).callsFake((input: CreateDBSnapshotCommandInput) => ({
    DBSnapshot: { DBSnapshotIdentifier: input.DBSnapshotIdentifier, Status: 'creating' },
  }));

  // act
  const before = Date.now();
  const result = (await handler({ action: 'create', executionId: EXECUTION, release: RELEASE })) as {
    snapshotId: string;
    waitUntil: string;
  };
  const after = Date.now();

  // assess
  assert.match(result.snapshotId, /^lockstep-orders-db-\d{14}-3f2a9c1d$/);
  const waitUntil = Date.parse(result.waitUntil);
  assert.ok(
    waitUntil >= before + 600_000 && waitUntil <= after + 600_000,
    `waitUntil ${result.waitUntil} is the real clock plus SNAPSHOT_TIMEOUT_SECONDS`,
  );
  const [create] = rdsMock.commandCalls(CreateDBSnapshotCommand);
  assert.equal(create?.args[0].input.DBInstanceIdentifier, 'orders-db');
});
