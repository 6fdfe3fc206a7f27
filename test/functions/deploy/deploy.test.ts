import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  AccessDeniedException,
  ClusterNotFoundException,
  type ContainerDefinition,
  type Deployment,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  type DescribeTaskDefinitionCommandOutput,
  ECSClient,
  ECSServiceException,
  InvalidParameterException,
  RegisterTaskDefinitionCommand,
  type Service,
  ServiceNotFoundException,
  type TaskDefinition,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { readDeployConfig } from '../../../functions/deploy/config.ts';
import {
  checkDeployment,
  type DeployConfig,
  type DeployDeps,
  parseDeployEvent,
  registerRevision,
  startDeployment,
} from '../../../functions/deploy/deploy.ts';
import {
  ConfigError,
  DeploymentFailedError,
  DeployTargetInvalidError,
  InvalidInputError,
  RETRYABLE_ERRORS,
  RolloutTimeoutError,
} from '../../../functions/shared/errors.ts';
import type { Log } from '../../../functions/shared/logger.ts';
import type { ReleaseInput } from '../../../functions/shared/release-input.ts';

const ACCOUNT = '123456789012';
const CLUSTER = 'shop-prod';
const SERVICE_ARN = `arn:aws:ecs:eu-west-1:${ACCOUNT}:service/shop-prod/shop-api`;
const CURRENT_TD = `arn:aws:ecs:eu-west-1:${ACCOUNT}:task-definition/shop-api:41`;
const NEW_TD = `arn:aws:ecs:eu-west-1:${ACCOUNT}:task-definition/shop-api:42`;
const OLD_IMAGE = `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/shop-api:v1.4.0`;
const NEW_IMAGE = `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/shop-api@sha256:${'ab12'.repeat(16)}`;
const SECRET_ENV_VALUE = 'https://flags.internal.example.com/?token=do-not-log-me';

const config: DeployConfig = {
  cluster: CLUSTER,
  service: SERVICE_ARN,
  containerName: 'app',
  deployTimeoutSeconds: 900,
};

const NOW = new Date('2025-05-06T07:08:09.123Z');
/** NOW plus the test config's 900-second DEPLOY_TIMEOUT_SECONDS. */
const WAIT_UNTIL = '2025-05-06T07:23:09.123Z';
const ONE_SECOND_BEFORE_NOW = '2025-05-06T07:08:08.123Z';
const ONE_SECOND_AFTER_NOW = '2025-05-06T07:08:10.123Z';

const release: ReleaseInput = {
  release: 'v1.5.0',
  image: NEW_IMAGE,
  migrations: 'bundled',
  options: { skipSnapshot: false, dryRun: false },
};

const appContainer: ContainerDefinition = {
  name: 'app',
  image: OLD_IMAGE,
  cpu: 0,
  essential: true,
  portMappings: [{ containerPort: 8080, hostPort: 8080, protocol: 'tcp', name: 'http', appProtocol: 'http' }],
  environment: [
    { name: 'NODE_ENV', value: 'production' },
    { name: 'FEATURE_FLAGS_URL', value: SECRET_ENV_VALUE },
  ],
  secrets: [
    {
      name: 'DATABASE_URL',
      valueFrom: `arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:shop/db-url-AbCdEf`,
    },
  ],
  mountPoints: [],
  volumesFrom: [],
  dependsOn: [{ containerName: 'otel-collector', condition: 'START' }],
  healthCheck: {
    command: ['CMD-SHELL', 'wget -qO- http://localhost:8080/health || exit 1'],
    interval: 30,
    timeout: 5,
    retries: 3,
    startPeriod: 10,
  },
  logConfiguration: {
    logDriver: 'awslogs',
    options: {
      'awslogs-group': '/ecs/shop-api',
      'awslogs-region': 'eu-west-1',
      'awslogs-stream-prefix': 'app',
    },
  },
  systemControls: [],
};

const sidecarContainer: ContainerDefinition = {
  name: 'otel-collector',
  image: 'public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0',
  cpu: 0,
  essential: false,
  command: ['--config=/etc/ecs/ecs-default-config.yaml'],
  portMappings: [],
  environment: [],
  mountPoints: [],
  volumesFrom: [],
  logConfiguration: {
    logDriver: 'awslogs',
    options: {
      'awslogs-group': '/ecs/shop-api',
      'awslogs-region': 'eu-west-1',
      'awslogs-stream-prefix': 'otel',
    },
  },
  systemControls: [],
};

