import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import {
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListTasksCommand,
  StopTaskCommand,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { readMigrationTaskConfig } from '../../../functions/migration-task/config.ts';
import { createMigrationTaskHandler } from '../../../functions/migration-task/migration-task.ts';
import {
  ConfigError,
  InvalidInputError,
  MigrationCommandFailedError,
  MigrationTaskNotStartedError,
  MigrationTaskTimeoutError,
  PendingCheckFailedError,
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
const config = {
  cluster: 'shop',
  containerName: 'app',
  timeoutSeconds: 7200,
  pendingCheckTimeoutSeconds: 300,
};
const logsMock = mockClient(CloudWatchLogsClient);
const logsRegions: (string | undefined)[] = [];
const handler = createMigrationTaskHandler(
  {
    ecs: new ECSClient({ region: 'eu-west-1' }),
    logs: (region) => {
      logsRegions.push(region);
      return new CloudWatchLogsClient({ region: region ?? 'eu-west-1' });
    },
    log: logger,
    config,
  },
  logger,
);
const REVISION = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/app:43';
const event = (outcome: unknown, action: 'migration' | 'pendingCheck' = 'migration') => ({
  action,
  executionId: 'arn:aws:states:eu-west-1:123456789012:execution:release:v1-5-0',
  release: { release: 'v1.5.0' },
  startedBy: 'lockstep-v1-5-0',
  taskDefinitionArn: REVISION,
  outcome,
});

/** The revision's container logs with awslogs to /ecs/shop, prefix `web`. */
function logsTo(group = '/ecs/shop', options: Record<string, string> = {}): void {
  ecsMock.on(DescribeTaskDefinitionCommand, { taskDefinition: REVISION }).resolves({
    taskDefinition: {
      containerDefinitions: [
        {
          name: 'app',
          logConfiguration: {
            logDriver: 'awslogs',
            options: { 'awslogs-group': group, 'awslogs-stream-prefix': 'web', ...options },
          },
        },
      ],
    },
  });
}
const TASK_ID = MIGRATION_TASK_ARN.split('/').pop();

describe('the migration-task step', () => {
  beforeEach(() => {
    ecsMock.reset();
    logsMock.reset();
    logsRegions.length = 0;
  });

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

  it('says what succeeded, for the success notice', async () => {
    const result = await handler(event({ task: TASK_SHAPES.succeeded }));

    assert.ok('summary' in result);
    assert.match(result.summary, /exited 0/);
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
      { cluster: 'shop', containerName: 'app', timeoutSeconds: 600, pendingCheckTimeoutSeconds: undefined },
    );
  });

  it('reads the pending check’s timeout when the flow has one', () => {
    const config = readMigrationTaskConfig({
      ECS_CLUSTER: 'shop',
      CONTAINER_NAME: 'app',
      PENDING_CHECK_TIMEOUT_SECONDS: '300',
    });

    assert.equal(config.pendingCheckTimeoutSeconds, 300);
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

describe('a failed command’s last lines in the alert', () => {
  beforeEach(() => {
    ecsMock.reset();
    logsMock.reset();
    logsRegions.length = 0;
  });

  it('reads the end of the container’s awslogs stream and puts the lines, oldest first and uncoloured, in the error', async () => {
    logsTo();
    logsMock.on(GetLogEventsCommand).resolves({
      events: [
        { timestamp: 3, message: 'django.db.utils.ProgrammingError: column "email" does not exist\n' },
        { timestamp: 1, message: 'Applying shop.0042_add_email...' },
        { timestamp: 2, message: '\x1b[31mTraceback\x1b[39m (most recent call last):' },
      ],
    });

    await assert.rejects(handler(event({ task: TASK_SHAPES.exitedNonZero })), (err) => {
      assert.ok(err instanceof MigrationCommandFailedError);
      assert.match(
        err.message,
        /exited with code 1 .*\n\nLast 3 lines of its output \(CloudWatch Logs \/ecs\/shop, stream web\/app\/[0-9a-f]+\):\n {2}\| Applying shop\.0042_add_email\.\.\.\n {2}\| Traceback \(most recent call last\):\n {2}\| django\.db\.utils\.ProgrammingError: column "email" does not exist$/s,
      );
      return true;
    });
    assert.deepEqual(logsMock.commandCalls(GetLogEventsCommand)[0]?.args[0].input, {
      logGroupName: '/ecs/shop',
      logStreamName: `web/app/${TASK_ID}`,
      startFromHead: false,
      limit: 30,
    });
  });

  it('bounds the lines it carries, keeping the last ones', async () => {
    logsTo();
    logsMock.on(GetLogEventsCommand).resolves({
      events: Array.from({ length: 30 }, (_, i) => ({ timestamp: i, message: `${i} ${'x'.repeat(200)}` })),
    });

    await assert.rejects(handler(event({ task: TASK_SHAPES.exitedNonZero })), (err) => {
      assert.ok(err instanceof MigrationCommandFailedError);
      const output = err.output ?? '';
      assert.ok(output.length < 2_300, `${output.length} characters`);
      assert.match(output, /^Last 9 lines of its output .*, 21 more cut for length:/);
      assert.match(output, /\| 29 x+$/);
      return true;
    });
  });

  it('reads the log group in the region awslogs-region names', async () => {
    logsTo('/ecs/shop', { 'awslogs-region': 'us-east-1' });
    logsMock.on(GetLogEventsCommand).resolves({ events: [{ timestamp: 1, message: 'boom' }] });

    await assert.rejects(handler(event({ task: TASK_SHAPES.exitedNonZero })), /\| boom/);
    assert.deepEqual(logsRegions, ['us-east-1']);
  });

  it('still fails with the migration’s error, saying so, when the log cannot be read', async () => {
    logsTo();
    logsMock.on(GetLogEventsCommand).rejects(
      Object.assign(new Error('not authorized to perform logs:GetLogEvents'), {
        name: 'AccessDeniedException',
      }),
    );

    await assert.rejects(handler(event({ task: TASK_SHAPES.exitedNonZero })), (err) => {
      assert.ok(err instanceof MigrationCommandFailedError);
      assert.equal(err.exitCode, 1);
      assert.match(
        err.message,
        /Its output could not be read \(AccessDeniedException: not authorized to perform logs:GetLogEvents\): see CloudWatch Logs \/ecs\/shop, stream web\/app\//,
      );
      return true;
    });
  });

  it('still fails with the migration’s error when the task definition cannot be described', async () => {
    ecsMock.on(DescribeTaskDefinitionCommand).rejects(new Error('throttled'));

    await assert.rejects(handler(event({ task: TASK_SHAPES.exitedNonZero })), (err) => {
      assert.ok(err instanceof MigrationCommandFailedError);
      assert.match(err.message, /Its output could not be read \(Error: throttled\)\.$/);
      return true;
    });
    assert.equal(logsMock.calls().length, 0);
  });

  it('says where the output is not when the container does not log with awslogs', async () => {
    ecsMock
      .on(DescribeTaskDefinitionCommand)
      .resolves({ taskDefinition: { containerDefinitions: [{ name: 'app' }] } });

    await assert.rejects(
      handler(event({ task: TASK_SHAPES.exitedNonZero })),
      /does not log with the awslogs driver/,
    );
    assert.equal(logsMock.calls().length, 0);
  });

  it('carries the last lines of a timed-out command too', async () => {
    logsTo();
    ecsMock.on(ListTasksCommand).resolves({ taskArns: [MIGRATION_TASK_ARN] });
    ecsMock.on(StopTaskCommand).resolves({});
    logsMock
      .on(GetLogEventsCommand)
      .resolves({ events: [{ timestamp: 1, message: 'still backfilling 41%' }] });

    await assert.rejects(handler(event({ error: TASK_ERRORS.timedOut })), (err) => {
      assert.ok(err instanceof MigrationTaskTimeoutError);
      assert.match(err.message, /was stopped \(StopTask\).*\| still backfilling 41%$/s);
      return true;
    });
  });

  it('reads no log for a task that never ran', async () => {
    await assert.rejects(handler(event({ task: TASK_SHAPES.pullFailed })), MigrationTaskNotStartedError);
    assert.equal(ecsMock.commandCalls(DescribeTaskDefinitionCommand).length, 0);
  });
});

describe('the pending check’s verdict', () => {
  beforeEach(() => ecsMock.reset());

  it('reads exit 0 as nothing pending, calling nothing', async () => {
    const result = await handler(event({ task: TASK_SHAPES.succeeded }, 'pendingCheck'));

    assert.deepEqual(
      { ...result, consoleUrl: undefined },
      {
        pending: false,
        exitCode: 0,
        taskArn: MIGRATION_TASK_ARN,
        consoleUrl: undefined,
        summary:
          'Nothing was pending (the pending check exited 0): no snapshot, and the migration command did not run.',
      },
    );
    assert.equal(ecsMock.calls().length, 0);
  });

  it('reads a non-zero exit of a command that ended by itself as pending, whatever the code', async () => {
    for (const exitCode of [1, 2, 255]) {
      const task = structuredClone(TASK_SHAPES.exitedNonZero) as { Containers: { ExitCode: number }[] };
      (task.Containers[0] as { ExitCode: number }).ExitCode = exitCode;

      const result = await handler(event({ task }, 'pendingCheck'));

      assert.ok('pending' in result);
      assert.equal(result.pending, true, `exit ${exitCode}`);
      assert.equal(result.exitCode, exitCode);
    }
  });

  it('never guesses: a check that never started, was not placed, or was stopped by ECS gives no answer', async () => {
    for (const outcome of [
      { task: TASK_SHAPES.pullFailed },
      { task: TASK_SHAPES.neverStarted },
      { error: TASK_ERRORS.notPlaced },
      { error: TASK_ERRORS.invalidParameter },
      { task: TASK_SHAPES.stoppedByUser },
      { task: TASK_SHAPES.spotInterrupted },
    ]) {
      await assert.rejects(handler(event(outcome, 'pendingCheck')), (err) => {
        assert.ok(err instanceof PendingCheckFailedError, JSON.stringify(outcome).slice(0, 80));
        assert.match(err.message, /gave no answer/);
        return true;
      });
    }
  });

  it('names why the check gave no answer', async () => {
    await assert.rejects(
      handler(event({ task: TASK_SHAPES.pullFailed }, 'pendingCheck')),
      /CannotPullContainerError/,
    );
    await assert.rejects(handler(event({ error: TASK_ERRORS.notPlaced }, 'pendingCheck')), /RESOURCE:MEMORY/);
    await assert.rejects(
      handler(event({ task: TASK_SHAPES.spotInterrupted }, 'pendingCheck')),
      /stopCode SpotInterruption .*its exit code 0 is no answer/,
    );
  });

  it('stops a check that ran past its timeout, by its own startedBy, and fails naming the timeout', async () => {
    ecsMock.on(ListTasksCommand).resolves({ taskArns: [MIGRATION_TASK_ARN] });
    ecsMock.on(StopTaskCommand).resolves({});

    await assert.rejects(handler(event({ error: TASK_ERRORS.timedOut }, 'pendingCheck')), (err) => {
      assert.ok(err instanceof PendingCheckFailedError);
      assert.match(err.message, /ran past its timeout of 300 s and was stopped \(StopTask\)/);
      return true;
    });
    const stop = ecsMock.commandCalls(StopTaskCommand)[0]?.args[0].input;
    assert.equal(stop?.task, MIGRATION_TASK_ARN);
    assert.match(stop?.reason ?? '', /pending check/);
  });

  it('rejects an event with an unknown action', async () => {
    await assert.rejects(
      handler({ ...event({ task: TASK_SHAPES.succeeded }), action: 'plan' }),
      InvalidInputError,
    );
  });
});
