/**
 * One ECS service, for the local rehearsal and the state-machine tests: its task definitions and deployments,
 * in memory or kept in a file (the rehearsal's `.lockstep/deploy.json`, so the next rehearsal finds the image the
 * last one released). As on ECS, UpdateService points the service at the new revision at once and starts a
 * deployment; the deployment's rolloutState then moves through {@link LocalEcsService.rollouts}, one step per
 * DescribeServices. A FAILED rollout is rolled back, as the deployment circuit breaker with rollback does: the
 * previous deployment is PRIMARY again and the service runs its task definition.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import {
  type Deployment,
  DescribeServicesCommand,
  type DescribeServicesCommandInput,
  DescribeTaskDefinitionCommand,
  type DescribeTaskDefinitionCommandInput,
  ECSClient,
  ListTasksCommand,
  type ListTasksCommandInput,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  type Service,
  StopTaskCommand,
  type StopTaskCommandInput,
  type TaskDefinition,
  UpdateServiceCommand,
  type UpdateServiceCommandInput,
} from '@aws-sdk/client-ecs';
import { LOCAL_CLIENT_CONFIG, type LocalAccount, notImplemented } from './account.ts';
import { type RecordedTask, type RecordedTaskError, TASK_SHAPES } from './ecs-task-shapes.ts';

export type RolloutState = 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';

/** A migration task that runs for real: how it ends, how StopTask stops it, how a finished run kills it. */
export interface LaunchedTask {
  /** The stopped task, as the `.sync` state outputs it; never rejects. */
  readonly stopped: Promise<RecordedTask>;
  stop(reason: string): void;
  kill(): Promise<void>;
}

/** Starts a migration task from the RunTask parameters the state sent. */
export type TaskLauncher = (params: Record<string, unknown>) => LaunchedTask;

export interface LocalEcsOptions {
  readonly account: LocalAccount;
  /** The cluster and service names, as the deploy function is configured with them. */
  readonly cluster: string;
  readonly service: string;
  /** The container the releases change, and the image it runs before the first one. */
  readonly container: string;
  readonly initialImage: string;
  /** @default 'app' */
  readonly family?: string;
  /** @default 1 */
  readonly desiredCount?: number;
  /** Keep the service here between processes. @default - in memory */
  readonly stateFile?: string;
  /** The release container logs with the awslogs driver to this group, with this stream prefix. @default - no log configuration */
  readonly awslogs?: { readonly group: string; readonly streamPrefix: string };
}

/** What a state file holds. */
interface ServiceState {
  taskDefinition: string;
  taskDefinitions: Record<string, TaskDefinition>;
  deployments: Deployment[];
  /** The rollout states a deployment in progress still has to go through. */
  pending: RolloutState[];
  deploymentCount: number;
}

export class LocalEcsService {
  /** What successive looks at a new deployment report as its rolloutState; the last one repeats. */
  rollouts: RolloutState[] = ['IN_PROGRESS', 'COMPLETED'];
  /**
   * How successive migration tasks (`ecs:runTask.sync`) end, the last one repeating: a stopped task as the state
   * outputs it, or the error the state fails with (./ecs-task-shapes.ts). A `States.Timeout` leaves the task
   * running until StopTask. Played only while no {@link launcher} is set.
   */
  migrationTasks: Array<RecordedTask | RecordedTaskError> = [TASK_SHAPES.succeeded];
  /**
   * How successive pending-check tasks end, the same way: the default, a check that exited 1, means "pending"
   * (TASK_SHAPES.succeeded, exit 0, means nothing is).
   */
  pendingChecks: Array<RecordedTask | RecordedTaskError> = [TASK_SHAPES.exitedNonZero];
  /**
   * Runs each task (the migration and the pending check) for real instead (the rehearsal's child process,
   * ./migration-process.ts): it is listed by ListTasks while it runs, StopTask stops it, and the state gets the
   * task it ends as.
   */
  launcher: TaskLauncher | undefined;
  /** The parameters of each RunTask.sync, as the state machine sent them. */
  runTaskCalls: Record<string, unknown>[] = [];
  /** The task ARNs StopTask was called with. */
  stoppedTasks: string[] = [];
  /** Tasks still running (a launched one, or one whose state timed out), by ARN, with their startedBy. */
  private running = new Map<string, { startedBy: string | undefined; task?: LaunchedTask }>();
  private state: ServiceState;

