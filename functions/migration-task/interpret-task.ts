/**
 * The verdict on a finished migration task: did the command run in the named container and exit 0 while the task
 * stopped because of it? Pure: it reads what the state machine's `ecs:runTask.sync` state produced (its output, or
 * the error it was caught with) and decides; stopping a timed-out task is the caller's (./migration-task.ts).
 *
 * What AWS gives, and the rules this relies on:
 * - A `.sync` RunTask state outputs the task as DescribeTasks describes it, with Step Functions' PascalCase keys
 *   (`Containers[].ExitCode`, `StopCode`, `StoppedReason`); the SDK and ECS events use camelCase. Both are read.
 * - RunTask failures: "Run a Job or Task Token: If a non-empty Failures field is encountered, the task is failed
 *   with an AmazonECS.Unknown error" (Step Functions Developer Guide, "Run Amazon ECS or Fargate tasks").
 * - `stopCode` (ECS API Reference, Task): "The stop code indicating why a task was stopped. The stoppedReason might
 *   contain additional details." Values: TaskFailedToStart, EssentialContainerExited, UserInitiated,
 *   ServiceSchedulerInitiated, SpotInterruption, TerminationNotice. Only EssentialContainerExited means the task
 *   stopped because a container exited by itself; the others mean ECS or someone stopped it.
 * - `containers[].exitCode` (ECS API Reference, Container): "The exit code returned from the container." It is
 *   absent when the container never started (an image that could not be pulled, CannotPullContainerError in
 *   `stoppedReason`/`reason`): a missing exit code is never read as 0 (ecspresso#534).
 */

import { consoleLink } from '../shared/console-link.ts';
import {
  MigrationCommandFailedError,
  MigrationTaskNotPlacedError,
  MigrationTaskNotStartedError,
  type MigrationTaskRef,
} from '../shared/errors.ts';

/** What the state machine hands over: the `.sync` state's output, or the error its Catch recorded. */
export type MigrationTaskOutcome =
  | { readonly task: unknown; readonly error?: undefined }
  | { readonly task?: undefined; readonly error: { readonly Error?: unknown; readonly Cause?: unknown } };

export type MigrationTaskVerdict =
  | { readonly kind: 'succeeded'; readonly task: MigrationTaskRef }
  /** The state timed out: the task may still run. The caller stops it, then raises MigrationTaskTimeoutError. */
  | { readonly kind: 'timed-out'; readonly task: MigrationTaskRef }
  | {
      readonly kind: 'failed';
      readonly error:
        | MigrationCommandFailedError
        | MigrationTaskNotStartedError
        | MigrationTaskNotPlacedError;
    };

/** The subset of an ECS task this reads, in the SDK's camelCase. */
export interface StoppedTask {
  readonly taskArn?: string;
  readonly clusterArn?: string;
  readonly lastStatus?: string;
  readonly stopCode?: string;
  readonly stoppedReason?: string;
  readonly containers?: readonly {
    readonly name?: string;
    readonly exitCode?: number | null;
    readonly reason?: string;
    readonly lastStatus?: string;
  }[];
}

export interface InterpretOptions {
  /** The container whose command is the migration. */
  readonly container: string;
}

/** Step Functions' own timeout error names: the state's TimeoutSeconds, or its heartbeat. */
const TIMEOUT_ERRORS = new Set(['States.Timeout', 'States.HeartbeatTimeout']);