/** What DescribeTaskDefinition returns for a Fargate service, read-only fields included. */
function describedTaskDefinition(app: ContainerDefinition = appContainer): TaskDefinition {
  return {
    taskDefinitionArn: CURRENT_TD,
    containerDefinitions: [app, sidecarContainer],
    family: 'shop-api',
    taskRoleArn: `arn:aws:iam::${ACCOUNT}:role/shop-api-task`,
    executionRoleArn: `arn:aws:iam::${ACCOUNT}:role/shop-api-execution`,
    networkMode: 'awsvpc',
    revision: 41,
    volumes: [],
    status: 'ACTIVE',
    requiresAttributes: [
      { name: 'com.amazonaws.ecs.capability.logging-driver.awslogs' },
      { name: 'ecs.capability.execution-role-awslogs' },
      { name: 'ecs.capability.secrets.asm.environment-variables' },
      { name: 'com.amazonaws.ecs.capability.task-iam-role' },
      { name: 'ecs.capability.container-health-check' },
      { name: 'ecs.capability.task-eni' },
    ],
    placementConstraints: [],
    compatibilities: ['EC2', 'FARGATE'],
    runtimePlatform: { cpuArchitecture: 'ARM64', operatingSystemFamily: 'LINUX' },
    requiresCompatibilities: ['FARGATE'],
    cpu: '512',
    memory: '1024',
    ephemeralStorage: { sizeInGiB: 30 },
    registeredAt: new Date('2025-05-02T09:14:00Z'),
    registeredBy: `arn:aws:sts::${ACCOUNT}:assumed-role/cdk-hnb659fds-cfn-exec-role/AWSCloudFormation`,
    enableFaultInjection: false,
  };
}

const describedTags = [
  { key: 'team', value: 'payments' },
  { key: 'cost-center', value: 'cc-1042' },
  { key: 'aws:cloudformation:stack-name', value: 'ShopApiStack' },
];

function describeTaskDefinitionOutput(app?: ContainerDefinition): DescribeTaskDefinitionCommandOutput {
  return { taskDefinition: describedTaskDefinition(app), tags: describedTags, $metadata: {} };
}

function deployment(overrides: Partial<Deployment>): Deployment {
  return {
    id: 'ecs-svc/1111111111111111111',
    status: 'PRIMARY',
    taskDefinition: NEW_TD,
    desiredCount: 3,
    runningCount: 3,
    pendingCount: 0,
    failedTasks: 0,
    launchType: 'FARGATE',
    rolloutState: 'IN_PROGRESS',
    rolloutStateReason: 'ECS deployment ecs-svc/1111111111111111111 in progress.',
    ...overrides,
  };
}

function service(overrides: Partial<Service> = {}): Service {
  return {
    serviceArn: SERVICE_ARN,
    serviceName: 'shop-api',
    clusterArn: `arn:aws:ecs:eu-west-1:${ACCOUNT}:cluster/${CLUSTER}`,
    status: 'ACTIVE',
    desiredCount: 3,
    runningCount: 3,
    pendingCount: 0,
    launchType: 'FARGATE',
    taskDefinition: CURRENT_TD,
    deploymentController: { type: 'ECS' },
    deployments: [
      deployment({
        id: 'ecs-svc/0000000000000000000',
        taskDefinition: CURRENT_TD,
        rolloutState: 'COMPLETED',
      }),
    ],
    ...overrides,
  };
}

const ecsMock = mockClient(ECSClient);

interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly extra: Record<string, unknown> | undefined;
}

function captureLog(): Log & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (message: string, extra?: Record<string, unknown>) =>
    void lines.push({ level, message, extra });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

let log: ReturnType<typeof captureLog>;
let deps: DeployDeps;

beforeEach(() => {
  ecsMock.reset();
  log = captureLog();
  deps = { ecs: new ECSClient({ region: 'eu-west-1' }), log, now: () => NOW, config };
});

function sdkError<E extends Error>(
  Exception: new (opts: { message: string; $metadata: object }) => E,
  message: string,
): E {
  return new Exception({ message, $metadata: {} });
}

