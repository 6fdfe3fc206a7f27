/**
 * Command mode's two states (issue 13): run the migration command as a one-off ECS task from the release's
 * task-definition revision, on the service's cluster with the service's network and launch settings, and wait
 * for it (`arn:aws:states:::ecs:runTask.sync`); then the migration-task function's verdict
 * (functions/migration-task), which alone decides success: a STOPPED task is not a success by itself.
 *
 * The optional pending check runs the same way, before the snapshot, with its own command, timeout and startedBy
 * (./release-definition.ts routes on its answer).
 *
 * The state is written as ASL (a CustomState) rather than tasks.EcsRunTask because its TaskDefinition is the
 * revision the `register` step made at run time (`TaskDefinition.$`), which EcsRunTask cannot take, and because
 * its IAM is scoped here to the family (see {@link migrationTaskPolicy}).
 */
import { Aws, Duration, Stack } from 'aws-cdk-lib';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { RUN_TASK_RETRY } from '../../functions/shared/errors.ts';

/** What the migration task runs, and how long it may. */
export interface MigrationTaskSpec {
  /** The command, as the container override's argument list. */
  readonly command: readonly string[];
  /** The container it runs in: the release container. */
  readonly containerName: string;
  /** Extra environment for the command, besides PGOPTIONS. */
  readonly environment: Readonly<Record<string, string>>;
  /** PGOPTIONS for libpq-based tools, such as `-c lock_timeout=5000`; undefined sets none. */
  readonly pgOptions: string | undefined;
  /** Task-level CPU units and memory (MiB) overrides; undefined keeps the task definition's. */
  readonly cpu: number | undefined;
  readonly memory: number | undefined;
  /** The state's TimeoutSeconds: past it the verdict stops the task and fails the release. */
  readonly timeout: Duration;
  /** The pending check run before the snapshot; undefined: none (always snapshot and run the command). */
  readonly pendingCheck: PendingCheckSpec | undefined;
}

/** The optional pending check: a command whose exit status says whether anything is pending (0: nothing). */
export interface PendingCheckSpec {
  /** The check's command, as the container override's argument list. */
  readonly command: readonly string[];
  /** Its state's TimeoutSeconds. */
  readonly timeout: Duration;
}

/** The service settings a one-off task copies so it runs where the service's tasks run. */
export interface ServiceLaunch {
  readonly clusterArn: string;
  /** `awsvpc` tasks only: the service's subnets, security groups and public-IP setting, as RunTask takes them. */
  readonly networkConfiguration: Record<string, unknown> | undefined;
  /** `LaunchType` or `CapacityProviderStrategy`, as RunTask takes them (PascalCase). */
  readonly placement: Record<string, unknown>;
}

/**
 * What the service's CloudFormation resource sets: its network configuration and its launch type or capacity
 * provider strategy. A service without either runs on the cluster's default capacity provider strategy, and so
 * does the task.
 */
export function serviceLaunch(service: ecs.BaseService): ServiceLaunch {
  const cfn = service.node.defaultChild as ecs.CfnService;
  const resolve = (value: unknown) => Stack.of(service).resolve(value) as unknown;
  const network = resolve(cfn.networkConfiguration) as
    | { AwsvpcConfiguration?: Record<string, unknown>; awsvpcConfiguration?: Record<string, unknown> }
    | undefined;
  const awsvpc = network?.AwsvpcConfiguration ?? network?.awsvpcConfiguration;
  const strategy = resolve(cfn.capacityProviderStrategy) as Record<string, unknown>[] | undefined;
  const pascal = (o: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(o).map(([k, v]) => [k.charAt(0).toUpperCase() + k.slice(1), v]));
  return {
    clusterArn: service.cluster.clusterArn,
    networkConfiguration: awsvpc ? { AwsvpcConfiguration: pascal(awsvpc) } : undefined,
    placement:
      strategy && strategy.length > 0
        ? { CapacityProviderStrategy: strategy.map(pascal) }
        : cfn.launchType
          ? { LaunchType: cfn.launchType }
          : {},
  };
}