export function interpretMigrationTask(
  outcome: MigrationTaskOutcome,
  options: InterpretOptions,
): MigrationTaskVerdict {
  if (outcome.error === undefined) return interpretStoppedTask(toCamelCase(outcome.task), options);
  const errorName = typeof outcome.error.Error === 'string' ? outcome.error.Error : 'unknown';
  const cause = parseCause(outcome.error.Cause);
  const described =
    typeof cause === 'object' && cause !== null ? (toCamelCase(cause) as Record<string, unknown>) : undefined;
  if (TIMEOUT_ERRORS.has(errorName)) {
    const taskArn = typeof described?.taskArn === 'string' ? described.taskArn : undefined;
    return { kind: 'timed-out', task: taskRef(taskArn, described?.clusterArn) };
  }
  // The .sync state fails with the stopped task as its Cause when ECS reports the task failed.
  if (described && (Array.isArray(described.containers) || typeof described.stopCode === 'string'))
    return interpretStoppedTask(described, options);
  if (described && Array.isArray(described.failures))
    return { kind: 'failed', error: new MigrationTaskNotPlacedError(readFailures(described.failures)) };
  if (errorName === 'AmazonECS.Unknown')
    return {
      kind: 'failed',
      error: new MigrationTaskNotPlacedError([{ reason: errorName, detail: causeText(outcome.error.Cause) }]),
    };
  // Anything else (access denied, an invalid parameter…) kept RunTask from starting a task.
  return {
    kind: 'failed',
    error: new MigrationTaskNotStartedError(
      options.container,
      taskRef(undefined, undefined),
      undefined,
      `${errorName}: ${causeText(outcome.error.Cause)}`,
      undefined,
    ),
  };
}

/** The verdict on a task ECS reports stopped. Success only with exit code 0 from a task stopped by that exit. */
export function interpretStoppedTask(task: unknown, options: InterpretOptions): MigrationTaskVerdict {
  const t = (typeof task === 'object' && task !== null ? task : {}) as StoppedTask;
  const ref = taskRef(t.taskArn, t.clusterArn);
  const container = t.containers?.find((c) => c.name === options.container);
  const exitCode = container?.exitCode;
  if (typeof exitCode !== 'number') {
    const containerReason =
      container === undefined ? `the task has no container named "${options.container}"` : container.reason;
    return {
      kind: 'failed',
      error: new MigrationTaskNotStartedError(
        options.container,
        ref,
        t.stopCode,
        t.stoppedReason,
        containerReason,
      ),
    };
  }
  if (exitCode !== 0 || t.stopCode !== 'EssentialContainerExited' || t.lastStatus !== 'STOPPED')
    return {
      kind: 'failed',
      error: new MigrationCommandFailedError(
        exitCode,
        options.container,
        ref,
        t.lastStatus === 'STOPPED'
          ? t.stopCode
          : `${t.stopCode ?? '(none)'} (last status ${t.lastStatus ?? 'not reported'})`,
        t.stoppedReason,
      ),
    };
  return { kind: 'succeeded', task: ref };
}

/**
 * The task's page in the ECS console of its partition (../shared/console-link.ts). Task ARNs name their cluster in
 * the long format (`arn:aws:ecs:region:account:task/cluster/id`); with the old format the cluster comes from
 * `clusterArn`.
 */
export function taskRef(taskArn: string | undefined, clusterArn: unknown): MigrationTaskRef {
  const parts = taskArn?.match(/^arn:([^:]+):ecs:([^:]+):[^:]*:task\/(?:([^/]+)\/)?([^/]+)$/);
  const clusterName =
    parts?.[3] ?? (typeof clusterArn === 'string' ? clusterArn.split('/').pop() : undefined);
  const [partition, region, id] = [parts?.[1], parts?.[2], parts?.[4]];
  const consoleUrl =
    partition && region && clusterName && id
      ? consoleLink(partition, region, `/ecs/v2/clusters/${clusterName}/tasks/${id}/configuration`)
      : undefined;
  return { taskArn, consoleUrl };
}

function readFailures(failures: unknown[]): { arn?: string; reason?: string; detail?: string }[] {
  return failures.map((f) => {
    const o = (typeof f === 'object' && f !== null ? f : {}) as Record<string, unknown>;
    const pick = (k: string) => (typeof o[k] === 'string' ? { [k]: o[k] as string } : {});
    return { ...pick('arn'), ...pick('reason'), ...pick('detail') };
  });
}

function parseCause(cause: unknown): unknown {
  if (typeof cause !== 'string') return cause;
  try {
    return JSON.parse(cause);
  } catch {
    return cause;
  }
}

function causeText(cause: unknown): string {
  if (cause === undefined || cause === null || cause === '') return '(no cause given)';
  return typeof cause === 'string' ? cause : JSON.stringify(cause);
}

/** Step Functions' PascalCase keys as the SDK's camelCase (`TaskArn` → `taskArn`), at every depth. */
export function toCamelCase(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toCamelCase);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k.charAt(0).toLowerCase() + k.slice(1), toCamelCase(v)]),
  );
}