function commandNames(): string[] {
  return ecsMock.calls().map((call) => (call.args[0] as object).constructor.name);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

describe('startDeployment', () => {
  function stubHappyPath(): void {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service()], failures: [] });
    ecsMock.on(DescribeTaskDefinitionCommand).resolves(describeTaskDefinitionOutput());
    ecsMock.on(RegisterTaskDefinitionCommand).resolves({
      taskDefinition: { ...describedTaskDefinition(), taskDefinitionArn: NEW_TD, revision: 42 },
    });
    ecsMock.on(UpdateServiceCommand).resolves({
      service: service({
        taskDefinition: NEW_TD,
        deployments: [
          deployment({ id: 'ecs-svc/2222222222222222222', runningCount: 0, desiredCount: 3 }),
          deployment({
            id: 'ecs-svc/0000000000000000000',
            status: 'ACTIVE',
            taskDefinition: CURRENT_TD,
            rolloutState: 'COMPLETED',
          }),
        ],
      }),
    });
  }

  it('registers a copy of the task definition with only the app image replaced, then updates the service', async () => {
    stubHappyPath();

    const started = await startDeployment(deps, release);

    assert.deepEqual(started, {
      taskDefinitionArn: NEW_TD,
      deploymentId: 'ecs-svc/2222222222222222222',
      previousTaskDefinitionArn: CURRENT_TD,
      waitUntil: WAIT_UNTIL,
    });
    assert.deepEqual(commandNames(), [
      'DescribeServicesCommand',
      'DescribeTaskDefinitionCommand',
      'RegisterTaskDefinitionCommand',
      'UpdateServiceCommand',
    ]);
    assert.deepEqual(ecsMock.commandCalls(DescribeServicesCommand)[0]?.args[0].input, {
      cluster: CLUSTER,
      services: [SERVICE_ARN],
    });
    assert.deepEqual(ecsMock.commandCalls(DescribeTaskDefinitionCommand)[0]?.args[0].input, {
      taskDefinition: CURRENT_TD,
      include: ['TAGS'],
    });
    assert.deepEqual(ecsMock.commandCalls(UpdateServiceCommand)[0]?.args[0].input, {
      cluster: CLUSTER,
      service: SERVICE_ARN,
      taskDefinition: NEW_TD,
    });
  });

  it('registers every writable field as described, no read-only field, and only user tags', async () => {
    stubHappyPath();

    await startDeployment(deps, release);

    const registered = ecsMock.commandCalls(RegisterTaskDefinitionCommand)[0]?.args[0].input;
    assert.deepEqual(registered, {
      family: 'shop-api',
      taskRoleArn: `arn:aws:iam::${ACCOUNT}:role/shop-api-task`,
      executionRoleArn: `arn:aws:iam::${ACCOUNT}:role/shop-api-execution`,
      networkMode: 'awsvpc',
      containerDefinitions: [{ ...appContainer, image: NEW_IMAGE }, sidecarContainer],
      volumes: [],
      placementConstraints: [],
      requiresCompatibilities: ['FARGATE'],
      cpu: '512',
      memory: '1024',
      runtimePlatform: { cpuArchitecture: 'ARM64', operatingSystemFamily: 'LINUX' },
      ephemeralStorage: { sizeInGiB: 30 },
      enableFaultInjection: false,
      tags: [
        { key: 'team', value: 'payments' },
        { key: 'cost-center', value: 'cc-1042' },
      ],
    });
    for (const readOnly of [
      'taskDefinitionArn',
      'revision',
      'status',
      'requiresAttributes',
      'compatibilities',
      'registeredAt',
      'registeredBy',
      'deregisteredAt',
      'deleteRequestedAt',
    ])
      assert.ok(!(readOnly in (registered ?? {})), `${readOnly} is not sent`);
  });

  it('changes nothing in the app container but its image, and passes the sidecar through untouched', async () => {
    stubHappyPath();

    await startDeployment(deps, release);

    const [app, sidecar, ...rest] =
      ecsMock.commandCalls(RegisterTaskDefinitionCommand)[0]?.args[0].input.containerDefinitions ?? [];
    const { image, ...appWithoutImage } = app ?? {};
    const { image: _oldImage, ...describedWithoutImage } = appContainer;
    assert.equal(image, NEW_IMAGE);
    assert.deepEqual(appWithoutImage, describedWithoutImage);
    assert.deepEqual(sidecar, sidecarContainer);
    assert.deepEqual(rest, []);
  });

  it('copies the optional task-level settings an EC2 task definition carries', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service()] });
    ecsMock.on(DescribeTaskDefinitionCommand).resolves({
      taskDefinition: {
        ...describedTaskDefinition(),
        networkMode: 'bridge',
        requiresCompatibilities: ['EC2'],
        pidMode: 'task',
        ipcMode: 'none',
        volumes: [{ name: 'scratch', host: { sourcePath: '/mnt/scratch' } }],
        placementConstraints: [{ type: 'memberOf', expression: 'attribute:ecs.instance-type =~ m7g.*' }],
        proxyConfiguration: { type: 'APPMESH', containerName: 'envoy', properties: [] },
        inferenceAccelerators: [{ deviceName: 'device1', deviceType: 'eia2.medium' }],
        deregisteredAt: new Date('2025-06-01T00:00:00Z'),
      },
    });
    ecsMock.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: NEW_TD } });
    ecsMock.on(UpdateServiceCommand).resolves({ service: service({ deployments: [deployment({})] }) });

    await startDeployment(deps, release);

    const registered = ecsMock.commandCalls(RegisterTaskDefinitionCommand)[0]?.args[0].input;
    assert.equal(registered?.networkMode, 'bridge');
    assert.equal(registered?.pidMode, 'task');
    assert.equal(registered?.ipcMode, 'none');
    assert.deepEqual(registered?.volumes, [{ name: 'scratch', host: { sourcePath: '/mnt/scratch' } }]);
    assert.deepEqual(registered?.placementConstraints, [
      { type: 'memberOf', expression: 'attribute:ecs.instance-type =~ m7g.*' },
    ]);
    assert.deepEqual(registered?.proxyConfiguration, {
      type: 'APPMESH',
      containerName: 'envoy',
      properties: [],
    });
    assert.deepEqual(registered?.inferenceAccelerators, [
      { deviceName: 'device1', deviceType: 'eia2.medium' },
    ]);
    assert.ok(!('deregisteredAt' in (registered ?? {})));
  });

  it('sends no tags when the task definition has none', async () => {
    stubHappyPath();
    ecsMock.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: describedTaskDefinition() });

    await startDeployment(deps, release);

    const registered = ecsMock.commandCalls(RegisterTaskDefinitionCommand)[0]?.args[0].input;
    assert.ok(!('tags' in (registered ?? {})));
  });

  it('rejects a task definition without the configured container, naming the containers it has', async () => {
    stubHappyPath();

    const err = await rejection(
      startDeployment({ ...deps, config: { ...config, containerName: 'web' } }, release),
    );

    assert.ok(err instanceof DeployTargetInvalidError, String(err));
    assert.match(err.message, /no container named "web"/);
    assert.match(err.message, /"app", "otel-collector"/);
    assert.deepEqual(commandNames(), ['DescribeServicesCommand', 'DescribeTaskDefinitionCommand']);
  });

  it('rejects a service DescribeServices reports missing', async () => {
    ecsMock
      .on(DescribeServicesCommand)
      .resolves({ services: [], failures: [{ arn: SERVICE_ARN, reason: 'MISSING' }] });

    const err = await rejection(startDeployment(deps, release));

    assert.ok(err instanceof DeployTargetInvalidError, String(err));
    assert.match(err.message, /shop-api.*was not found \(MISSING\)/);
    assert.deepEqual(commandNames(), ['DescribeServicesCommand']);
  });

  for (const status of ['INACTIVE', 'DRAINING']) {
    it(`rejects a service that is ${status} before registering anything`, async () => {
      ecsMock.on(DescribeServicesCommand).resolves({ services: [service({ status })] });

      const err = await rejection(startDeployment(deps, release));

      assert.ok(err instanceof DeployTargetInvalidError, String(err));
      assert.match(err.message, new RegExp(`is ${status}`));
      assert.deepEqual(commandNames(), ['DescribeServicesCommand']);
    });
  }

  it('rejects a service whose deployments another controller runs', async () => {
    ecsMock
      .on(DescribeServicesCommand)
      .resolves({ services: [service({ deploymentController: { type: 'CODE_DEPLOY' } })] });

    const err = await rejection(startDeployment(deps, release));

    assert.ok(err instanceof DeployTargetInvalidError, String(err));
    assert.match(err.message, /CODE_DEPLOY deployment controller/);
  });

  it('turns a missing cluster or a service deleted mid-start into DeployTargetInvalidError, keeping the cause', async () => {
    const clusterGone = sdkError(ClusterNotFoundException, 'Cluster not found.');
    ecsMock.on(DescribeServicesCommand).rejects(clusterGone);

    const first = await rejection(startDeployment(deps, release));

    assert.ok(first instanceof DeployTargetInvalidError, String(first));
    assert.equal(first.cause, clusterGone);
    assert.match(first.message, /ClusterNotFoundException: Cluster not found\./);

    ecsMock.reset();
    stubHappyPath();
    ecsMock.on(UpdateServiceCommand).rejects(sdkError(ServiceNotFoundException, 'Service not found.'));

    const second = await rejection(startDeployment(deps, release));

    assert.ok(second instanceof DeployTargetInvalidError, String(second));
    assert.match(second.message, /ServiceNotFoundException/);
  });

  it('passes access, parameter and throttling errors through unchanged, for the state machine to match by name', async () => {
    const errors = [
      sdkError(AccessDeniedException, 'not authorized to perform ecs:RegisterTaskDefinition'),
      sdkError(InvalidParameterException, 'Invalid setting for container "app"'),
      new ECSServiceException({
        name: 'ThrottlingException',
        $fault: 'client',
        message: 'Rate exceeded',
        $metadata: {},
      }),
    ];
    for (const error of errors) {
      ecsMock.reset();
      stubHappyPath();
      ecsMock.on(RegisterTaskDefinitionCommand).rejects(error);

      const err = await rejection(startDeployment(deps, release));

      assert.equal(err, error);
      assert.equal(ecsMock.commandCalls(UpdateServiceCommand).length, 0);
    }
  });

  it('on a retry after success registers nothing and returns the deployment already rolling out', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({
      services: [
        service({
          taskDefinition: CURRENT_TD,
          deployments: [
            deployment({ id: 'ecs-svc/2222222222222222222', taskDefinition: CURRENT_TD }),
            deployment({
              id: 'ecs-svc/0000000000000000000',
              status: 'ACTIVE',
              taskDefinition: `arn:aws:ecs:eu-west-1:${ACCOUNT}:task-definition/shop-api:40`,
            }),
          ],
        }),
      ],
    });
    ecsMock
      .on(DescribeTaskDefinitionCommand)
      .resolves(describeTaskDefinitionOutput({ ...appContainer, image: NEW_IMAGE }));

    const started = await startDeployment(deps, release);

    assert.deepEqual(started, {
      taskDefinitionArn: CURRENT_TD,
      deploymentId: 'ecs-svc/2222222222222222222',
      previousTaskDefinitionArn: `arn:aws:ecs:eu-west-1:${ACCOUNT}:task-definition/shop-api:40`,
      waitUntil: WAIT_UNTIL,
    });
    assert.deepEqual(commandNames(), ['DescribeServicesCommand', 'DescribeTaskDefinitionCommand']);
  });

  it('on a retry after the rollout finished reports no previous task definition', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({
      services: [
        service({
          deployments: [deployment({ id: 'ecs-svc/2222222222222222222', taskDefinition: CURRENT_TD })],
        }),
      ],
    });
    ecsMock
      .on(DescribeTaskDefinitionCommand)
      .resolves(describeTaskDefinitionOutput({ ...appContainer, image: NEW_IMAGE }));

    const started = await startDeployment(deps, release);

    assert.deepEqual(started, {
      taskDefinitionArn: CURRENT_TD,
      deploymentId: 'ecs-svc/2222222222222222222',
      previousTaskDefinitionArn: null,
      waitUntil: WAIT_UNTIL,
    });
    assert.equal(ecsMock.commandCalls(RegisterTaskDefinitionCommand).length, 0);
    assert.equal(ecsMock.commandCalls(UpdateServiceCommand).length, 0);
  });

  it('counts waitUntil from the clock with the configured DEPLOY_TIMEOUT_SECONDS', async () => {
    stubHappyPath();

    const started = await startDeployment(
      { ...deps, config: { ...config, deployTimeoutSeconds: 3600 } },
      release,
    );

    assert.equal(started.waitUntil, '2025-05-06T08:08:09.123Z');
  });

  it('logs ARNs and ids, never container definitions or their environment', async () => {
    stubHappyPath();

    await startDeployment(deps, release);

    const logged = JSON.stringify(log.lines);
    assert.match(logged, /task-definition\/shop-api:42/);
    assert.match(logged, /ecs-svc\/2222222222222222222/);
    assert.ok(!logged.includes(SECRET_ENV_VALUE));
    assert.ok(!logged.includes('secretsmanager'));
    assert.ok(!logged.includes('containerDefinitions'));
  });
});