/**
 * One value per execution, allowed in `startedBy` (letters, digits, "-", "_", "/"; up to 128): the verdict finds a
 * timed-out task by it. The execution itself is named in the task's tags.
 */
export const STARTED_BY = "States.Format('lockstep-{}', States.Hash($$.Execution.Id, 'MD5'))";

/** The pending check's `startedBy`: another value than the migration task's, so stopping one never finds the other. */
export const CHECK_STARTED_BY = "States.Format('lockstep-check-{}', States.Hash($$.Execution.Id, 'MD5'))";

export interface MigrationTaskStates {
  /** Runs the task and waits; both its result and its failure go to {@link check}. */
  readonly run: sfn.CustomState;
  /** The verdict: returns for a success, throws the typed error otherwise (catch it on the failure path). */
  readonly check: tasks.LambdaInvoke;
}

/**
 * The two states. `run` reads the revision at `$.revision.taskDefinitionArn` and leaves `$.migrationTask` as
 * `{ task }` or `{ error }`; `check` leaves its verdict at `$.migrationTaskResult`.
 */
export function buildMigrationTaskStates(
  scope: Construct,
  names: { readonly run: string; readonly check: string },
  spec: MigrationTaskSpec,
  launch: ServiceLaunch,
  checkFunction: lambda.IFunction,
  checkTimeout: Duration,
): MigrationTaskStates {
  return runThenJudge(scope, names, spec, launch, checkFunction, checkTimeout, {
    action: 'migration',
    command: spec.command,
    timeout: spec.timeout,
    startedBy: STARTED_BY,
    outcomePath: '$.migrationTask',
    resultPath: '$.migrationTaskResult',
  });
}

/**
 * The pending check's two states, the same shape from the same revision with the check's command and timeout:
 * `run` leaves `$.pendingCheckTask`, `check` (the verdict) leaves `{ pending, exitCode, … }` at `$.pendingCheck`,
 * or throws PendingCheckFailedError when the check gave no answer.
 */
export function buildPendingCheckStates(
  scope: Construct,
  names: { readonly run: string; readonly check: string },
  spec: MigrationTaskSpec,
  check: PendingCheckSpec,
  launch: ServiceLaunch,
  checkFunction: lambda.IFunction,
  checkTimeout: Duration,
): MigrationTaskStates {
  return runThenJudge(scope, names, spec, launch, checkFunction, checkTimeout, {
    action: 'pendingCheck',
    command: check.command,
    timeout: check.timeout,
    startedBy: CHECK_STARTED_BY,
    outcomePath: '$.pendingCheckTask',
    resultPath: '$.pendingCheck',
  });
}

/** What differs between the migration task and the pending check. */
interface TaskRole {
  readonly action: 'migration' | 'pendingCheck';
  readonly command: readonly string[];
  readonly timeout: Duration;
  readonly startedBy: string;
  readonly outcomePath: string;
  readonly resultPath: string;
}