  constructor(private readonly options: LocalEcsOptions) {
    this.state = this.load() ?? this.initial();
  }

  /** A service running revision 1 of its family, the initial image, with nothing in progress. */
  reset(): void {
    this.rollouts = ['IN_PROGRESS', 'COMPLETED'];
    this.migrationTasks = [TASK_SHAPES.succeeded];
    this.pendingChecks = [TASK_SHAPES.exitedNonZero];
    this.runTaskCalls = [];
    this.stoppedTasks = [];
    this.running.clear();
    this.state = this.initial();
    this.save();
  }

  get serviceArn(): string {
    return `${this.arnPrefix}:service/${this.options.cluster}/${this.options.service}`;
  }

  get taskDefinitions(): ReadonlyMap<string, TaskDefinition> {
    return new Map(Object.entries(this.state.taskDefinitions));
  }

  /** The task definition the service runs. */
  get taskDefinitionArn(): string {
    return this.state.taskDefinition;
  }

  /** The image the service's task definition runs in the release container. */
  get image(): string | undefined {
    return this.state.taskDefinitions[this.state.taskDefinition]?.containerDefinitions?.find(
      (c) => c.name === this.options.container,
    )?.image;
  }

  /** An ECSClient whose commands act on this service. */
  client(): ECSClient {
    return new LocalEcsClient(this);
  }

  describeServices(input: DescribeServicesCommandInput) {
    const names = new Set([this.options.service, this.serviceArn]);
    const clusterMatches = [undefined, this.options.cluster, this.clusterArn].includes(input.cluster);
    const found = clusterMatches && (input.services ?? []).some((s) => names.has(s));
    if (!found) {
      return {
        services: [],
        failures: (input.services ?? []).map((arn) => ({ arn, reason: 'MISSING' })),
      };
    }
    this.advance();
    return { services: [this.describe()], failures: [] };
  }

  describeTaskDefinition(input: DescribeTaskDefinitionCommandInput) {
    const taskDefinition = this.state.taskDefinitions[input.taskDefinition ?? ''];
    if (!taskDefinition)
      throw Object.assign(new Error('Unable to describe task definition.'), { name: 'ClientException' });
    return { taskDefinition: structuredClone(taskDefinition), tags: [] };
  }

  registerTaskDefinition(input: RegisterTaskDefinitionCommandInput) {
    const arn = this.register(input);
    return { taskDefinition: structuredClone(this.state.taskDefinitions[arn]), tags: input.tags ?? [] };
  }

  updateService(input: UpdateServiceCommandInput) {
    const taskDefinition = input.taskDefinition ?? this.state.taskDefinition;
    if (!this.state.taskDefinitions[taskDefinition])
      throw Object.assign(new Error(`TaskDefinition not found: ${taskDefinition}`), {
        name: 'InvalidParameterException',
      });
    this.state.deploymentCount += 1;
    this.state.deployments = [
      this.deployment(`ecs-svc/${this.state.deploymentCount}`, taskDefinition, 'PRIMARY', 'IN_PROGRESS'),
      ...this.state.deployments.map((d) => ({ ...d, status: 'ACTIVE' })),
    ];
    this.state.taskDefinition = taskDefinition;
    this.state.pending = [...this.rollouts];
    this.save();
    return { service: this.describe() };
  }