describe('registerRevision and start with its revision (command mode)', () => {
  it('registers the release revision and changes nothing else, so the migration task runs it first', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service()], failures: [] });
    ecsMock.on(DescribeTaskDefinitionCommand).resolves(describeTaskDefinitionOutput());
    ecsMock.on(RegisterTaskDefinitionCommand).resolves({
      taskDefinition: { ...describedTaskDefinition(), taskDefinitionArn: NEW_TD, revision: 42 },
    });

    const registered = await registerRevision(deps, release);

    assert.deepEqual(registered, {
      taskDefinitionArn: NEW_TD,
      previousTaskDefinitionArn: CURRENT_TD,
      registered: true,
    });
    assert.deepEqual(commandNames(), [
      'DescribeServicesCommand',
      'DescribeTaskDefinitionCommand',
      'RegisterTaskDefinitionCommand',
    ]);
    const input = ecsMock.commandCalls(RegisterTaskDefinitionCommand)[0]?.args[0].input;
    assert.equal(input?.containerDefinitions?.find((c) => c.name === 'app')?.image, NEW_IMAGE);
  });

  it('reuses the running revision when the service already runs the release image', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service()], failures: [] });
    ecsMock
      .on(DescribeTaskDefinitionCommand)
      .resolves(describeTaskDefinitionOutput({ ...appContainer, image: NEW_IMAGE }));

    const registered = await registerRevision(deps, release);

    assert.deepEqual(registered, {
      taskDefinitionArn: CURRENT_TD,
      previousTaskDefinitionArn: CURRENT_TD,
      registered: false,
    });
    assert.equal(ecsMock.commandCalls(RegisterTaskDefinitionCommand).length, 0);
  });

  it('start with a revision updates the service to exactly that revision, registering nothing', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service()], failures: [] });
    ecsMock.on(UpdateServiceCommand).resolves({
      service: service({
        taskDefinition: NEW_TD,
        deployments: [deployment({ id: 'ecs-svc/2222222222222222222', taskDefinition: NEW_TD })],
      }),
    });

    const started = await startDeployment(deps, release, NEW_TD);

    assert.deepEqual(started, {
      taskDefinitionArn: NEW_TD,
      deploymentId: 'ecs-svc/2222222222222222222',
      previousTaskDefinitionArn: CURRENT_TD,
      waitUntil: WAIT_UNTIL,
    });
    assert.deepEqual(commandNames(), ['DescribeServicesCommand', 'UpdateServiceCommand']);
    assert.equal(ecsMock.commandCalls(UpdateServiceCommand)[0]?.args[0].input.taskDefinition, NEW_TD);
  });

  it('a retried start with a revision the service already runs updates nothing', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({
      services: [
        service({
          taskDefinition: NEW_TD,
          deployments: [deployment({ id: 'ecs-svc/2222222222222222222', taskDefinition: NEW_TD })],
        }),
      ],
    });

    const started = await startDeployment(deps, release, NEW_TD);

    assert.equal(started.taskDefinitionArn, NEW_TD);
    assert.deepEqual(commandNames(), ['DescribeServicesCommand']);
  });

  it('parses register events and a start naming its revision', () => {
    const base = { executionId: 'arn:x', release };

    assert.equal(parseDeployEvent({ action: 'register', ...base }).action, 'register');
    const start = parseDeployEvent({ action: 'start', ...base, taskDefinitionArn: NEW_TD });
    assert.equal(start.action === 'start' ? start.taskDefinitionArn : undefined, NEW_TD);
  });
});

