/**
 * The step after the state that runs the migration command as an ECS task (`arn:aws:states:::ecs:runTask.sync`):
 * it turns what that state produced into the release's verdict (./interpret-task.ts), and makes sure a task that
 * ran past its timeout is stopped, never left running, before it reports the timeout.
 *
 * The task is found by its `startedBy`, which the state machine sets per execution: a state that timed out gives no
 * task ARN. ListTasks "startedBy: The startedBy value to filter the task results with" (ECS API Reference,
 * ListTasks); StopTask "Stops a running task" with the equivalent of `docker stop`: SIGTERM, then SIGKILL after the
 * stop timeout (ECS API Reference, StopTask). Stopping an already stopped task changes nothing.
 */

import type { Logger } from '@aws-lambda-powertools/logger';
import { ListTasksCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import * as z from 'zod/mini';
import {
  MigrationCommandFailedError,
  type MigrationTaskRef,
  MigrationTaskTimeoutError,
  PendingCheckFailedError,
} from '../shared/errors.ts';
import { parseEvent } from '../shared/events.ts';
import { invocationKeys, runHandler } from '../shared/handler.ts';
import { interpretPendingCheck } from './interpret-pending-check.ts';
import { interpretMigrationTask, type MigrationTaskOutcome, taskRef } from './interpret-task.ts';
import { readTaskOutput, type TaskOutputDeps } from './task-output.ts';

export interface MigrationTaskConfig {
  /** Cluster name or ARN the migration task runs on (the service's). */
  readonly cluster: string;
  /** The container whose command is the migration. */
  readonly containerName: string;
  /** The migration's timeout, as the running state's TimeoutSeconds: named in the timeout alert. */
  readonly timeoutSeconds: number;
  /** The pending check's timeout, when the flow has one. */
  readonly pendingCheckTimeoutSeconds: number | undefined;
}

export interface MigrationTaskDeps extends TaskOutputDeps {
  readonly config: MigrationTaskConfig;
}

export interface MigrationTaskEvent {
  /** Which task the outcome is of: the migration command's, or the pending check's. */
  readonly action: 'migration' | 'pendingCheck';
  readonly executionId: string;
  readonly release: { readonly release: string };
  /** The `startedBy` the running state gave the task. */
  readonly startedBy: string;
  /** The revision the task ran (the register step's), whose task definition names the container's logs. */
  readonly taskDefinitionArn: string;
  readonly outcome: MigrationTaskOutcome;
}

export interface MigrationTaskSucceeded {
  readonly taskArn: string | undefined;
  readonly consoleUrl: string | undefined;
  /** One sentence for the success notice. */
  readonly summary: string;
}

/** The pending check's answer: `pending` routes the state machine to the snapshot and the migration task. */
export interface PendingCheckAnswer {
  readonly pending: boolean;
  readonly exitCode: number;
  readonly taskArn: string | undefined;
  readonly consoleUrl: string | undefined;
  /** One sentence for the success notice when nothing was pending. */
  readonly summary: string;
}

const text = z.string().check(z.minLength(1, 'must not be empty'));
const eventSchema = z.object({
  action: z.enum(['migration', 'pendingCheck']),
  executionId: text,
  release: z.looseObject({ release: text }),
  startedBy: text,
  taskDefinitionArn: text,
  outcome: z.union([
    z.object({ task: z.unknown(), error: z.optional(z.undefined()) }),
    z.object({ error: z.looseObject({ Error: z.optional(z.string()), Cause: z.optional(z.unknown()) }) }),
  ]),
});

/** Validates the state machine's event; throws InvalidInputError naming the first bad field. */
export function parseMigrationTaskEvent(raw: unknown): MigrationTaskEvent {
  const event = parseEvent(eventSchema, raw);
  const outcome: MigrationTaskOutcome =
    'error' in event.outcome && event.outcome.error !== undefined
      ? { error: event.outcome.error }
      : { task: (event.outcome as { task: unknown }).task };
  return { ...event, outcome };
}

/**
 * Succeeds only for a command that exited 0 in a task stopped by that exit; throws the verdict's error otherwise.
 * A timeout stops the task first, then throws {@link MigrationTaskTimeoutError} saying whether it could.
 */
export async function checkMigrationTask(
  deps: MigrationTaskDeps,
  event: MigrationTaskEvent,
): Promise<MigrationTaskSucceeded> {
  const { config, log } = deps;
  const verdict = interpretMigrationTask(event.outcome, { container: config.containerName });
  if (verdict.kind === 'succeeded') {
    log.info('migration command succeeded', { ...verdict.task });
    return { ...verdict.task, summary: 'The migration command exited 0 in that image.' };
  }
  const output = (task: MigrationTaskRef) =>
    readTaskOutput(
      deps,
      { taskArn: task.taskArn, taskDefinitionArn: event.taskDefinitionArn },
      config.containerName,
    );
  if (verdict.kind === 'failed') {
    const e = verdict.error;
    // The command ran: its last lines say why it failed. A task that never ran has no output.
    if (e instanceof MigrationCommandFailedError)
      throw new MigrationCommandFailedError(
        e.exitCode,
        e.container,
        e.task,
        e.stopCode,
        e.stoppedReason,
        await output(e.task),
      );
    throw e;
  }
  const stopReason = `lockstep: the migration ran past its timeout of ${config.timeoutSeconds} s`;
  const { task, stopped } = await stopTimedOutTask(deps, event.startedBy, verdict.task, stopReason);
  throw new MigrationTaskTimeoutError(config.timeoutSeconds, task, stopped, await output(task));
}

/**
 * The pending check's answer (./interpret-pending-check.ts): exit 0 is "nothing pending", another exit code of a
 * command that ended by itself is "pending"; no answer throws {@link PendingCheckFailedError}, after stopping a
 * check that ran past its timeout.
 */
export async function readPendingCheck(
  deps: MigrationTaskDeps,
  event: MigrationTaskEvent,
): Promise<PendingCheckAnswer> {
  const { config, log } = deps;
  const verdict = interpretPendingCheck(event.outcome, { container: config.containerName });
  if (verdict.kind === 'answered') {
    const { pending, exitCode, task } = verdict;
    log.info(pending ? 'migrations pending' : 'nothing pending', { exitCode, ...task });
    return {
      pending,
      exitCode,
      ...task,
      summary: pending
        ? `The pending check exited ${exitCode}: migrations pending.`
        : 'Nothing was pending (the pending check exited 0): no snapshot, and the migration command did not run.',
    };
  }
  if (verdict.kind === 'failed') throw verdict.error;
  const seconds = config.pendingCheckTimeoutSeconds;
  const limit = seconds === undefined ? 'its timeout' : `its timeout of ${seconds} s`;
  const { task, stopped } = await stopTimedOutTask(
    deps,
    event.startedBy,
    verdict.task,
    `lockstep: the pending check ran past ${limit}`,
  );
  throw new PendingCheckFailedError(
    `it ran past ${limit} and ${stopped ? 'was stopped (StopTask)' : 'could NOT be stopped: stop it by hand in the ECS console'}`,
    task,
  );
}

/** Stops every task this execution started that still runs; reports whether all of them could be. */
async function stopTimedOutTask(
  deps: MigrationTaskDeps,
  startedBy: string,
  known: MigrationTaskRef,
  reason: string,
): Promise<{ task: MigrationTaskRef; stopped: boolean }> {
  const { ecs, log, config } = deps;
  let arns: string[] = known.taskArn ? [known.taskArn] : [];
  try {
    if (arns.length === 0) {
      const listed = await ecs.send(
        new ListTasksCommand({ cluster: config.cluster, startedBy, desiredStatus: 'RUNNING' }),
      );
      arns = listed.taskArns ?? [];
    }
    for (const task of arns)
      await ecs.send(
        new StopTaskCommand({
          cluster: config.cluster,
          task,
          reason,
        }),
      );
    log.warn('stopped the timed-out task', { taskArns: arns, reason });
    return { task: arns[0] ? taskRef(arns[0], undefined) : known, stopped: true };
  } catch (err) {
    log.error('could not stop the timed-out task', {
      taskArns: arns,
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    });
    return { task: arns[0] ? taskRef(arns[0], undefined) : known, stopped: false };
  }
}

/** The Lambda handler around {@link checkMigrationTask} and {@link readPendingCheck}, by the event's action. */
export function createMigrationTaskHandler(deps: MigrationTaskDeps, logger: Logger) {
  return (raw: unknown): Promise<MigrationTaskSucceeded | PendingCheckAnswer> => {
    const { executionId, release } = invocationKeys(raw);
    return runHandler(logger, { executionId, release, step: 'migration-task' }, () => {
      const event = parseMigrationTaskEvent(raw);
      return event.action === 'pendingCheck'
        ? readPendingCheck(deps, event)
        : checkMigrationTask(deps, event);
    });
  };
}