  /**
   * The `arn:aws:states:::ecs:runTask.sync` integration: the revision must be registered; then the task runs
   * through the {@link launcher} and its stopped task is returned, or else the next of {@link migrationTasks} (or
   * {@link pendingChecks}, for the pending check's state) is returned as the stopped task or thrown as the state's
   * error (its name the Error, its message the Cause). Either way the task carries this call's ARN, revision and
   * startedBy.
   */
  async runTaskSync(
    params: unknown,
    purpose: 'migration' | 'pendingCheck' = 'migration',
  ): Promise<RecordedTask> {
    const p = (typeof params === 'object' && params !== null ? params : {}) as Record<string, unknown>;
    this.runTaskCalls.push(structuredClone(p));
    const revision = String(p.TaskDefinition ?? '');
    if (!this.state.taskDefinitions[revision])
      throw Object.assign(new Error(`TaskDefinition not found: ${revision}`), {
        name: 'ECS.InvalidParameterException',
      });
    const startedBy = typeof p.StartedBy === 'string' ? p.StartedBy : undefined;
    const taskArn = `${this.arnPrefix}:task/${this.options.cluster}/${this.runTaskCalls.length.toString(16).padStart(32, '0')}`;
    const named = (task: RecordedTask): RecordedTask => ({
      ...structuredClone(task),
      TaskArn: taskArn,
      TaskDefinitionArn: revision,
      StartedBy: startedBy,
    });
    if (this.launcher) {
      const task = this.launcher(p);
      this.running.set(taskArn, { startedBy, task });
      try {
        return named(await task.stopped);
      } finally {
        this.running.delete(taskArn);
      }
    }
    const queue = purpose === 'pendingCheck' ? this.pendingChecks : this.migrationTasks;
    const outcome = (queue.length > 1 ? queue.shift() : queue[0]) as RecordedTask | RecordedTaskError;
    if ('Error' in outcome && typeof outcome.Error === 'string') {
      if (outcome.Error === 'States.Timeout') this.running.set(taskArn, { startedBy });
      throw Object.assign(new Error(String(outcome.Cause ?? '')), { name: outcome.Error });
    }
    return named(outcome as RecordedTask);
  }

  /** Kills every launched task still running and waits until each is gone (the run is over). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.running.values()].map(({ task }) => task?.kill()));
  }

  listTasks(input: ListTasksCommandInput) {
    const taskArns = [...this.running]
      .filter(([, { startedBy }]) => input.startedBy === undefined || startedBy === input.startedBy)
      .map(([arn]) => arn);
    return { taskArns };
  }

  stopTask(input: StopTaskCommandInput) {
    const task = input.task ?? '';
    this.stoppedTasks.push(task);
    const launched = this.running.get(task)?.task;
    // A launched task leaves the list once it has stopped; ECS too lists a stopping task until it has.
    if (launched) launched.stop(input.reason ?? 'Task stopped by user');
    else this.running.delete(task);
    return { task: { taskArn: task, lastStatus: 'STOPPED', desiredStatus: 'STOPPED' } };
  }

  private get arnPrefix(): string {
    const { region, account } = this.options.account;
    return `arn:aws:ecs:${region}:${account}`;
  }

  private get clusterArn(): string {
    return `${this.arnPrefix}:cluster/${this.options.cluster}`;
  }

  private describe(): Service {
    const primary = this.state.deployments.find((d) => d.status === 'PRIMARY');
    return structuredClone({
      serviceName: this.options.service,
      serviceArn: this.serviceArn,
      clusterArn: this.clusterArn,
      status: 'ACTIVE',
      desiredCount: this.desiredCount,
      runningCount: primary?.runningCount ?? 0,
      pendingCount: primary?.pendingCount ?? 0,
      taskDefinition: this.state.taskDefinition,
      deploymentController: { type: 'ECS' },
      deployments: this.state.deployments,
    });
  }

  private get desiredCount(): number {
    return this.options.desiredCount ?? 1;
  }

  /** Moves the deployment in progress one step along, as ECS would between two looks. */
  private advance(): void {
    const [primary, ...others] = this.state.deployments;
    if (primary?.rolloutState !== 'IN_PROGRESS' || this.state.pending.length === 0) return;
    const next = (
      this.state.pending.length > 1 ? this.state.pending.shift() : this.state.pending[0]
    ) as RolloutState;
    if (next === 'COMPLETED') {
      this.state.deployments = [
        this.deployment(primary.id ?? '', primary.taskDefinition ?? '', 'PRIMARY', 'COMPLETED'),
      ];
    } else if (next === 'FAILED') {
      // The circuit breaker rolls back: the previous deployment serves again.
      const failed = {
        ...this.deployment(primary.id ?? '', primary.taskDefinition ?? '', 'ACTIVE', 'FAILED'),
        rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.',
      };
      const previous = others[0];
      if (previous) {
        this.state.deployments = [{ ...previous, status: 'PRIMARY' }, failed];
        this.state.taskDefinition = previous.taskDefinition ?? this.state.taskDefinition;
      } else this.state.deployments = [{ ...failed, status: 'PRIMARY' }];
    }
    this.save();
  }