function runThenJudge(
  scope: Construct,
  names: { readonly run: string; readonly check: string },
  spec: MigrationTaskSpec,
  launch: ServiceLaunch,
  checkFunction: lambda.IFunction,
  checkTimeout: Duration,
  role: TaskRole,
): MigrationTaskStates {
  const environment = [
    ...Object.entries(spec.environment).map(([Name, Value]) => ({ Name, Value })),
    ...(spec.pgOptions ? [{ Name: 'PGOPTIONS', Value: spec.pgOptions }] : []),
  ];
  const run = new sfn.CustomState(scope, names.run, {
    stateJson: {
      Type: 'Task',
      Resource: `arn:${Aws.PARTITION}:states:::ecs:runTask.sync`,
      Parameters: {
        Cluster: launch.clusterArn,
        'TaskDefinition.$': '$.revision.taskDefinitionArn',
        ...launch.placement,
        ...(launch.networkConfiguration ? { NetworkConfiguration: launch.networkConfiguration } : {}),
        Overrides: {
          ...(spec.cpu !== undefined ? { Cpu: String(spec.cpu) } : {}),
          ...(spec.memory !== undefined ? { Memory: String(spec.memory) } : {}),
          ContainerOverrides: [
            {
              Name: spec.containerName,
              Command: [...role.command],
              ...(environment.length > 0 ? { Environment: environment } : {}),
            },
          ],
        },
        'StartedBy.$': role.startedBy,
        Tags: [
          { Key: 'lockstep:release', 'Value.$': '$.release.release' },
          { Key: 'lockstep:execution', 'Value.$': '$$.Execution.Name' },
        ],
      },
      TimeoutSeconds: role.timeout.toSeconds(),
      ResultSelector: { 'task.$': '$' },
      ResultPath: role.outcomePath,
    },
  });
  run.addRetry({
    errors: [...RUN_TASK_RETRY.errors],
    interval: Duration.seconds(RUN_TASK_RETRY.intervalSeconds),
    maxAttempts: RUN_TASK_RETRY.maxAttempts,
    backoffRate: RUN_TASK_RETRY.backoffRate,
  });
  const check = new tasks.LambdaInvoke(scope, names.check, {
    stateName: names.check,
    lambdaFunction: checkFunction,
    payload: sfn.TaskInput.fromObject({
      action: role.action,
      'executionId.$': '$.executionId',
      'release.$': '$.release',
      'startedBy.$': role.startedBy,
      'taskDefinitionArn.$': '$.revision.taskDefinitionArn',
      'outcome.$': role.outcomePath,
    }),
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
    resultPath: role.resultPath,
    taskTimeout: sfn.Timeout.duration(checkTimeout),
  });
  // Every failure of the task, the timeout included, goes to the verdict, which names it (and stops a timed-out task).
  run.addCatch(check, { errors: ['States.ALL'], resultPath: `${role.outcomePath}.error` });
  run.next(check);
  return { run, check };
}

/**
 * What the state machine's role needs for `run` (Step Functions Developer Guide, "IAM policies for Amazon ECS/AWS
 * Fargate", Run a Job (.sync)): ecs:RunTask on the task definition; ecs:StopTask and ecs:DescribeTasks, which
 * the integration uses to follow (and stop) its task; events:PutTargets, events:PutRule and events:DescribeRule on
 * the managed rule `StepFunctionsGetEventsForECSTaskRule`. Here RunTask is scoped to the service's family and its
 * cluster, tagging to RunTask, and iam:PassRole to the task's two roles, passed to ECS tasks only.
 */
export function migrationTaskPolicy(service: ecs.BaseService): iam.PolicyStatement[] {
  const stack = Stack.of(service);
  const family = service.taskDefinition.family;
  const revisions = stack.formatArn({
    service: 'ecs',
    resource: 'task-definition',
    resourceName: `${family}:*`,
  });
  const clusterTasks = stack.formatArn({
    service: 'ecs',
    resource: 'task',
    resourceName: `${service.cluster.clusterName}/*`,
  });
  const roles = [service.taskDefinition.taskRole, service.taskDefinition.executionRole].filter(
    (r): r is iam.IRole => r !== undefined,
  );
  return [
    new iam.PolicyStatement({
      actions: ['ecs:RunTask'],
      resources: [revisions],
      conditions: { ArnEquals: { 'ecs:cluster': service.cluster.clusterArn } },
    }),
    new iam.PolicyStatement({
      actions: ['ecs:TagResource'],
      resources: [clusterTasks],
      conditions: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
    }),
    new iam.PolicyStatement({
      actions: ['ecs:StopTask', 'ecs:DescribeTasks'],
      resources: [clusterTasks],
    }),
    new iam.PolicyStatement({
      actions: ['iam:PassRole'],
      resources: roles.map((r) => r.roleArn),
      conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
    }),
    new iam.PolicyStatement({
      actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
      resources: [
        stack.formatArn({
          service: 'events',
          resource: 'rule',
          resourceName: 'StepFunctionsGetEventsForECSTaskRule',
        }),
      ],
    }),
  ];
}
