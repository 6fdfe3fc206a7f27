import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { ECSClient, ListTasksCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { readMigrationTaskConfig } from '../../../functions/migration-task/config.ts';
import { createMigrationTaskHandler } from '../../../functions/migration-task/migration-task.ts';
import {
  ConfigError,
  InvalidInputError,
  MigrationCommandFailedError,
  MigrationTaskNotStartedError,
  MigrationTaskTimeoutError,
} from '../../../functions/shared/errors.ts';
import { createLogger } from '../../../functions/shared/logger.ts';
import {
  MIGRATION_TASK_ARN,
  TASK_ERRORS,
  TASK_SHAPES,
} from '../../../rehearsal/stand-ins/ecs-task-shapes.ts';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
const logger = createLogger('test');
const ecsMock = mockClient(ECSClient);
const config = { cluster: 'shop', containerName: 'app', timeoutSeconds: 7200 };
const handler = createMigrationTaskHandler(
  { ecs: new ECSClient({ region: 'eu-west-1' }), log: logger, config },
  logger,
);
const event = (outcome: unknown) => ({
  executionId: 'arn:aws:states:eu-west-1:123456789012:execution:release:v1-5-0',
  release: { release: 'v1.5.0' },
  startedBy: 'lockstep-v1-5-0',
  outcome,
});

describe('the migration-task step', () => {
  beforeEach(() => ecsMock.reset());

  it('returns the task and its console link when the command exited 0, calling nothing', async () => {
    const result = await handler(event({ task: TASK_SHAPES.succeeded }));

    assert.equal(result.taskArn, MIGRATION_TASK_ARN);
    assert.match(result.consoleUrl ?? '', /\/ecs\/v2\/clusters\/shop\/tasks\//);
    assert.equal(ecsMock.calls().length, 0);
  });

  it('fails with the exit code when the command exited non-zero', async () => {
    await assert.rejects(handler(event({ task: TASK_SHAPES.exitedNonZero })), (err) => {
      assert.ok(err instanceof MigrationCommandFailedError);
      assert.equal(err.exitCode, 1);
      return true;
    });
  });

  it('fails a task that never started with its stoppedReason', async () => {
    await assert.rejects(handler(event({ task: TASK_SHAPES.pullFailed })), MigrationTaskNotStartedError);
  });

  it('on a timeout, finds the task by startedBy, stops it, then reports the timeout', async () => {
    ecsMock.on(ListTasksCommand).resolves({ taskArns: [MIGRATION_TASK_ARN] });
    ecsMock.on(StopTaskCommand).resolves({});

    await assert.rejects(handler(event({ error: TASK_ERRORS.timedOut })), (err) => {
      assert.ok(err instanceof MigrationTaskTimeoutError);
      assert.equal(err.stopped, true);
      assert.equal(err.task.taskArn, MIGRATION_TASK_ARN);
      assert.match(err.message, /within 7200 s/);
      return true;
    });
    assert.deepEqual(ecsMock.commandCalls(ListTasksCommand)[0]?.args[0].input, {
      cluster: 'shop',
      startedBy: 'lockstep-v1-5-0',
      desiredStatus: 'RUNNING',
    });
    const stop = ecsMock.commandCalls(StopTaskCommand)[0]?.args[0].input;
    assert.equal(stop?.task, MIGRATION_TASK_ARN);
    assert.equal(stop?.cluster, 'shop');
  });

  it('says the task could NOT be stopped when StopTask is refused', async () => {
    ecsMock.on(ListTasksCommand).resolves({ taskArns: [MIGRATION_TASK_ARN] });
    ecsMock.on(StopTaskCommand).rejects(new Error('AccessDeniedException'));

    await assert.rejects(handler(event({ error: TASK_ERRORS.timedOut })), (err) => {
      assert.ok(err instanceof MigrationTaskTimeoutError);
      assert.equal(err.stopped, false);
      assert.match(err.message, /could NOT be stopped/);
      return true;
    });
  });

  it('rejects an event without startedBy', async () => {
    const { startedBy: _, ...bad } = event({ task: TASK_SHAPES.succeeded });

    await assert.rejects(handler(bad), InvalidInputError);
  });
});

describe('the migration-task function’s environment', () => {
  it('reads the cluster, the container and the timeout', () => {
    assert.deepEqual(
      readMigrationTaskConfig({
        ECS_CLUSTER: 'shop',
        CONTAINER_NAME: 'app',
        MIGRATION_TIMEOUT_SECONDS: '600',
      }),
      { cluster: 'shop', containerName: 'app', timeoutSeconds: 600 },
    );
  });

  it('names a missing variable', () => {
    assert.throws(
      () => readMigrationTaskConfig({ CONTAINER_NAME: 'app' }),
      (err) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.variable, 'ECS_CLUSTER');
        return true;
      },
    );
  });
});