describe('checkDeployment', () => {
  const ref = { taskDefinitionArn: NEW_TD, deploymentId: 'ecs-svc/2222222222222222222' };
  const previous = deployment({
    id: 'ecs-svc/0000000000000000000',
    status: 'ACTIVE',
    taskDefinition: CURRENT_TD,
    rolloutState: 'COMPLETED',
    runningCount: 3,
  });

  function stubDeployments(deployments: Deployment[]): void {
    ecsMock
      .on(DescribeServicesCommand)
      .resolves({ services: [service({ taskDefinition: NEW_TD, deployments })] });
  }

  it('reports an IN_PROGRESS rollout as not done, with its task counts', async () => {
    stubDeployments([
      deployment({ id: ref.deploymentId, runningCount: 1, pendingCount: 2, failedTasks: 1 }),
      previous,
    ]);

    const status = await checkDeployment(deps, ref);

    assert.deepEqual(status, {
      rolloutState: 'IN_PROGRESS',
      done: false,
      desiredCount: 3,
      runningCount: 1,
      pendingCount: 2,
      failedTasks: 1,
    });
    assert.deepEqual(ecsMock.commandCalls(DescribeServicesCommand)[0]?.args[0].input, {
      cluster: CLUSTER,
      services: [SERVICE_ARN],
    });
    assert.deepEqual(commandNames(), ['DescribeServicesCommand']);
  });

  it('reports a COMPLETED rollout as done', async () => {
    stubDeployments([deployment({ id: ref.deploymentId, rolloutState: 'COMPLETED' })]);

    const status = await checkDeployment(deps, ref);

    assert.deepEqual(status, {
      rolloutState: 'COMPLETED',
      done: true,
      desiredCount: 3,
      runningCount: 3,
      pendingCount: 0,
      failedTasks: 0,
    });
  });

  it('throws DeploymentFailedError with ECS’s reason when the circuit breaker failed the rollout', async () => {
    const reason =
      'ECS deployment circuit breaker: tasks failed to start. Rolling back to deployment ecs-svc/0000000000000000000.';
    stubDeployments([
      deployment({
        id: 'ecs-svc/3333333333333333333',
        taskDefinition: CURRENT_TD,
        rolloutState: 'IN_PROGRESS',
      }),
      deployment({
        id: ref.deploymentId,
        status: 'ACTIVE',
        rolloutState: 'FAILED',
        rolloutStateReason: reason,
        failedTasks: 4,
      }),
    ]);

    const err = await rejection(checkDeployment(deps, ref));

    assert.ok(err instanceof DeploymentFailedError, String(err));
    assert.equal(err.deploymentId, ref.deploymentId);
    assert.ok(err.message.includes(reason), err.message);
    assert.match(err.message, /the service now runs .*shop-api:41/);
  });

  it('throws DeploymentFailedError when the deployment is gone and the service runs another task definition', async () => {
    stubDeployments([
      deployment({
        id: 'ecs-svc/3333333333333333333',
        taskDefinition: CURRENT_TD,
        rolloutState: 'COMPLETED',
      }),
    ]);

    const err = await rejection(checkDeployment(deps, ref));

    assert.ok(err instanceof DeploymentFailedError, String(err));
    assert.match(
      err.message,
      /is no longer listed: the service now runs .*shop-api:41 \(deployment ecs-svc\/3333333333333333333\)/,
    );
  });

  it('throws DeploymentFailedError when a newer deployment of another task definition replaced it mid-rollout', async () => {
    stubDeployments([
      deployment({ id: 'ecs-svc/4444444444444444444', taskDefinition: `${NEW_TD.slice(0, -2)}43` }),
      deployment({ id: ref.deploymentId, status: 'ACTIVE', rolloutState: 'IN_PROGRESS', runningCount: 2 }),
    ]);

    const err = await rejection(checkDeployment(deps, ref));

    assert.ok(err instanceof DeploymentFailedError, String(err));
    assert.match(err.message, /was replaced before it completed: the service now runs .*shop-api:43/);
  });

  it('follows the deployment running the same task definition when the id is no longer listed', async () => {
    stubDeployments([deployment({ id: 'ecs-svc/5555555555555555555', rolloutState: 'COMPLETED' })]);

    const status = await checkDeployment(deps, ref);

    assert.equal(status.done, true);
    assert.equal(status.rolloutState, 'COMPLETED');
  });

  it('without a rolloutState is done once it is the only deployment and runs every desired task', async () => {
    const noState = { rolloutState: undefined, rolloutStateReason: undefined };
    stubDeployments([deployment({ id: ref.deploymentId, ...noState })]);

    const status = await checkDeployment(deps, ref);

    assert.deepEqual(status, {
      rolloutState: null,
      done: true,
      desiredCount: 3,
      runningCount: 3,
      pendingCount: 0,
      failedTasks: 0,
    });
  });

  it('without a rolloutState is not done while tasks are pending or the old deployment still runs', async () => {
    const noState = { rolloutState: undefined, rolloutStateReason: undefined };
    const cases: Deployment[][] = [
      [deployment({ id: ref.deploymentId, ...noState, runningCount: 2, pendingCount: 1 })],
      [deployment({ id: ref.deploymentId, ...noState, runningCount: 3 }), { ...previous, ...noState }],
    ];
    for (const deployments of cases) {
      ecsMock.reset();
      stubDeployments(deployments);

      const status = await checkDeployment(deps, ref);

      assert.equal(status.done, false);
      assert.equal(status.rolloutState, null);
    }
  });

  it('throws RolloutTimeoutError when the rollout is not done after waitUntil', async () => {
    stubDeployments([
      deployment({ id: ref.deploymentId, runningCount: 1, pendingCount: 2, failedTasks: 1 }),
      previous,
    ]);

    const err = await rejection(checkDeployment(deps, { ...ref, waitUntil: ONE_SECOND_BEFORE_NOW }));

    assert.ok(err instanceof RolloutTimeoutError, String(err));
    assert.equal(err.name, 'RolloutTimeoutError');
    assert.equal(err.code, 'ROLLOUT_TIMEOUT');
    assert.equal(err.deploymentId, ref.deploymentId);
    assert.equal(err.rolloutState, 'IN_PROGRESS');
    assert.equal(err.waitedUntil, ONE_SECOND_BEFORE_NOW);
    assert.deepEqual(err.toJSON(), {
      name: 'RolloutTimeoutError',
      code: 'ROLLOUT_TIMEOUT',
      message: err.message,
      deploymentId: ref.deploymentId,
      rolloutState: 'IN_PROGRESS',
      waitedUntil: ONE_SECOND_BEFORE_NOW,
    });
    assert.match(err.message, /did not finish in time/);
    assert.match(err.message, /migrations ARE applied/);
    assert.match(err.message, /rolling out or rolling back/);
    assert.ok(!(RETRYABLE_ERRORS as readonly string[]).includes(err.name), 'fails the release at once');
    assert.equal(log.lines.find((l) => l.level === 'warn')?.extra?.waitUntil, ONE_SECOND_BEFORE_NOW);
  });

  it('throws RolloutTimeoutError after waitUntil without a rolloutState when the old deployment still runs', async () => {
    const noState = { rolloutState: undefined, rolloutStateReason: undefined };
    stubDeployments([deployment({ id: ref.deploymentId, ...noState }), { ...previous, ...noState }]);

    const err = await rejection(checkDeployment(deps, { ...ref, waitUntil: ONE_SECOND_BEFORE_NOW }));

    assert.ok(err instanceof RolloutTimeoutError, String(err));
    assert.equal(err.rolloutState, null);
  });

  it('reports a COMPLETED rollout as done even after waitUntil', async () => {
    stubDeployments([deployment({ id: ref.deploymentId, rolloutState: 'COMPLETED' })]);

    const status = await checkDeployment(deps, { ...ref, waitUntil: ONE_SECOND_BEFORE_NOW });

    assert.equal(status.done, true);
    assert.equal(status.rolloutState, 'COMPLETED');
  });

  it('before waitUntil, and exactly at it, reports an IN_PROGRESS rollout as not done', async () => {
    for (const waitUntil of [ONE_SECOND_AFTER_NOW, NOW.toISOString()]) {
      ecsMock.reset();
      stubDeployments([deployment({ id: ref.deploymentId, runningCount: 1 }), previous]);

      const status = await checkDeployment(deps, { ...ref, waitUntil });

      assert.equal(status.done, false, waitUntil);
      assert.equal(status.rolloutState, 'IN_PROGRESS');
    }
  });

  it('throws DeploymentFailedError, not a timeout, for a FAILED or replaced rollout past waitUntil', async () => {
    const cases: Deployment[][] = [
      [deployment({ id: ref.deploymentId, rolloutState: 'FAILED', rolloutStateReason: 'circuit breaker' })],
      [
        deployment({ id: 'ecs-svc/4444444444444444444', taskDefinition: `${NEW_TD.slice(0, -2)}43` }),
        deployment({ id: ref.deploymentId, status: 'ACTIVE', rolloutState: 'IN_PROGRESS' }),
      ],
    ];
    for (const deployments of cases) {
      ecsMock.reset();
      stubDeployments(deployments);

      const err = await rejection(checkDeployment(deps, { ...ref, waitUntil: ONE_SECOND_BEFORE_NOW }));

      assert.ok(err instanceof DeploymentFailedError, String(err));
    }
  });

  it('turns a service deleted mid-rollout into DeployTargetInvalidError', async () => {
    ecsMock.on(DescribeServicesCommand).resolves({ services: [service({ status: 'INACTIVE' })] });

    const err = await rejection(checkDeployment(deps, ref));

    assert.ok(err instanceof DeployTargetInvalidError, String(err));
  });

  it('logs the deployment id and counts', async () => {
    stubDeployments([deployment({ id: ref.deploymentId, runningCount: 1, pendingCount: 2 }), previous]);

    await checkDeployment(deps, ref);

    assert.deepEqual(log.lines, [
      {
        level: 'info',
        message: 'deployment status',
        extra: {
          deploymentId: ref.deploymentId,
          taskDefinitionArn: NEW_TD,
          desiredCount: 3,
          runningCount: 1,
          pendingCount: 2,
          failedTasks: 0,
          rolloutState: 'IN_PROGRESS',
          done: false,
        },
      },
    ]);
  });
});

