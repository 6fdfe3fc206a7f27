/**
 * The approval gate (issue 15) in the synthesized state machine (`-c approval=true`), run locally
 * (test/support/local-release.ts): the real approval function stores its task token on the dynalite lock item and
 * notifies; the decision is sent by `lockstep approve` / `reject`'s own code (cli/approval.ts), which reads the token
 * from the lock table and calls SendTaskSuccess / SendTaskFailure on the local task tokens, with the caller's
 * identity from a mocked STS. Approved: it migrates, deploys, and records who approved. Rejected: it fails, the alert
 * names who and why, nothing is migrated, the snapshot is kept, the lock is released. No decision in time: it fails
 * with States.Timeout and an alert, and the lock is released.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import type pg from 'pg';
import {
  ApprovalNotPendingError,
  type Decision,
  type DecisionResult,
  decideApproval,
} from '../../cli/approval.ts';
import { listRecords } from '../../cli/release-records.ts';
import { STATE } from '../../infra/constructs/release-definition.ts';
import { executionArnFor } from '../../rehearsal/interpreter.ts';
import { LOCAL_CLIENT_CONFIG } from '../../rehearsal/stand-ins/account.ts';
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

/** Long enough for a decision sent at once, short enough to wait out in the timeout test. */
const GATE_SECONDS = 4;
const ALICE = 'arn:aws:sts::123456789012:assumed-role/ReleaseApprovers/alice';

let db: TestDatabase;
let admin: pg.Client;
let dir: { dir: string; cleanup(): Promise<void> };
let release: LocalRelease;
const sts = mockClient(STSClient);
let runs = 0;

const lockItem = async () =>
  (
    await release.dynamo.client.send(
      new GetItemCommand({
        TableName: release.definition.lockTableName,
        Key: { lockId: { S: TARGET.dbIdentifier } },
        ConsistentRead: true,
      }),
    )
  ).Item;

const decide = (executionArn: string, decision: Decision): Promise<DecisionResult> =>
  decideApproval(
    {
      sfn: release.tokens.client(),
      sts: new STSClient(LOCAL_CLIENT_CONFIG),
      dynamodb: release.dynamo.client,
      now: () => new Date('2026-11-22T10:15:00Z'),
    },
    { executionArn, lockTable: release.definition.lockTableName, decision },
  );

/** Starts a release and, once it waits at its gate, sends `decision` (none: lets it wait). */
async function releaseDecidedBy(
  decision: Decision | undefined,
  tasks: Parameters<LocalRelease['runRelease']>[1] = {},
): Promise<{ run: ReleaseRun; decided?: DecisionResult; executionArn: string }> {
  const name = `approval-${++runs}`;
  const executionArn = executionArnFor(release.definition, name);
  const waiting = release.tokens.nextWait();
  const running = release.runRelease(releaseInput(), { ...tasks, executionName: name });
  const reached = await Promise.race([waiting.then(() => true), running.then(() => false)]);
  assert.ok(reached, 'the release waits at its approval gate');
  const decided = decision ? await decide(executionArn, decision) : undefined;
  return { run: await running, ...(decided ? { decided } : {}), executionArn };
}

const appliedTables = async () =>
  (
    await admin.query<{ name: string }>(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    )
  ).rows.map((r) => r.name);