  private deployment(
    id: string,
    taskDefinition: string,
    status: string,
    rolloutState: RolloutState,
  ): Deployment {
    const done = rolloutState === 'COMPLETED';
    return {
      id,
      status,
      taskDefinition,
      rolloutState,
      desiredCount: this.desiredCount,
      runningCount: done ? this.desiredCount : 0,
      pendingCount: done ? 0 : this.desiredCount,
      failedTasks: rolloutState === 'FAILED' ? this.desiredCount : 0,
    };
  }

  private register(input: RegisterTaskDefinitionCommandInput): string {
    const family = input.family ?? this.options.family ?? 'app';
    const revision = Object.values(this.state.taskDefinitions).filter((t) => t.family === family).length + 1;
    const arn = `${this.arnPrefix}:task-definition/${family}:${revision}`;
    const { tags: _tags, ...definition } = input;
    this.state.taskDefinitions[arn] = {
      ...definition,
      family,
      taskDefinitionArn: arn,
      revision,
      status: 'ACTIVE',
    } as TaskDefinition;
    this.save();
    return arn;
  }

  private initial(): ServiceState {
    this.state = {
      taskDefinition: '',
      taskDefinitions: {},
      deployments: [],
      pending: [],
      deploymentCount: 1,
    };
    const arn = this.register({
      family: this.options.family ?? 'app',
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '256',
      memory: '512',
      executionRoleArn: `arn:aws:iam::${this.options.account.account}:role/app-execution`,
      containerDefinitions: [
        {
          name: this.options.container,
          image: this.options.initialImage,
          essential: true,
          ...(this.options.awslogs
            ? {
                logConfiguration: {
                  logDriver: 'awslogs',
                  options: {
                    'awslogs-group': this.options.awslogs.group,
                    'awslogs-stream-prefix': this.options.awslogs.streamPrefix,
                    'awslogs-region': this.options.account.region,
                  },
                },
              }
            : {}),
        },
      ],
    });
    this.state.taskDefinition = arn;
    this.state.deployments = [this.deployment('ecs-svc/1', arn, 'PRIMARY', 'COMPLETED')];
    return this.state;
  }

  private load(): ServiceState | undefined {
    const file = this.options.stateFile;
    if (!file || !existsSync(file)) return undefined;
    const saved = JSON.parse(readFileSync(file, 'utf8')) as Partial<ServiceState>;
    // A file from an older lockstep, or another shape: start over rather than guess.
    if (!saved.taskDefinition || !saved.taskDefinitions || !Array.isArray(saved.deployments))
      return undefined;
    return {
      taskDefinition: saved.taskDefinition,
      taskDefinitions: saved.taskDefinitions,
      deployments: saved.deployments,
      pending: saved.pending ?? [],
      deploymentCount: saved.deploymentCount ?? saved.deployments.length + 1,
    };
  }

  private save(): void {
    if (this.options.stateFile)
      writeFileSync(this.options.stateFile, `${JSON.stringify(this.state, null, 2)}\n`);
  }
}

/** The ECSClient the rehearsal hands the deploy function. */
class LocalEcsClient extends ECSClient {
  constructor(private readonly ecs: LocalEcsService) {
    super(LOCAL_CLIENT_CONFIG);
  }

  override send = (async (command: unknown) => {
    const meta = { $metadata: {} };
    if (command instanceof DescribeServicesCommand)
      return { ...this.ecs.describeServices(command.input), ...meta };
    if (command instanceof DescribeTaskDefinitionCommand)
      return { ...this.ecs.describeTaskDefinition(command.input), ...meta };
    if (command instanceof RegisterTaskDefinitionCommand)
      return { ...this.ecs.registerTaskDefinition(command.input), ...meta };
    if (command instanceof UpdateServiceCommand) return { ...this.ecs.updateService(command.input), ...meta };
    if (command instanceof ListTasksCommand) return { ...this.ecs.listTasks(command.input), ...meta };
    if (command instanceof StopTaskCommand) return { ...this.ecs.stopTask(command.input), ...meta };
    throw notImplemented('ECS', command);
  }) as ECSClient['send'];
}