describe('readDeployConfig', () => {
  const env = { ECS_CLUSTER: CLUSTER, ECS_SERVICE: 'shop-api', CONTAINER_NAME: 'app' };

  it('reads the cluster, service and container from the environment, with a 30-minute default timeout', () => {
    assert.deepEqual(readDeployConfig(env), {
      cluster: CLUSTER,
      service: 'shop-api',
      containerName: 'app',
      deployTimeoutSeconds: 1800,
    });
  });

  it('reads DEPLOY_TIMEOUT_SECONDS', () => {
    assert.equal(readDeployConfig({ ...env, DEPLOY_TIMEOUT_SECONDS: '3600' }).deployTimeoutSeconds, 3600);
  });

  it('names DEPLOY_TIMEOUT_SECONDS, and says what is wrong, when it is not a positive whole number', () => {
    const cases: [string, string][] = [
      ['half an hour', 'must be a whole number'],
      ['30m', 'must be a whole number'],
      ['1.5', 'must be a whole number'],
      ['0', 'must be greater than 0'],
      ['-1', 'must be greater than 0'],
    ];
    for (const [value, problem] of cases) {
      assert.throws(
        () => readDeployConfig({ ...env, DEPLOY_TIMEOUT_SECONDS: value }),
        (err) =>
          err instanceof ConfigError &&
          err.variable === 'DEPLOY_TIMEOUT_SECONDS' &&
          err.message === `environment variable DEPLOY_TIMEOUT_SECONDS: ${problem}`,
        value,
      );
    }
  });

  it('accepts cluster and service ARNs, old and new service ARN formats', () => {
    for (const service of [SERVICE_ARN, `arn:aws:ecs:eu-west-1:${ACCOUNT}:service/shop-api`]) {
      const cluster = `arn:aws:ecs:eu-west-1:${ACCOUNT}:cluster/${CLUSTER}`;
      assert.deepEqual(readDeployConfig({ ...env, ECS_CLUSTER: cluster, ECS_SERVICE: service }), {
        cluster,
        service,
        containerName: 'app',
        deployTimeoutSeconds: 1800,
      });
    }
  });

  it('names CONTAINER_NAME when it is missing', () => {
    const { CONTAINER_NAME: _, ...withoutContainer } = env;

    assert.throws(
      () => readDeployConfig(withoutContainer),
      (err) =>
        err instanceof ConfigError && err.variable === 'CONTAINER_NAME' && /is not set/.test(err.message),
    );
  });

  it('names a malformed cluster', () => {
    assert.throws(
      () => readDeployConfig({ ...env, ECS_CLUSTER: 'arn:aws:s3:::not-a-cluster' }),
      (err) => err instanceof ConfigError && err.variable === 'ECS_CLUSTER',
    );
  });
});

