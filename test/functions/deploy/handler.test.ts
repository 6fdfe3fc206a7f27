import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { InvalidInputError, RolloutTimeoutError } from '../../../functions/shared/errors.ts';

// The handler reads its configuration when it is loaded, as at a Lambda cold start.
Object.assign(process.env, {
  ECS_CLUSTER: 'shop-prod',
  ECS_SERVICE: 'shop-api',
  CONTAINER_NAME: 'app',
  POWERTOOLS_LOG_LEVEL: 'ERROR',
  AWS_REGION: 'eu-west-1',
});
const { handler } = await import('../../../functions/deploy/handler.ts');

const ecsMock = mockClient(ECSClient);
const TD = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-api:42';
const event = {
  executionId: 'arn:aws:states:eu-west-1:123456789012:execution:lockstep-release:v1.5.0-1a2b',
  release: {
    release: 'v1.5.0',
    image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-api:v1.5.0',
    migrations: 'bundled',
    options: { skipSnapshot: false, dryRun: false },
  },
};

beforeEach(() => {
  ecsMock.reset();
});

describe('deploy handler', () => {
  it('rejects a malformed event before any AWS call', async () => {
    for (const raw of [
      { ...event, action: 'rollback' },
      { ...event, action: 'start', release: { ...event.release, image: undefined } },
    ]) {
      await assert.rejects(handler(raw), InvalidInputError);
    }
    assert.equal(ecsMock.calls().length, 0);
  });

  it('answers status with the configured service’s deployment', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({
      services: [
        {
          status: 'ACTIVE',
          taskDefinition: TD,
          deployments: [
            {
              id: 'ecs-svc/1',
              status: 'PRIMARY',
              taskDefinition: TD,
              rolloutState: 'COMPLETED',
              desiredCount: 2,
              runningCount: 2,
              pendingCount: 0,
              failedTasks: 0,
            },
          ],
        },
      ],
    });

    const result = await handler({
      ...event,
      action: 'status',
      deployment: { taskDefinitionArn: TD, deploymentId: 'ecs-svc/1' },
    });

    assert.deepEqual(result, {
      rolloutState: 'COMPLETED',
      done: true,
      desiredCount: 2,
      runningCount: 2,
      pendingCount: 0,
      failedTasks: 0,
    });
    assert.deepEqual(ecsMock.commandCalls(DescribeServicesCommand)[0]?.args[0].input, {
      cluster: 'shop-prod',
      services: ['shop-api'],
    });
  });

  it('times status out against the real clock once the deployment’s waitUntil has passed', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({
      services: [
        {
          status: 'ACTIVE',
          taskDefinition: TD,
          deployments: [
            { id: 'ecs-svc/1', status: 'PRIMARY', taskDefinition: TD, rolloutState: 'IN_PROGRESS' },
          ],
        },
      ],
    });
    const deployment = { taskDefinitionArn: TD, deploymentId: 'ecs-svc/1' };

    const later = new Date(Date.now() + 60_000).toISOString();
    const inProgress = await handler({
      ...event,
      action: 'status',
      deployment: { ...deployment, waitUntil: later },
    });
    const earlier = new Date(Date.now() - 1_000).toISOString();
    const timedOut = handler({
      ...event,
      action: 'status',
      deployment: { ...deployment, waitUntil: earlier },
    });

    assert.equal((inProgress as { done: boolean }).done, false);
    await assert.rejects(timedOut, RolloutTimeoutError);
  });
});
