/**
 * `lockstep approve` and `lockstep reject` (cli/approval.ts, cli/commands/approve.ts and reject.ts) against mocked
 * DynamoDB, STS and Step Functions clients: the token is read from the lock item the execution holds and sent with
 * the caller's identity; an execution that is not waiting, a gate already closed (TaskTimedOut) and bad arguments are
 * each a typed error with a non-zero exit, before anything is sent.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import {
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { ApprovalNotPendingError, decideApproval, parseDecisionRequest } from '../../cli/approval.ts';
import { run as approve } from '../../cli/commands/approve.ts';
import { run as reject } from '../../cli/commands/reject.ts';
import { ExitCode } from '../../cli/exit-codes.ts';
import { InvalidInputError } from '../../engine/errors.ts';

const EXEC = 'arn:aws:states:eu-west-1:123456789012:execution:Release-StateMachine:v1.4.2';
const OTHER = 'arn:aws:states:eu-west-1:123456789012:execution:Release-StateMachine:v1.4.1';
const ALICE = 'arn:aws:sts::123456789012:assumed-role/ReleaseApprovers/alice';
const TOKEN = 'AAAAKgAAAAIAAAAAAAAAAWl0LWlzLWEtc2VjcmV0';
const NOW = new Date('2026-11-22T10:15:00Z');

describe('approve and reject', () => {
  const dynamodb = mockClient(DynamoDBClient);
  const sts = mockClient(STSClient);
  const sfn = mockClient(SFNClient);
  let regions: string[];
  const deps = (env: NodeJS.ProcessEnv = { LOCKSTEP_LOCK_TABLE: 'Locks' }) => ({
    clients: (region: string) => {
      regions.push(region);
      return {
        sfn: new SFNClient({ region }),
        sts: new STSClient({ region }),
        dynamodb: new DynamoDBClient({ region }),
      };
    },
    env,
    now: () => NOW,
  });
  const lockItem = (extra: Record<string, { S: string }> = {}) => ({
    lockId: { S: 'shop-db' },
    owner: { S: EXEC },
    ...extra,
  });

  beforeEach(() => {
    for (const mock of [dynamodb, sts, sfn]) mock.reset();
    regions = [];
    dynamodb.on(ScanCommand).resolves({ Items: [lockItem({ approvalToken: { S: TOKEN } })] });
    sts.on(GetCallerIdentityCommand).resolves({ Arn: ALICE, Account: '123456789012' });
    sfn.on(SendTaskSuccessCommand).resolves({});
    sfn.on(SendTaskFailureCommand).resolves({});
  });

  test('approve sends the stored token with who approved and when, in the execution’s region', async () => {
    const outcome = await approve(EXEC, {}, deps());

    assert.equal(outcome.exitCode, ExitCode.Success, String(outcome.error));
    assert.deepEqual(regions, ['eu-west-1']);
    const [scan] = dynamodb.commandCalls(ScanCommand);
    assert.deepEqual(scan?.args[0].input, {
      TableName: 'Locks',
      ConsistentRead: true,
      FilterExpression: '#owner = :execution',
      ExpressionAttributeNames: { '#owner': 'owner' },
      ExpressionAttributeValues: { ':execution': { S: EXEC } },
    });
    const sent = sfn.commandCalls(SendTaskSuccessCommand);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]?.args[0].input.taskToken, TOKEN);
    assert.deepEqual(JSON.parse(sent[0]?.args[0].input.output ?? ''), {
      approvedBy: ALICE,
      approvedAt: NOW.toISOString(),
    });
    assert.match(outcome.text ?? '', new RegExp(`approved ${EXEC} as ${ALICE}`));
    assert.ok(!JSON.stringify(outcome).includes(TOKEN), 'the token is never reported');
  });

  test('reject sends ReleaseRejectedError with who, when and why', async () => {
    const outcome = await reject(EXEC, { reason: '  not during the sale ', lockTable: 'OtherLocks' }, deps());

    assert.equal(outcome.exitCode, ExitCode.Success, String(outcome.error));
    assert.equal(dynamodb.commandCalls(ScanCommand)[0]?.args[0].input.TableName, 'OtherLocks');
    const [sent] = sfn.commandCalls(SendTaskFailureCommand);
    assert.deepEqual(sent?.args[0].input, {
      taskToken: TOKEN,
      error: 'ReleaseRejectedError',
      cause: `rejected by ${ALICE} at ${NOW.toISOString()}: not during the sale`,
    });
    assert.equal(sfn.commandCalls(SendTaskSuccessCommand).length, 0);
    assert.deepEqual(outcome.json, {
      executionArn: EXEC,
      waiting: 'release',
      decision: 'rejected',
      by: ALICE,
      at: NOW.toISOString(),
      reason: 'not during the sale',
    });
  });

  test('a rollback waiting before its switch: approve and reject say what they do to it', async () => {
    dynamodb
      .on(ScanCommand)
      .resolves({ Items: [lockItem({ approvalToken: { S: TOKEN }, approvalFor: { S: 'rollback' } })] });

    const approved = await approve(EXEC, {}, deps());
    assert.equal(approved.exitCode, ExitCode.Success, String(approved.error));
    assert.match(approved.text ?? '', /the rollback goes on to switch to the restored database and redeploy/);
    assert.equal((approved.json as { waiting?: string }).waiting, 'rollback');

    const rejected = await reject(EXEC, { reason: 'the copy misses orders' }, deps());
    assert.match(rejected.text ?? '', /The rollback fails without switching or deploying/);
    assert.doesNotMatch(rejected.text ?? '', /migrating/);
  });

  test('the lock item is found on a later page of the scan', async () => {
    dynamodb
      .on(ScanCommand)
      .resolvesOnce({ Items: [], LastEvaluatedKey: { lockId: { S: 'a' } } })
      .resolves({ Items: [lockItem({ approvalToken: { S: TOKEN } })] });

    const outcome = await approve(EXEC, {}, deps());

    assert.equal(outcome.exitCode, ExitCode.Success, String(outcome.error));
    assert.deepEqual(dynamodb.commandCalls(ScanCommand)[1]?.args[0].input.ExclusiveStartKey, {
      lockId: { S: 'a' },
    });
  });

  test('an execution that holds no lock is not waiting: a typed error, exit 5, nothing sent', async () => {
    dynamodb.on(ScanCommand).resolves({ Items: [] });

    const outcome = await approve(EXEC, {}, deps());

    assert.equal(outcome.exitCode, ExitCode.ValidationFailed);
    assert.ok(outcome.error instanceof ApprovalNotPendingError);
    assert.match(outcome.error.message, /is not waiting for approval: it holds no release lock/);
    assert.equal(sfn.commandCalls(SendTaskSuccessCommand).length, 0);
  });

  test('an execution that holds the lock but has no token is not at its gate', async () => {
    dynamodb.on(ScanCommand).resolves({ Items: [lockItem()] });

    const outcome = await reject(EXEC, { reason: 'no' }, deps());

    assert.ok(outcome.error instanceof ApprovalNotPendingError);
    assert.match(outcome.error.message, /has not reached its approval gate, or a decision was already made/);
    assert.equal(sfn.commandCalls(SendTaskFailureCommand).length, 0);
  });

  test('a gate that closed (timed out, or decided by someone else) is TaskTimedOut: a typed error, exit 5', async () => {
    sfn.on(SendTaskSuccessCommand).rejects(new TaskTimedOut({ message: 'Task Timed Out', $metadata: {} }));

    const outcome = await approve(EXEC, {}, deps());

    assert.equal(outcome.exitCode, ExitCode.ValidationFailed);
    assert.ok(outcome.error instanceof ApprovalNotPendingError);
    assert.match(outcome.error.message, /approval gate has closed: .*TaskTimedOut/);
  });

  test('a token Step Functions does not know is a typed error too', async () => {
    sfn.on(SendTaskSuccessCommand).rejects(new InvalidToken({ message: 'Invalid token', $metadata: {} }));

    await assert.rejects(
      decideApproval(
        {
          sfn: new SFNClient({ region: 'eu-west-1' }),
          sts: new STSClient({ region: 'eu-west-1' }),
          dynamodb: new DynamoDBClient({ region: 'eu-west-1' }),
          now: () => NOW,
        },
        parseDecisionRequest(EXEC, 'Locks', { kind: 'approve' }),
      ),
      (err: unknown) => err instanceof ApprovalNotPendingError && /InvalidToken/.test(err.message),
    );
  });

  test('an AWS error that is not about the gate is reported as it is', async () => {
    sfn
      .on(SendTaskSuccessCommand)
      .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));

    const outcome = await approve(EXEC, {}, deps());

    assert.equal(outcome.exitCode, ExitCode.InternalError);
    assert.equal((outcome.error as Error).name, 'AccessDeniedException');
  });

  describe('bad arguments: a usage error naming them, before any AWS call', () => {
    const cases: Array<[string, () => ReturnType<typeof approve>, string]> = [
      ['not an execution ARN', () => approve('v1.4.2', {}, deps()), 'execution'],
      [
        'a state machine ARN',
        () => approve(OTHER.replace(':execution:', ':stateMachine:'), {}, deps()),
        'execution',
      ],
      ['no lock table', () => approve(EXEC, {}, deps({})), '--lock-table'],
      ['a bad table name', () => approve(EXEC, { lockTable: 'a b' }, deps()), '--lock-table'],
      ['an empty reason', () => reject(EXEC, { reason: '   ' }, deps()), '--reason'],
      ['a reason too long', () => reject(EXEC, { reason: 'x'.repeat(2001) }, deps()), '--reason'],
    ];
    for (const [what, act, field] of cases) {
      test(what, async () => {
        const outcome = await act();

        assert.equal(outcome.exitCode, ExitCode.UsageError);
        assert.ok(outcome.error instanceof InvalidInputError);
        assert.equal(outcome.error.field, field);
        assert.equal(dynamodb.calls().length + sts.calls().length + sfn.calls().length, 0);
        assert.deepEqual(regions, []);
      });
    }
  });
});
