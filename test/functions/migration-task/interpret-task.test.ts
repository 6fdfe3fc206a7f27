import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { interpretMigrationTask, taskRef } from '../../../functions/migration-task/interpret-task.ts';
import {
  MigrationCommandFailedError,
  MigrationTaskNotPlacedError,
  MigrationTaskNotStartedError,
} from '../../../functions/shared/errors.ts';
import {
  MIGRATION_CONTAINER,
  MIGRATION_TASK_ARN,
  TASK_ERRORS,
  TASK_SHAPES,
} from '../../../rehearsal/stand-ins/ecs-task-shapes.ts';

const options = { container: MIGRATION_CONTAINER };
const CONSOLE =
  'https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/shop/tasks/0f4a8c4b2f1e4d3c9b8a7f6e5d4c3b2a/configuration?region=eu-west-1';

function failure(verdict: ReturnType<typeof interpretMigrationTask>) {
  assert.equal(verdict.kind, 'failed');
  return verdict.error;
}

describe('interpreting a finished migration task', () => {
  it('succeeds when the container exited 0 and the task stopped because it exited', () => {
    const verdict = interpretMigrationTask({ task: TASK_SHAPES.succeeded }, options);

    assert.deepEqual(verdict, {
      kind: 'succeeded',
      task: { taskArn: MIGRATION_TASK_ARN, consoleUrl: CONSOLE },
    });
  });

  it('reads the SDK’s camelCase shape as well as Step Functions’ PascalCase', () => {
    const task = {
      taskArn: MIGRATION_TASK_ARN,
      lastStatus: 'STOPPED',
      stopCode: 'EssentialContainerExited',
      containers: [{ name: 'app', exitCode: 0 }],
    };

    assert.equal(interpretMigrationTask({ task }, options).kind, 'succeeded');
  });

  it('fails with the exit code when the command exited non-zero', () => {
    const err = failure(interpretMigrationTask({ task: TASK_SHAPES.exitedNonZero }, options));

    assert.ok(err instanceof MigrationCommandFailedError);
    assert.equal(err.exitCode, 1);
    assert.match(err.message, /exited with code 1/);
    assert.ok(err.message.includes(CONSOLE), err.message);
  });

  it('reads the stopped task from the Cause when the .sync state failed with it', () => {
    const err = failure(interpretMigrationTask({ error: TASK_ERRORS.failedWithTask }, options));

    assert.ok(err instanceof MigrationCommandFailedError);
    assert.equal(err.exitCode, 1);
  });

  it('never takes a task without an exit code for a success: an image that could not be pulled', () => {
    const err = failure(interpretMigrationTask({ task: TASK_SHAPES.pullFailed }, options));

    assert.ok(err instanceof MigrationTaskNotStartedError);
    assert.equal(err.stopCode, 'TaskFailedToStart');
    assert.match(err.message, /CannotPullContainerError/);
    assert.match(err.message, /stopCode TaskFailedToStart/);
  });

  it('names stoppedReason when the task never started (a secret it could not read)', () => {
    const err = failure(interpretMigrationTask({ task: TASK_SHAPES.neverStarted }, options));

    assert.ok(err instanceof MigrationTaskNotStartedError);
    assert.match(err.message, /ResourceInitializationError/);
  });

  it('fails when the task has no container by the configured name, rather than reading another one', () => {
    const err = failure(interpretMigrationTask({ task: TASK_SHAPES.succeeded }, { container: 'migrator' }));

    assert.ok(err instanceof MigrationTaskNotStartedError);
    assert.match(err.message, /no container named "migrator"/);
  });

  it('fails a command stopped by a user, with its exit code', () => {
    const err = failure(interpretMigrationTask({ task: TASK_SHAPES.stoppedByUser }, options));

    assert.ok(err instanceof MigrationCommandFailedError);
    assert.equal(err.exitCode, 143);
    assert.equal(err.stopCode, 'UserInitiated');
  });

  it('fails an exit 0 when ECS stopped the task for another reason: the command may not have finished', () => {
    const err = failure(interpretMigrationTask({ task: TASK_SHAPES.spotInterrupted }, options));

    assert.ok(err instanceof MigrationCommandFailedError);
    assert.equal(err.exitCode, 0);
    assert.match(err.message, /stopCode SpotInterruption: the command may not have finished/);
  });

  it('fails a task that is not STOPPED even with exit code 0', () => {
    const task = { ...TASK_SHAPES.succeeded, LastStatus: 'DEPROVISIONING' };

    const err = failure(interpretMigrationTask({ task }, options));

    assert.ok(err instanceof MigrationCommandFailedError);
    assert.match(err.message, /last status DEPROVISIONING/);
  });

  it('turns RunTask failures into MigrationTaskNotPlacedError naming each reason', () => {
    const err = failure(interpretMigrationTask({ error: TASK_ERRORS.notPlaced }, options));

    assert.ok(err instanceof MigrationTaskNotPlacedError);
    assert.deepEqual(
      err.failures.map((f) => f.reason),
      ['RESOURCE:MEMORY'],
    );
    assert.match(err.message, /RESOURCE:MEMORY/);
  });

  it('keeps an AmazonECS.Unknown Cause that is not JSON as the failure detail', () => {
    const err = failure(
      interpretMigrationTask(
        { error: { Error: 'AmazonECS.Unknown', Cause: 'Capacity is unavailable' } },
        options,
      ),
    );

    assert.ok(err instanceof MigrationTaskNotPlacedError);
    assert.match(err.message, /Capacity is unavailable/);
  });

  it('asks the caller to stop the task when the state timed out', () => {
    const verdict = interpretMigrationTask({ error: TASK_ERRORS.timedOut }, options);

    assert.deepEqual(verdict, { kind: 'timed-out', task: { taskArn: undefined, consoleUrl: undefined } });
  });

  it('reports a request RunTask refused as a task that never started, with the error', () => {
    const err = failure(interpretMigrationTask({ error: TASK_ERRORS.invalidParameter }, options));

    assert.ok(err instanceof MigrationTaskNotStartedError);
    assert.match(err.message, /ECS.InvalidParameterException: No Container Instances/);
  });
});