describe('the approval gate in the synthesized state machine', () => {
  before(async () => {
    db = await freshDatabase();
    admin = await db.connect();
    dir = await migrationsDir(FIXTURE_MIGRATIONS);
    release = await createLocalRelease({
      databaseUrl: db.url,
      migrationsDir: dir.dir,
      approval: true,
      approvalTimeoutSeconds: GATE_SECONDS,
    });
  });

  after(async () => {
    sts.restore();
    await release.dynamo.close();
    await dir.cleanup();
    await db.drop();
  });

  beforeEach(async () => {
    release.reset();
    sts.reset();
    sts.on(GetCallerIdentityCommand).resolves({ Arn: ALICE, Account: '123456789012' });
    await release.clearLock();
    await resetDatabase(admin);
  });

  test('approved: the token is on the lock item only while it waits; then it migrates, deploys and records who approved', async () => {
    let tokenAtMigrate: unknown = 'unread';
    const { run, decided, executionArn } = await releaseDecidedBy(
      { kind: 'approve' },
      {
        tasks: {
          [STATE.migrate]: async (input, invoke) => {
            tokenAtMigrate = (await lockItem())?.approvalToken;
            return invoke(input);
          },
        },
      },
    );

    assert.equal(run.status, 'SUCCEEDED', `${run.error}: ${run.cause}`);
    assert.deepEqual(decided, {
      executionArn,
      waiting: 'release',
      decision: 'approved',
      by: ALICE,
      at: '2026-11-22T10:15:00.000Z',
    });
    const snapshotAt = run.states.lastIndexOf(STATE.snapshotReady);
    assert.deepEqual(run.states.slice(snapshotAt + 1, snapshotAt + 4), [
      STATE.awaitApproval,
      STATE.clearApproval,
      STATE.migrate,
    ]);
    assert.equal(tokenAtMigrate, undefined, 'the token is taken off the lock item once decided');
    assert.deepEqual((run.output as { approval: unknown }).approval, {
      approvedBy: ALICE,
      approvedAt: '2026-11-22T10:15:00.000Z',
    });
    assert.deepEqual(await appliedTables(), ['accounts', 'projects']);
    assert.equal(release.ecs.image, releaseInput().image);
    // The notification went out before the decision, and held no token.
    const [notification] = run.alerts;
    assert.equal(notification?.subject, `lockstep: release ${releaseInput().release} awaits approval`);
    assert.ok(notification?.message.includes(`lockstep approve ${executionArn} --lock-table`));
    assert.match(notification?.message ?? '', /Plan: 3 migration\(s\) pending/);
    const gate = run.calls.find((c) => c.state === STATE.awaitApproval);
    assert.ok(gate);
    const token = (gate.input as { Payload: { taskToken: string } }).Payload.taskToken;
    assert.ok(token.length > 20 && !notification?.message.includes(token));
    const [record] = await listRecords(release.dynamo.client, release.definition.recordsTableName, {
      database: TARGET.dbIdentifier,
      limit: 1,
    });
    assert.equal(record?.outcome, 'SUCCEEDED');
    assert.equal(record?.approvedBy, ALICE);
    assert.equal(record?.approvedAt, '2026-11-22T10:15:00.000Z');
    assert.equal(await lockItem(), undefined, 'the lock is released');

    // Deciding again: the execution is not waiting any more.
    await assert.rejects(decide(executionArn, { kind: 'approve' }), ApprovalNotPendingError);
  });

  test('rejected: it fails naming who and why, migrates nothing, keeps the snapshot and releases the lock', async () => {
    const { run, decided } = await releaseDecidedBy({
      kind: 'reject',
      reason: 'not during the sale',
    });

    assert.equal(run.status, 'FAILED');
    assert.equal(run.error, 'ReleaseRejectedError');
    assert.equal(run.cause, `rejected by ${ALICE} at 2026-11-22T10:15:00.000Z: not during the sale`);
    assert.equal(decided?.decision, 'rejected');
    assert.ok(!run.states.includes(STATE.migrate) && !run.states.includes(STATE.startDeploy));
    assert.deepEqual(await appliedTables(), [], 'nothing migrated');
    assert.equal(release.ecs.image, TARGET.initialImage, 'nothing deployed');
    const alert = run.alerts.find((a) => a.subject?.includes('failed'));
    assert.equal(alert?.subject, 'lockstep: release failed at await approval');
    assert.match(alert?.message ?? '', /Error: ReleaseRejectedError/);
    assert.ok(alert?.message.includes(`rejected by ${ALICE}`));
    assert.match(alert?.message ?? '', /not during the sale/);
    assert.match(alert?.message ?? '', /Nothing was migrated or deployed/);
    const created = run.calls.find((c) => c.state === STATE.createSnapshot);
    assert.ok(created);
    const { snapshotId } = created.output as { snapshotId: string };
    assert.ok(
      (await release.snapshots.list()).some((s) => s.id === snapshotId),
      'the snapshot is kept',
    );
    assert.ok(alert?.message.includes(`Snapshot to restore from: ${snapshotId}`));
    assert.equal(await lockItem(), undefined, 'the lock is released');
    const [record] = await listRecords(release.dynamo.client, release.definition.recordsTableName, {
      database: TARGET.dbIdentifier,
      limit: 1,
    });
    assert.equal(record?.outcome, 'FAILED');
    assert.equal(record?.failure?.error, 'ReleaseRejectedError');
    assert.equal(record?.migrationsState, 'none applied');
    assert.equal(record?.approvedBy, undefined);
  });

  test('no decision within the timeout: it fails with States.Timeout and an alert, and releases the lock', async () => {
    const { run, executionArn } = await releaseDecidedBy(undefined);

    assert.equal(run.status, 'FAILED');
    assert.equal(run.error, 'States.Timeout');
    assert.match(run.cause ?? '', /^No one approved or rejected the release within/);
    assert.ok(run.states.includes(STATE.approvalTimedOut));
    assert.deepEqual(await appliedTables(), []);
    const alert = run.alerts.find((a) => a.subject?.includes('failed'));
    assert.match(
      alert?.message ?? '',
      /Error: States\.Timeout\nCause: No one approved or rejected the release within/,
    );
    assert.equal(await lockItem(), undefined, 'the lock is released');
    // An approval now finds nothing to approve.
    await assert.rejects(decide(executionArn, { kind: 'approve' }), (err: unknown) => {
      assert.ok(err instanceof ApprovalNotPendingError);
      assert.match(err.message, /holds no release lock/);
      return true;
    });
  });

  test('a release with nothing pending deploys without asking', async () => {
    assert.equal((await releaseDecidedBy({ kind: 'approve' })).run.status, 'SUCCEEDED');
    const run = await release.runRelease(
      releaseInput({ release: 'v1.4.1', image: `${TARGET.initialImage}-2` }),
    );

    assert.equal(run.status, 'SUCCEEDED', `${run.error}: ${run.cause}`);
    assert.ok(!run.states.includes(STATE.awaitApproval));
  });
});
