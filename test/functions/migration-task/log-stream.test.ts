import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContainerDefinition } from '@aws-sdk/client-ecs';
import { taskLogStream } from '../../../functions/migration-task/log-stream.ts';
import { MIGRATION_TASK_ARN } from '../../../rehearsal/stand-ins/ecs-task-shapes.ts';

const app: ContainerDefinition = {
  name: 'app',
  logConfiguration: {
    logDriver: 'awslogs',
    options: {
      'awslogs-group': '/ecs/shop-api',
      'awslogs-region': 'eu-west-1',
      'awslogs-stream-prefix': 'web',
    },
  },
};

describe('the migration task’s log stream', () => {
  it('is prefix/container/task-id in the awslogs group', () => {
    assert.deepEqual(taskLogStream(app, MIGRATION_TASK_ARN), {
      logGroup: '/ecs/shop-api',
      logStream: 'web/app/0f4a8c4b2f1e4d3c9b8a7f6e5d4c3b2a',
      region: 'eu-west-1',
    });
  });

  it('takes the task id from an old-format ARN too', () => {
    const stream = taskLogStream(app, 'arn:aws:ecs:eu-west-1:123456789012:task/0f4a8c4b');

    assert.equal(stream?.logStream, 'web/app/0f4a8c4b');
  });

  it('is unknown without a stream prefix, or with another log driver', () => {
    const noPrefix: ContainerDefinition = {
      ...app,
      logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/ecs/shop-api' } },
    };
    const firelens: ContainerDefinition = { ...app, logConfiguration: { logDriver: 'awsfirelens' } };

    assert.equal(taskLogStream(noPrefix, MIGRATION_TASK_ARN), undefined);
    assert.equal(taskLogStream(firelens, MIGRATION_TASK_ARN), undefined);
  });
});
