/**
 * Finished migration tasks as the `arn:aws:states:::ecs:runTask.sync` state hands them over: its output (the task
 * as DescribeTasks describes it, in Step Functions' PascalCase), or the error it fails with. Trimmed to the fields
 * lockstep reads, with values in the shape ECS reports them. The ECS stand-in's RunTask.sync plays these, so the
 * local state machine, the rehearsal and the unit tests of ../../functions/migration-task/interpret-task.ts see
 * the same tasks.
 */

export const MIGRATION_CONTAINER = 'app';
const CLUSTER_ARN = 'arn:aws:ecs:eu-west-1:123456789012:cluster/shop';
export const MIGRATION_TASK_ARN =
  'arn:aws:ecs:eu-west-1:123456789012:task/shop/0f4a8c4b2f1e4d3c9b8a7f6e5d4c3b2a';

/** A `.sync` state's output: the stopped task. */
export type RecordedTask = Record<string, unknown>;
/** A `.sync` state's failure: Step Functions' error name and Cause (a JSON string, or free text). */
export interface RecordedTaskError {
  readonly Error: string;
  readonly Cause?: string;
}

function task(
  fields: { stopCode?: string; stoppedReason: string; startedAt?: string },
  container: Record<string, unknown>,
): RecordedTask {
  return {
    TaskArn: MIGRATION_TASK_ARN,
    ClusterArn: CLUSTER_ARN,
    TaskDefinitionArn: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/app:43',
    LastStatus: 'STOPPED',
    DesiredStatus: 'STOPPED',
    LaunchType: 'FARGATE',
    StartedBy: 'lockstep/v1.5.0',
    ...(fields.stopCode ? { StopCode: fields.stopCode } : {}),
    StoppedReason: fields.stoppedReason,
    ...(fields.startedAt ? { StartedAt: fields.startedAt } : {}),
    StoppedAt: '2026-12-02T08:41:12.345Z',
    Containers: [
      {
        ContainerArn: 'arn:aws:ecs:eu-west-1:123456789012:container/shop/0f4a8c4b/6c1e',
        TaskArn: MIGRATION_TASK_ARN,
        Name: MIGRATION_CONTAINER,
        LastStatus: 'STOPPED',
        ...container,
      },
    ],
  };
}

export const TASK_SHAPES = {
  /** The command ran and exited 0; the task stopped because its essential container exited. */
  succeeded: task(
    {
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
      startedAt: '2026-12-02T08:40:01.000Z',
    },
    { ExitCode: 0 },
  ),
  /** The command ran and exited 1 (the tool reported a failed migration). */
  exitedNonZero: task(
    {
      stopCode: 'EssentialContainerExited',
      stoppedReason: 'Essential container in task exited',
      startedAt: '2026-12-02T08:40:01.000Z',
    },
    { ExitCode: 1 },
  ),
  /** The image could not be pulled: the container never started, so it has no ExitCode. */
  pullFailed: task(
    {
      stopCode: 'TaskFailedToStart',
      stoppedReason:
        'CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref 123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v1.5.0: not found',
    },
    {
      Reason:
        'CannotPullContainerError: pull image manifest has been retried 7 time(s): failed to resolve ref 123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v1.5.0: not found',
    },
  ),
  /** A secret in the task definition could not be fetched: the task never started. */
  neverStarted: task(
    {
      stopCode: 'TaskFailedToStart',
      stoppedReason:
        'ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm',
    },
    {},
  ),
  /** Someone stopped the task (StopTask) while the command ran; it exited on SIGTERM with 143. */
  stoppedByUser: task(
    {
      stopCode: 'UserInitiated',
      stoppedReason: 'Task stopped by user',
      startedAt: '2026-12-02T08:40:01.000Z',
    },
    { ExitCode: 143 },
  ),
  /** Fargate Spot reclaimed the capacity; the command's SIGTERM handler exited 0 before it finished. */
  spotInterrupted: task(
    {
      stopCode: 'SpotInterruption',
      stoppedReason: 'Your Spot Task was interrupted.',
      startedAt: '2026-12-02T08:40:01.000Z',
    },
    { ExitCode: 0 },
  ),
} as const satisfies Record<string, RecordedTask>;

export const TASK_ERRORS = {
  /** RunTask answered with `failures`: the .sync state fails with AmazonECS.Unknown. */
  notPlaced: {
    Error: 'AmazonECS.Unknown',
    Cause: JSON.stringify({
      Failures: [
        {
          Arn: 'arn:aws:ecs:eu-west-1:123456789012:container-instance/shop/4c2f',
          Reason: 'RESOURCE:MEMORY',
        },
      ],
      Tasks: [],
    }),
  },
  /** The state's TimeoutSeconds passed while the task ran. */
  timedOut: { Error: 'States.Timeout' },
  /** The .sync state reports the stopped task as failed, the task as its Cause. */
  failedWithTask: { Error: 'States.TaskFailed', Cause: JSON.stringify(TASK_SHAPES.exitedNonZero) },
  /** RunTask refused the request itself. */
  invalidParameter: {
    Error: 'ECS.InvalidParameterException',
    Cause:
      'No Container Instances were found in your cluster. (Service: AmazonECS; Status Code: 400; Error Code: InvalidParameterException)',
  },
} as const satisfies Record<string, RecordedTaskError>;
