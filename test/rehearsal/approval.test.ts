/**
 * The rehearsal's approval gate (rehearsal/approval.ts): which flags decide it, checked up front; and the gate itself
 * with the real approval function storing its token on the local lock table and notifying, the decision asked on a
 * (scripted) terminal and sent by `lockstep approve`'s own code to the local task tokens.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { requestApproval } from '../../functions/approval/approval.ts';
import { InvalidInputError, ReleaseRejectedError } from '../../functions/shared/errors.ts';
import { type ApprovalPlan, localApprovalGate, parseApprovalPlan } from '../../rehearsal/approval.ts';
import type { Alert } from '../../rehearsal/interpreter.ts';
import { LocalDynamoTable } from '../../rehearsal/stand-ins/dynamodb.ts';
import { localTopicClient } from '../../rehearsal/stand-ins/sns.ts';
import { LocalTaskTokens } from '../../rehearsal/stand-ins/task-tokens.ts';

const EXEC = 'arn:aws:states:eu-west-1:123456789012:execution:LockstepRelease:r1';
const ask = async () => 'y';

describe('the rehearsal’s approval flags', () => {
  test('none without --approval; --approve, --reject or the terminal with it', () => {
    assert.equal(parseApprovalPlan({}), undefined);
    assert.deepEqual(parseApprovalPlan({ approval: true, approve: true }), {
      how: 'given',
      decision: { kind: 'approve' },
    });
    assert.deepEqual(parseApprovalPlan({ approval: true, reject: ' too risky ' }), {
      how: 'given',
      decision: { kind: 'reject', reason: 'too risky' },
    });
    assert.equal(parseApprovalPlan({ approval: true, ask })?.how, 'ask');
  });

  test('a decision that cannot be made is a usage error naming the flag', () => {
    const cases: Array<[Parameters<typeof parseApprovalPlan>[0], string]> = [
      [{ approval: true }, '--approval'],
      [{ approve: true }, '--approve'],
      [{ reject: 'no' }, '--reject'],
      [{ approval: true, approve: true, reject: 'no', ask }, '--reject'],
      [{ approval: true, reject: '', ask }, '--reject'],
    ];
    for (const [options, field] of cases)
      assert.throws(
        () => parseApprovalPlan(options),
        (err: unknown) => err instanceof InvalidInputError && err.field === field,
        JSON.stringify(options),
      );
  });
});

describe('the rehearsal’s approval gate', () => {
  /** A lock held by the execution, the approval function over it, and the gate as the rehearsal builds it. */
  function gateWith(plan: ApprovalPlan) {
    const locks = new LocalDynamoTable('ReleaseLocks', 'lockId');
    locks.putItem({ TableName: 'ReleaseLocks', Item: { lockId: { S: 'app' }, owner: { S: EXEC } } });
    const tokens = new LocalTaskTokens();
    const notifications: Alert[] = [];
    const printed: string[] = [];
    const gate = localApprovalGate(plan, {
      tokens,
      locks: locks.client(),
      lockTable: 'ReleaseLocks',
      executionArn: EXEC,
      approver: 'alice',
      now: () => new Date('2026-11-22T10:15:00Z'),
      print: (line) => printed.push(line),
    });
    const token = tokens.issue();
    const payload = {
      taskToken: token,
      executionId: EXEC,
      release: { release: 'r1', image: 'local/app:r1' },
      snapshotId: 'lockstep-app-1',
      timeoutSeconds: 3600,
    };
    const request = () =>
      requestApproval(
        {
          dynamodb: locks.client(),
          sns: localTopicClient((n) => notifications.push(n)),
          log: { debug() {}, info() {}, warn() {}, error() {} },
          config: {
            lockTable: 'ReleaseLocks',
            lockId: 'app',
            topicArn: 'arn:aws:sns:eu-west-1:123456789012:Alerts',
          },
          now: () => new Date('2026-11-22T10:00:00Z'),
        },
        payload,
      );
    return {
      run: () => gate({ FunctionName: 'Approval', Payload: payload }, request),
      notifications,
      printed,
    };
  }

  test('asked on the terminal: “y” approves, recorded as the local user', async () => {
    const questions: string[] = [];
    const { run, notifications, printed } = gateWith({
      how: 'ask',
      ask: async (q) => {
        questions.push(q);
        return 'y';
      },
    });

    const decision = await run();

    assert.deepEqual(decision, {
      approvedBy: 'arn:aws:iam::123456789012:user/alice',
      approvedAt: '2026-11-22T10:15:00.000Z',
    });
    assert.equal(notifications.length, 1, 'notified before asking');
    assert.deepEqual(questions, ['approve this release? [y/n] ']);
    assert.deepEqual(printed, ['  approved by arn:aws:iam::123456789012:user/alice']);
  });

  test('asked on the terminal: anything but y or n is asked again; “n” asks for a reason until one is given', async () => {
    const answers = ['maybe', 'n', '  ', 'too risky before the sale'];
    const questions: string[] = [];
    const { run } = gateWith({
      how: 'ask',
      ask: async (q) => {
        questions.push(q);
        return answers.shift() ?? 'n';
      },
    });

    await assert.rejects(run(), (err: unknown) => {
      assert.equal((err as Error).name, new ReleaseRejectedError('', '', '').name);
      assert.equal(
        (err as Error).message,
        'rejected by arn:aws:iam::123456789012:user/alice at 2026-11-22T10:15:00.000Z: too risky before the sale',
      );
      return true;
    });
    assert.deepEqual(questions, [
      'approve this release? [y/n] ',
      'approve this release? [y/n] ',
      'reason for rejecting it: ',
      'reason for rejecting it: ',
    ]);
  });

  test('a decision that cannot be sent fails the gate with its error instead of leaving it to time out', async () => {
    const { run } = gateWith({
      how: 'ask',
      ask: async () => {
        throw Object.assign(new Error('stdin closed'), { name: 'AbortError' });
      },
    });

    await assert.rejects(run(), { name: 'AbortError', message: 'stdin closed' });
  });
});