describe('parseDeployEvent', () => {
  const executionId = `arn:aws:states:eu-west-1:${ACCOUNT}:execution:lockstep-release:v1.5.0-1a2b`;

  function invalidField(raw: unknown): string {
    try {
      parseDeployEvent(raw);
    } catch (err) {
      assert.ok(err instanceof InvalidInputError, String(err));
      return err.field;
    }
    assert.fail('expected an InvalidInputError');
  }

  it('accepts start and status events', () => {
    const deploymentRef = { taskDefinitionArn: NEW_TD, deploymentId: 'ecs-svc/2222222222222222222' };

    assert.deepEqual(parseDeployEvent({ action: 'start', executionId, release }), {
      action: 'start',
      executionId,
      release,
    });
    assert.deepEqual(
      parseDeployEvent({ action: 'status', executionId, release, deployment: deploymentRef }),
      {
        action: 'status',
        executionId,
        release,
        deployment: deploymentRef,
      },
    );
  });

  it('accepts the waitUntil start returned in a status event’s deployment, and passes it on', () => {
    const started = {
      taskDefinitionArn: NEW_TD,
      deploymentId: 'ecs-svc/2222222222222222222',
      previousTaskDefinitionArn: CURRENT_TD,
      waitUntil: WAIT_UNTIL,
    };

    const event = parseDeployEvent({ action: 'status', executionId, release, deployment: started });

    assert.deepEqual(event.action === 'status' && event.deployment, {
      taskDefinitionArn: NEW_TD,
      deploymentId: 'ecs-svc/2222222222222222222',
      waitUntil: WAIT_UNTIL,
    });
  });

  it('names the field that is wrong', () => {
    const { image: _, ...withoutImage } = release;

    assert.equal(invalidField({ action: 'stop', executionId, release }), 'action');
    assert.equal(invalidField({ action: 'start', executionId, release: withoutImage }), 'release.image');
    assert.equal(invalidField({ action: 'start', release }), 'executionId');
    assert.equal(invalidField({ action: 'status', executionId, release }), 'deployment');
    assert.equal(
      invalidField({ action: 'status', executionId, release, deployment: { taskDefinitionArn: NEW_TD } }),
      'deployment.deploymentId',
    );
    assert.equal(
      invalidField({
        action: 'status',
        executionId,
        release,
        deployment: { taskDefinitionArn: NEW_TD, deploymentId: 'ecs-svc/1', waitUntil: 'in 30 minutes' },
      }),
      'deployment.waitUntil',
    );
    assert.equal(invalidField('start'), 'event');
  });

  it('says a missing field is required', () => {
    const { image: _, ...withoutImage } = release;

    assert.throws(() => parseDeployEvent({ action: 'start', executionId, release: withoutImage }), {
      name: 'InvalidInputError',
      message: 'release.image: is required',
    });
  });
});
