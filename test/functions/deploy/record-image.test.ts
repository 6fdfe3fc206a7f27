import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { DescribeServicesCommand, ECSClient, type Service } from '@aws-sdk/client-ecs';
import {
  PutParameterCommand,
  SSMClient,
  SSMServiceException,
  ThrottlingException,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { readDeployConfig } from '../../../functions/deploy/config.ts';
import { createDeployHandler, type DeployConfig } from '../../../functions/deploy/deploy.ts';
import {
  ConfigError,
  DeploymentFailedError,
  ImageNotRecordedError,
} from '../../../functions/shared/errors.ts';
import { createLogger } from '../../../functions/shared/logger.ts';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
const logger = createLogger('test');
const ecsMock = mockClient(ECSClient);
const ssmMock = mockClient(SSMClient);

const PARAMETER = '/lockstep/LockstepRelease/app-image';
const TD = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/app:42';
const IMAGE = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:${'ab12'.repeat(16)}`;
const config: DeployConfig = {
  cluster: 'shop',
  service: 'app',
  containerName: 'app',
  deployTimeoutSeconds: 900,
  imageParameter: PARAMETER,
};
const status = {
  action: 'status',
  executionId: 'arn:aws:states:eu-west-1:123456789012:execution:release:v1-5-0',
  release: {
    release: 'v1.5.0',
    image: IMAGE,
    migrations: 'bundled',
    options: { skipSnapshot: false, dryRun: false },
  },
  deployment: { taskDefinitionArn: TD, deploymentId: 'ecs-svc/2' },
};

function serviceWhoseRolloutIs(rolloutState: 'IN_PROGRESS' | 'COMPLETED' | 'FAILED'): {
  services: Service[];
} {
  return {
    services: [
      {
        status: 'ACTIVE',
        taskDefinition: TD,
        deployments: [
          {
            id: 'ecs-svc/2',
            status: 'PRIMARY',
            taskDefinition: TD,
            rolloutState,
            desiredCount: 2,
            runningCount: rolloutState === 'COMPLETED' ? 2 : 0,
            pendingCount: 0,
            failedTasks: rolloutState === 'FAILED' ? 3 : 0,
          },
        ],
      },
    ],
  };
}

const handlerWith = (c: DeployConfig = config, withSsm = true) =>
  createDeployHandler(
    {
      ecs: new ECSClient({}),
      ssm: withSsm ? new SSMClient({}) : undefined,
      log: logger,
      now: () => new Date('2025-05-06T07:08:09Z'),
      config: c,
    },
    logger,
  );

beforeEach(() => {
  ecsMock.reset();
  ssmMock.reset();
  ssmMock.on(PutParameterCommand).resolves({ Version: 7 });
});

describe('recording the released image', () => {
  it('writes the release image, as pinned by digest, once the rollout COMPLETED', async () => {
    ecsMock.on(DescribeServicesCommand).resolves(serviceWhoseRolloutIs('COMPLETED'));

    const result = await handlerWith()(status);

    assert.equal((result as { done: boolean }).done, true);
    assert.deepEqual(
      ssmMock.commandCalls(PutParameterCommand).map((c) => c.args[0].input),
      [{ Name: PARAMETER, Value: IMAGE, Type: 'String', Overwrite: true }],
    );
  });

  it('writes nothing while the rollout is in progress, nor when it failed', async () => {
    ecsMock.on(DescribeServicesCommand).resolves(serviceWhoseRolloutIs('IN_PROGRESS'));
    assert.equal(((await handlerWith()(status)) as { done: boolean }).done, false);

    ecsMock.on(DescribeServicesCommand).resolves(serviceWhoseRolloutIs('FAILED'));
    await assert.rejects(handlerWith()(status), DeploymentFailedError);

    assert.equal(ssmMock.commandCalls(PutParameterCommand).length, 0);
  });

  it('writes nothing without IMAGE_PARAMETER, and needs no SSM client then', async () => {
    ecsMock.on(DescribeServicesCommand).resolves(serviceWhoseRolloutIs('COMPLETED'));
    const { imageParameter: _, ...withoutParameter } = config;

    await handlerWith(withoutParameter, false)(status);

    assert.equal(ssmMock.commandCalls(PutParameterCommand).length, 0);
  });

  it('a refused write fails the step with ImageNotRecordedError saying the app runs the release and what to run', async () => {
    ecsMock.on(DescribeServicesCommand).resolves(serviceWhoseRolloutIs('COMPLETED'));
    ssmMock.on(PutParameterCommand).rejects(
      new SSMServiceException({
        name: 'AccessDeniedException',
        $fault: 'client',
        $metadata: {},
        message: 'not authorized to perform: ssm:PutParameter',
      }),
    );

    const err = await handlerWith()(status).then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e,
    );

    assert.ok(err instanceof ImageNotRecordedError);
    assert.equal(err.name, 'ImageNotRecordedError');
    assert.match(err.message, /rollout COMPLETED/);
    assert.match(err.message, /AccessDeniedException: not authorized/);
    assert.ok(
      err.message.includes(
        `aws ssm put-parameter --name ${PARAMETER} --type String --overwrite --value ${IMAGE}`,
      ),
    );
  });

  it('throttling is passed on unchanged, for the state machine to retry', async () => {
    ecsMock.on(DescribeServicesCommand).resolves(serviceWhoseRolloutIs('COMPLETED'));
    ssmMock
      .on(PutParameterCommand)
      .rejects(
        new ThrottlingException({ $metadata: {}, Message: 'Rate exceeded', message: 'Rate exceeded' }),
      );

    await assert.rejects(handlerWith()(status), { name: 'ThrottlingException' });
  });

  it('a parameter but no SSM client is a ConfigError, before anything is written', async () => {
    ecsMock.on(DescribeServicesCommand).resolves(serviceWhoseRolloutIs('COMPLETED'));
    await assert.rejects(handlerWith(config, false)(status), ConfigError);
  });
});

describe('IMAGE_PARAMETER', () => {
  const env = { ECS_CLUSTER: 'shop', ECS_SERVICE: 'app', CONTAINER_NAME: 'app' };

  it('is optional', () => {
    assert.equal(readDeployConfig(env).imageParameter, undefined);
  });

  it('takes a parameter name, with or without a leading slash', () => {
    for (const name of [PARAMETER, 'app-image', '/team.a/app_image-1']) {
      assert.equal(readDeployConfig({ ...env, IMAGE_PARAMETER: name }).imageParameter, name);
    }
  });

  it('refuses an ARN, a reserved prefix, spaces and empty levels, naming the variable', () => {
    for (const bad of [
      'arn:aws:ssm:eu-west-1:123456789012:parameter/app-image',
      '/aws/service/app',
      'ssm-image',
      '/app image',
      '/app//image',
      '',
    ]) {
      assert.throws(
        () => readDeployConfig({ ...env, IMAGE_PARAMETER: bad }),
        (e: unknown) => e instanceof ConfigError && e.variable === 'IMAGE_PARAMETER',
        bad,
      );
    }
  });
});
