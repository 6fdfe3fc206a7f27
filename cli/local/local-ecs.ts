/**
 * The deploy function's ECS client, for local rehearsals: one service, its task definitions and deployments,
 * kept in `.lockstep/deploy.json`. A new deployment reports IN_PROGRESS once, then COMPLETED (or, with
 * `failRollout`, FAILED and rolled back, as the circuit breaker would).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import {
  type ContainerDefinition,
  type Deployment,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  type TaskDefinition,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';

const LOCAL = { region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
const meta = { $metadata: {} };
const ARN = 'arn:aws:ecs:local:000000000000';

export interface LocalServiceState {
  readonly cluster: string;
  readonly service: string;
  taskDefinition: string;
  readonly taskDefinitions: Record<string, TaskDefinition>;
  deployments: Deployment[];
  /** Descriptions left before an in-progress deployment completes. */
  pendingPolls: number;
}

export function initialServiceState(container: string): LocalServiceState {
  const arn = `${ARN}:task-definition/app:1`;
  const containers: ContainerDefinition[] = [
    { name: container, image: 'local/app:initial', essential: true },
  ];
  return {
    cluster: 'local',
    service: 'app',
    taskDefinition: arn,
    taskDefinitions: {
      [arn]: {
        taskDefinitionArn: arn,
        family: 'app',
        revision: 1,
        containerDefinitions: containers,
        status: 'ACTIVE',
      },
    },
    deployments: [deployment('ecs-svc/1', arn, 'PRIMARY', 'COMPLETED')],
    pendingPolls: 0,
  };
}

function deployment(
  id: string,
  taskDefinition: string,
  status: string,
  rolloutState: Deployment['rolloutState'],
): Deployment {
  const done = rolloutState === 'COMPLETED';
  return {
    id,
    status,
    taskDefinition,
    rolloutState,
    desiredCount: 1,
    runningCount: done ? 1 : 0,
    pendingCount: done ? 0 : 1,
    failedTasks: 0,
  };
}

export class LocalEcsClient extends ECSClient {
  constructor(
    private readonly stateFile: string,
    private readonly container: string,
    private readonly options: { readonly failRollout?: boolean } = {},
  ) {
    super(LOCAL);
  }

  /** The service as recorded: which task definition (and so which image) it runs. */
  state(): LocalServiceState {
    return existsSync(this.stateFile)
      ? (JSON.parse(readFileSync(this.stateFile, 'utf8')) as LocalServiceState)
      : initialServiceState(this.container);
  }

  /** The image the named container of the running task definition uses. */
  runningImage(): string | undefined {
    const s = this.state();
    return s.taskDefinitions[s.taskDefinition]?.containerDefinitions?.find((c) => c.name === this.container)
      ?.image;
  }

  private save(state: LocalServiceState): void {
    writeFileSync(this.stateFile, `${JSON.stringify(state, null, 2)}\n`);
  }

  override send = (async (command: unknown) => {
    const s = this.state();
    if (command instanceof DescribeServicesCommand) {
      this.advance(s);
      return {
        services: [
          {
            serviceName: s.service,
            serviceArn: `${ARN}:service/${s.cluster}/${s.service}`,
            clusterArn: `${ARN}:cluster/${s.cluster}`,
            status: 'ACTIVE',
            taskDefinition: s.taskDefinition,
            deploymentController: { type: 'ECS' },
            desiredCount: 1,
            runningCount: 1,
            pendingCount: 0,
            deployments: s.deployments,
          },
        ],
        failures: [],
        ...meta,
      };
    }
    if (command instanceof DescribeTaskDefinitionCommand) {
      return { taskDefinition: s.taskDefinitions[command.input.taskDefinition ?? ''], tags: [], ...meta };
    }
    if (command instanceof RegisterTaskDefinitionCommand) {
      const family = command.input.family ?? 'app';
      const revision = Object.values(s.taskDefinitions).filter((t) => t.family === family).length + 1;
      const arn = `${ARN}:task-definition/${family}:${revision}`;
      const registered: TaskDefinition = {
        ...command.input,
        taskDefinitionArn: arn,
        revision,
        status: 'ACTIVE',
      } as TaskDefinition;
      s.taskDefinitions[arn] = registered;
      this.save(s);
      return { taskDefinition: registered, tags: command.input.tags ?? [], ...meta };
    }
    if (command instanceof UpdateServiceCommand) {
      const id = `ecs-svc/${s.deployments.length + Object.keys(s.taskDefinitions).length + 1}`;
      const next = deployment(id, command.input.taskDefinition ?? '', 'PRIMARY', 'IN_PROGRESS');
      s.deployments = [next, ...s.deployments.map((d) => ({ ...d, status: 'ACTIVE' }))];
      s.pendingPolls = 1;
      this.save(s);
      return {
        service: { deployments: s.deployments, taskDefinition: next.taskDefinition, status: 'ACTIVE' },
        ...meta,
      };
    }
    throw new Error(`the local ECS stand-in does not implement ${(command as object).constructor.name}`);
  }) as ECSClient['send'];

  /** Moves an in-progress deployment along, as ECS would between two looks. */
  private advance(s: LocalServiceState): void {
    const primary = s.deployments[0];
    if (primary?.rolloutState !== 'IN_PROGRESS') return;
    if (s.pendingPolls > 0) {
      s.pendingPolls--;
      this.save(s);
      return;
    }
    if (this.options.failRollout) {
      primary.rolloutState = 'FAILED';
      primary.rolloutStateReason =
        'rehearsed failure (--fail-at deploy): tasks failed to start; the circuit breaker rolled back';
      primary.status = 'ACTIVE';
      const previous = s.deployments[1];
      if (previous) previous.status = 'PRIMARY';
    } else {
      s.deployments = [
        { ...primary, rolloutState: 'COMPLETED', runningCount: 1, pendingCount: 0, status: 'PRIMARY' },
      ];
      s.taskDefinition = primary.taskDefinition ?? s.taskDefinition;
    }
    this.save(s);
  }
}
