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
      'release.$': '$.release',
      'snapshotId.$': '$.snapshot.snapshotId',
      command: {
        command: 'python manage.py migrate',
        'taskDefinitionArn.$': '$.revision.taskDefinitionArn',
        'pendingCheck.$': '$.pendingCheck.summary',
      },
    });
    assert.equal(environments.approval?.APPROVAL_TIMEOUT_SECONDS, '3600');
  });
});

describe('the approval prop', () => {
  test('off by default: no approval function, no gate', () => {
    const { flow, template } = buildFlowStack();
    assert.equal(flow.functions.approval, undefined);
    assert.doesNotMatch(JSON.stringify(template.toJSON()), /waitForTaskToken|Await approval/);
  });

  test('on: the function knows the lock table, the database, the topic and the timeout', () => {
    const { flow, template } = buildFlowStack({
      props: () => ({ approval: { timeout: Duration.minutes(90) } }),
    });
    assert.ok(flow.functions.approval);
    const variables = Object.values(template.findResources('AWS::Lambda::Function'))
      .map((f) => f.Properties.Environment?.Variables as Record<string, unknown> | undefined)
      .find((v) => v?.APPROVAL_TIMEOUT_SECONDS);
    assert.deepEqual(Object.keys(variables ?? {}).sort(), [
      'ALERT_TOPIC_ARN',
      'APPROVAL_TIMEOUT_SECONDS',
      'DB_IDENTIFIER',
      'LOCK_TABLE',
      'POWERTOOLS_LOG_LEVEL',
    ]);
    assert.equal(variables?.APPROVAL_TIMEOUT_SECONDS, '5400');
  });

  test('a timeout under a minute, or one the release timeout cannot cover, fails the synth naming the prop', () => {
    assert.throws(
      () => buildFlowStack({ props: () => ({ approval: { timeout: Duration.seconds(30) } }) }),
      /ReleaseFlow: approval\.timeout must be a whole number of seconds, at least a minute/,
    );
    assert.throws(
      () => buildFlowStack({ props: () => ({ approval: { timeout: Duration.hours(3) } }) }),
      /ReleaseFlow: releaseTimeout must be longer than .*approval, migrate and deploy timeouts together/,
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