describe('a migration task’s console link', () => {
  it('takes the cluster from a long-format task ARN', () => {
    assert.equal(taskRef(MIGRATION_TASK_ARN, undefined).consoleUrl, CONSOLE);
  });

  it('takes the cluster from clusterArn with an old-format task ARN', () => {
    const ref = taskRef(
      'arn:aws:ecs:eu-west-1:123456789012:task/0f4a8c4b2f1e4d3c9b8a7f6e5d4c3b2a',
      'arn:aws:ecs:eu-west-1:123456789012:cluster/shop',
    );

    assert.equal(ref.consoleUrl, CONSOLE);
  });

  it('links to the console of the task’s partition', () => {
    const link = (partition: string, region: string) =>
      taskRef(`arn:${partition}:ecs:${region}:123456789012:task/shop/0f4a`, undefined).consoleUrl;

    assert.equal(
      link('aws-cn', 'cn-north-1'),
      'https://console.amazonaws.cn/ecs/v2/clusters/shop/tasks/0f4a/configuration?region=cn-north-1',
    );
    assert.equal(
      link('aws-us-gov', 'us-gov-west-1'),
      'https://console.amazonaws-us-gov.com/ecs/v2/clusters/shop/tasks/0f4a/configuration?region=us-gov-west-1',
    );
    assert.equal(
      link('aws', 'us-east-2'),
      'https://us-east-2.console.aws.amazon.com/ecs/v2/clusters/shop/tasks/0f4a/configuration?region=us-east-2',
    );
  });

  it('has no link without a task ARN', () => {
    assert.equal(taskRef(undefined, undefined).consoleUrl, undefined);
  });
});
