import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import {
  DescribeExecutionCommand,
  DescribeStateMachineForExecutionCommand,
  ExecutionAlreadyExists,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { ExitCode, exitCodeFor } from '../../cli/exit-codes.ts';
import { consoleUrl, executionName, ReleaseFailedError, startRelease } from '../../cli/start.ts';
import { InvalidInputError } from '../../engine/errors.ts';
import { STATE } from '../../infra/constructs/state-names.ts';
import { synthesizeReleaseDefinition } from '../../rehearsal/definition.ts';

const SM = 'arn:aws:states:eu-west-1:123456789012:stateMachine:Release-StateMachine';
const EXEC = 'arn:aws:states:eu-west-1:123456789012:execution:Release-StateMachine:v1.4.2';
const IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api:v1.4.2';
const t = (s: number) => new Date(Date.UTC(2026, 10, 22, 12, 0, s));

describe('lockstep start', () => {
  const sfn = mockClient(SFNClient);
  let lines: string[];
  let sleeps: number;
  const deps = () => ({
    sfn: new SFNClient({ region: 'eu-west-1' }),
    print: (line: string) => lines.push(line),
    sleep: async () => {
      sleeps++;
    },
    pollMs: 2000,
  });

  beforeEach(() => {
    sfn.reset();
    lines = [];
    sleeps = 0;
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXEC, startDate: t(0) });
  });

  test('starts an execution named after the release, with the validated input', async () => {
    const result = await startRelease(deps(), { stateMachine: SM, image: IMAGE, dryRun: true });
    const sent = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    assert.equal(sent?.stateMachineArn, SM);
    assert.equal(sent?.name, 'v1.4.2');
    assert.deepEqual(JSON.parse(sent?.input ?? ''), {
      image: IMAGE,
      options: { skipSnapshot: false, dryRun: true },
    });
    assert.equal(result.executionArn, EXEC);
    assert.match(
      lines.join('\n'),
      /console: https:\/\/eu-west-1\.console\.aws\.amazon\.com\/states\/home\?region=eu-west-1#\/v2\/executions\/details\//,
    );
  });

  test('the same release cannot be started twice', async () => {
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    await assert.rejects(startRelease(deps(), { stateMachine: SM, image: IMAGE }), (err: unknown) => {
      assert.ok(err instanceof InvalidInputError);
      assert.match(err.message, /release "v1\.4\.2" was already started/);
      return true;
    });
  });

  test('bad input fails before any AWS call', async () => {
    await assert.rejects(
      startRelease(deps(), { stateMachine: 'not-an-arn', image: IMAGE }),
      /--state-machine/,
    );
    await assert.rejects(startRelease(deps(), { stateMachine: SM, image: 'no-tag-image' }), /image/);
    assert.equal(sfn.calls().length, 0);
  });

  test('--follow prints each state from the paginated history until the release succeeds', async () => {
    sfn
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({
        events: [
          { id: 1, type: 'ExecutionStarted', timestamp: t(0) },
          {
            id: 2,
            type: 'TaskStateEntered',
            timestamp: t(0),
            stateEnteredEventDetails: { name: 'Preflight' },
          },
        ],
        nextToken: 'page-2',
      })
      .resolvesOnce({
        events: [
          { id: 3, type: 'TaskStateExited', timestamp: t(2), stateExitedEventDetails: { name: 'Preflight' } },
        ],
      })
      .resolvesOnce({
        events: [
          { id: 4, type: 'TaskStateEntered', timestamp: t(3), stateEnteredEventDetails: { name: 'Plan' } },
          { id: 5, type: 'TaskStateExited', timestamp: t(4), stateExitedEventDetails: { name: 'Plan' } },
          { id: 6, type: 'ExecutionSucceeded', timestamp: t(5) },
        ],
      });
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ status: 'SUCCEEDED', executionArn: EXEC, stateMachineArn: SM, startDate: t(0) });
    const result = await startRelease(deps(), { stateMachine: SM, image: IMAGE, follow: true });
    assert.equal(result.status, 'SUCCEEDED');
    assert.deepEqual(lines.slice(2), [
      '→ Preflight',
      '✓ Preflight (2.0 s)',
      '→ Plan',
      '✓ Plan (1.0 s)',
      'release succeeded',
      `record: ${t(0).toISOString()}#v1.4.2 (lockstep releases show v1.4.2 --table <ReleaseRecordsTable>)`,
    ]);
    const tokens = sfn.commandCalls(GetExecutionHistoryCommand).map((c) => c.args[0].input.nextToken);
    assert.deepEqual(
      tokens,
      [undefined, 'page-2', 'page-2'],
      'continues from the last token, reading no event twice',
    );
    assert.equal(sleeps, 1);
  });

  test('--follow on a failed release prints the alert and exits 8', async () => {
    const failure = {
      step: 'Migrate',
      error: { Error: 'MigrationFailedError', Cause: 'migration 4 failed' },
    };
    const alert = {
      alert: {
        subject: 'lockstep: release failed at migrate',
        message: 'Release v1.4.2 FAILED at step Migrate. Snapshot to restore from: lockstep-db-1',
      },
    };
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        { id: 1, type: 'TaskStateEntered', timestamp: t(0), stateEnteredEventDetails: { name: 'Migrate' } },
        {
          id: 2,
          type: 'TaskFailed',
          timestamp: t(1),
          taskFailedEventDetails: {
            resourceType: 'lambda',
            resource: 'invoke',
            error: 'MigrationFailedError',
            cause: 'migration 4 failed at 0004_x.sql:2:1',
          },
        },
        // As the definition builds them: `Alert: <step>` describes the failure in $.failure; `Format alert` writes
        // the alert into $.alert (asserted against the synthesized definition below).
        {
          id: 3,
          type: 'PassStateEntered',
          timestamp: t(1),
          stateEnteredEventDetails: { name: 'Alert: migrate' },
        },
        {
          id: 4,
          type: 'PassStateExited',
          timestamp: t(1),
          stateExitedEventDetails: { name: 'Alert: migrate', output: JSON.stringify({ failure }) },
        },
        {
          id: 5,
          type: 'PassStateEntered',
          timestamp: t(1),
          stateEnteredEventDetails: { name: STATE.formatAlert },
        },
        {
          id: 6,
          type: 'PassStateExited',
          timestamp: t(1),
          stateExitedEventDetails: { name: STATE.formatAlert, output: JSON.stringify({ failure, ...alert }) },
        },
        {
          id: 7,
          type: 'ExecutionFailed',
          timestamp: t(2),
          executionFailedEventDetails: { error: 'MigrationFailedError' },
        },
      ],
    });
    sfn.on(DescribeExecutionCommand).resolves({
      status: 'FAILED',
      error: 'MigrationFailedError',
      cause: 'migration 4 failed',
      executionArn: EXEC,
      stateMachineArn: SM,
      startDate: t(0),
    });
    await assert.rejects(
      startRelease(deps(), { stateMachine: SM, image: IMAGE, follow: true }),
      (err: unknown) => {
        assert.ok(err instanceof ReleaseFailedError);
        assert.equal(exitCodeFor(err), ExitCode.ReleaseFailed);
        assert.match(err.message, /FAILED: MigrationFailedError/);
        return true;
      },
    );
    const out = lines.join('\n');
    assert.match(out, /✗ MigrationFailedError: migration 4 failed at 0004_x\.sql:2:1/);
    assert.match(
      out,
      /ALERT\nRelease v1\.4\.2 FAILED at step Migrate\. Snapshot to restore from: lockstep-db-1/,
    );
  });

  describe('at the approval gate', () => {
    // The deployed definition's shape: the release state machine with its gate, as synthesized.
    const { definition, lockTableName } = synthesizeReleaseDefinition({ context: { approval: 'true' } });
    const approve = `lockstep approve ${EXEC} --lock-table ${lockTableName}`;
    const reject = `lockstep reject ${EXEC} --lock-table ${lockTableName} --reason "<why>"`;
    /** Preflight, then the gate (entered once, its request retried), then the decision on a later page. */
    const gateHistory = () => {
      sfn
        .on(GetExecutionHistoryCommand)
        .resolvesOnce({
          events: [
            {
              id: 1,
              type: 'TaskStateEntered',
              timestamp: t(0),
              stateEnteredEventDetails: { name: 'Preflight' },
            },
            {
              id: 2,
              type: 'TaskStateExited',
              timestamp: t(1),
              stateExitedEventDetails: { name: 'Preflight' },
            },
            {
              id: 3,
              type: 'TaskStateEntered',
              timestamp: t(2),
              stateEnteredEventDetails: { name: STATE.awaitApproval },
            },
            { id: 4, type: 'TaskScheduled', timestamp: t(2) },
          ],
        })
        .resolvesOnce({ events: [{ id: 5, type: 'TaskScheduled', timestamp: t(9) }] })
        .resolvesOnce({
          events: [
            { id: 6, type: 'TaskSucceeded', timestamp: t(30) },
            {
              id: 7,
              type: 'TaskStateExited',
              timestamp: t(30),
              stateExitedEventDetails: { name: STATE.awaitApproval },
            },
            {
              id: 8,
              type: 'TaskStateEntered',
              timestamp: t(30),
              stateEnteredEventDetails: { name: STATE.clearApproval },
            },
            { id: 9, type: 'ExecutionSucceeded', timestamp: t(40) },
          ],
        });
      sfn
        .on(DescribeExecutionCommand)
        .resolves({ status: 'SUCCEEDED', executionArn: EXEC, stateMachineArn: SM, startDate: t(0) });
    };

    test('the synthesized gate clears the token on the table the printed commands name', () => {
      const clear = definition.States[STATE.clearApproval] as { Parameters?: { TableName?: unknown } };
      assert.equal(clear.Parameters?.TableName, lockTableName);
      const format = definition.States[STATE.formatAlert] as { ResultPath?: string; Parameters?: object };
      assert.equal(
        format.ResultPath,
        '$.alert',
        'follow reads the failure alert from Format alert’s $.alert',
      );
      assert.ok(format.Parameters && 'message.$' in format.Parameters);
    });

    test('prints the approve and reject commands once, with the lock table from the definition, and follows on', async () => {
      gateHistory();
      sfn.on(DescribeStateMachineForExecutionCommand).resolves({ definition: JSON.stringify(definition) });

      const result = await startRelease(deps(), { stateMachine: SM, image: IMAGE, follow: true });

      assert.equal(result.status, 'SUCCEEDED');
      const out = lines.slice(2);
      const gate = out.indexOf(`→ ${STATE.awaitApproval}`);
      assert.deepEqual(out.slice(gate, gate + 4), [
        `→ ${STATE.awaitApproval}`,
        `waiting for approval: nothing is migrated or deployed until someone decides (${STATE.awaitApproval})`,
        `  approve: ${approve}`,
        `  reject:  ${reject}`,
      ]);
      assert.equal(out.filter((l) => l.includes('lockstep approve')).length, 1, 'once');
      assert.ok(out.includes(`→ ${STATE.clearApproval}`), 'followed past the gate');
      assert.ok(out.includes('release succeeded'));
      assert.deepEqual(
        sfn.commandCalls(DescribeStateMachineForExecutionCommand).map((c) => c.args[0].input),
        [{ executionArn: EXEC }],
      );
    });

    test('a lock table given (LOCKSTEP_LOCK_TABLE) is used as is; a definition it may not read leaves a placeholder and says why', async () => {
      gateHistory();
      await startRelease(
        { ...deps(), lockTable: 'shop-locks' },
        { stateMachine: SM, image: IMAGE, follow: true },
      );

      assert.ok(lines.includes(`  approve: lockstep approve ${EXEC} --lock-table shop-locks`));
      assert.equal(sfn.commandCalls(DescribeStateMachineForExecutionCommand).length, 0);

      sfn.reset();
      lines = [];
      sfn.on(StartExecutionCommand).resolves({ executionArn: EXEC, startDate: t(0) });
      gateHistory();
      sfn
        .on(DescribeStateMachineForExecutionCommand)
        .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
      await startRelease(deps(), { stateMachine: SM, image: IMAGE, follow: true });

      assert.ok(
        lines.includes(`  reject:  lockstep reject ${EXEC} --lock-table <ReleaseLockTable> --reason "<why>"`),
      );
      assert.ok(
        lines.includes(
          '  (the lock table is the stack output ReleaseLockTable, or set LOCKSTEP_LOCK_TABLE: DescribeStateMachineForExecution failed: AccessDeniedException)',
        ),
      );
      assert.ok(lines.includes('release succeeded'), 'the failed look-up does not stop the follow');
    });
  });

  test('the console link is the execution’s partition’s console', () => {
    const arn = (partition: string, region: string) =>
      `arn:${partition}:states:${region}:123456789012:execution:shop:v1`;
    assert.equal(
      consoleUrl(arn('aws', 'eu-west-1')),
      `https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${arn('aws', 'eu-west-1')}`,
    );
    assert.equal(
      consoleUrl(arn('aws-cn', 'cn-north-1')),
      `https://console.amazonaws.cn/states/home?region=cn-north-1#/v2/executions/details/${arn('aws-cn', 'cn-north-1')}`,
    );
    assert.match(
      consoleUrl(arn('aws-us-gov', 'us-gov-west-1')),
      /^https:\/\/console\.amazonaws-us-gov\.com\/states\/home\?region=us-gov-west-1#/,
    );
  });

  test('execution names keep only the characters Step Functions allows', () => {
    assert.equal(executionName('v1.4.2'), 'v1.4.2');
    assert.equal(executionName('a'.repeat(100)).length, 80);
  });
});
