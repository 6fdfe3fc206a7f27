/**
 * Where the approval gate (infra/constructs/approval-gate.ts) stands in the synthesized definition, what it passes
 * the approval function, and the `approval` prop's checks. Its behaviour when run is in state-machine-approval.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Duration } from 'aws-cdk-lib';
import { MigrationsSource } from '../../infra/constructs/release-flow.ts';
import { STATE } from '../../infra/constructs/state-names.ts';
import { synthesizeReleaseDefinition } from '../../rehearsal/definition.ts';
import { buildFlowStack } from '../support/flow-stack.ts';

interface State {
  readonly Type: string;
  readonly Next?: string;
  readonly Default?: string;
  readonly Choices?: { Next: string }[];
  readonly TimeoutSeconds?: number;
  readonly Parameters?: { FunctionName?: string; Payload?: Record<string, unknown> };
}

describe('the approval gate in command mode', () => {
  const { definition, environments } = synthesizeReleaseDefinition({
    context: {
      migrationCommand: 'python manage.py migrate',
      pendingCheckCommand: 'python manage.py migrate --check',
      approval: 'true',
    },
  });
  const states = definition.States as unknown as Record<string, State>;

  test('stands after the snapshot, right before the migration task', () => {
    const ready = states[STATE.snapshotReady];
    assert.equal(ready?.Choices?.[0]?.Next, STATE.awaitApproval);
    assert.equal(states[STATE.awaitApproval]?.Next, STATE.clearApproval);
    assert.equal(states[STATE.clearApproval]?.Next, STATE.runMigrationTask);
    // Nothing pending: no snapshot, no migration, no gate.
    assert.equal(states[STATE.nothingPending]?.Next, STATE.startDeploy);
  });

  test('tells the approval function the command, the revision and the pending check’s verdict; waits an hour', () => {
    const gate = states[STATE.awaitApproval];
    assert.equal(gate?.TimeoutSeconds, 3600);
    assert.deepEqual(gate?.Parameters?.Payload, {
      'taskToken.$': '$$.Task.Token',
      'executionId.$': '$$.Execution.Id',
      timeoutSeconds: 3600,
      'release.$': '$.release',
      'snapshotId.$': '$.snapshot.snapshotId',
      command: {
        command: 'python manage.py migrate',
        'taskDefinitionArn.$': '$.revision.taskDefinitionArn',
        'pendingCheck.$': '$.pendingCheck.summary',
      },
    });
    assert.equal(environments.approval?.APPROVAL_TIMEOUT_SECONDS, undefined, 'the event says it');
  });
});

describe('the approval prop', () => {
  test('off by default: no gate in the release; the approval function is there for the rollback’s confirmation', () => {
    const { flow, stack, template } = buildFlowStack();
    const machines = template.findResources('AWS::StepFunctions::StateMachine');
    const release = JSON.stringify(
      machines[stack.getLogicalId(flow.stateMachine.node.defaultChild as never)],
    );
    assert.doesNotMatch(release, /waitForTaskToken|Await approval/);
    const rollback = JSON.stringify(
      machines[stack.getLogicalId(flow.rollbackStateMachine.node.defaultChild as never)],
    );
    assert.match(rollback, /waitForTaskToken/);
    assert.match(rollback, /Confirm switch/);
  });

  test('on: the gate waits the timeout, and tells the function; the function knows the lock table, the database and the topic', () => {
    const { flow, stack, template } = buildFlowStack({
      props: () => ({ approval: { timeout: Duration.minutes(90) } }),
    });
    const fn =
      template.findResources('AWS::Lambda::Function')[
        stack.getLogicalId(flow.functions.approval.node.defaultChild as never)
      ];
    const variables = fn?.Properties.Environment?.Variables as Record<string, unknown> | undefined;
    assert.deepEqual(Object.keys(variables ?? {}).sort(), [
      'ALERT_TOPIC_ARN',
      'DB_IDENTIFIER',
      'LOCK_TABLE',
      'POWERTOOLS_LOG_LEVEL',
    ]);
    const release = JSON.stringify(
      template.findResources('AWS::StepFunctions::StateMachine')[
        stack.getLogicalId(flow.stateMachine.node.defaultChild as never)
      ],
    );
    assert.match(release, /\\"TimeoutSeconds\\":5400/);
    assert.match(release, /\\"timeoutSeconds\\":5400/);
  });

  test('a timeout under a minute, or one the release timeout cannot cover, fails the synth naming the prop', () => {
    assert.throws(
      () => buildFlowStack({ props: () => ({ approval: { timeout: Duration.seconds(30) } }) }),
      /ReleaseFlow: approval\.timeout must be a whole number of seconds, at least a minute/,
    );
    assert.throws(
      () => buildFlowStack({ props: () => ({ approval: { timeout: Duration.hours(3) } }) }),
      /ReleaseFlow: releaseTimeout must be longer than .*approval, migrate \(twice: before and after the deploy\) and deploy timeouts together/,
    );
    assert.doesNotThrow(() =>
      buildFlowStack({
        props: () => ({ approval: { timeout: Duration.hours(3) }, releaseTimeout: Duration.hours(8) }),
      }),
    );
    assert.throws(
      () =>
        buildFlowStack({
          props: () => ({
            approval: {},
            migrations: MigrationsSource.command({ command: ['migrate'] }),
            releaseTimeout: Duration.hours(4),
          }),
        }),
      /releaseTimeout must be longer than .*approval, migration command and deploy timeouts together/,
    );
  });
});
