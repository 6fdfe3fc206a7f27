/**
 * The verdict on the pending check (command mode's optional second command, `pendingCheck`): its exit status says
 * whether anything is pending. Read with the same interpretation as the migration task (./interpret-task.ts), so a
 * check task is judged by the same facts, and then:
 *
 * - exit 0, in a task stopped because that container exited (`stopCode` EssentialContainerExited): nothing is pending.
 * - any other exit code, stopped the same way: pending. No particular code is required: the tools' "pending" codes
 *   differ (1 for Django, Rails, Prisma and dbmate, 255 for Alembic, N for Laravel's `--pending=N`), and most exit
 *   with the same code on an error (a connection refused, an exception), so no code could tell "pending" from
 *   "could not tell". Reading those as pending is the safe side: the snapshot is taken and the migration command
 *   runs, and fails by itself if the database cannot be reached.
 * - no answer: the task could not be placed, never started (no exit code: ecspresso#534), ran past its timeout, or
 *   was stopped by ECS or someone else (UserInitiated, SpotInterruption…: an exit code then is a reaction to the
 *   stop, not the tool's answer). That is {@link PendingCheckFailedError}: lockstep does not guess either way.
 */
import {
  MigrationCommandFailedError,
  MigrationTaskNotPlacedError,
  MigrationTaskNotStartedError,
  type MigrationTaskRef,
  PendingCheckFailedError,
} from '../shared/errors.ts';
import {
  type InterpretOptions,
  interpretMigrationTask,
  type MigrationTaskOutcome,
} from './interpret-task.ts';

export type PendingCheckVerdict =
  | {
      readonly kind: 'answered';
      readonly pending: boolean;
      readonly exitCode: number;
      readonly task: MigrationTaskRef;
    }
  /** The state timed out: the task may still run. The caller stops it, then raises PendingCheckFailedError. */
  | { readonly kind: 'timed-out'; readonly task: MigrationTaskRef }
  | { readonly kind: 'failed'; readonly error: PendingCheckFailedError };

export function interpretPendingCheck(
  outcome: MigrationTaskOutcome,
  options: InterpretOptions,
): PendingCheckVerdict {
  const verdict = interpretMigrationTask(outcome, options);
  if (verdict.kind === 'succeeded')
    return { kind: 'answered', pending: false, exitCode: 0, task: verdict.task };
  if (verdict.kind === 'timed-out') return verdict;
  const error = verdict.error;
  if (
    error instanceof MigrationCommandFailedError &&
    error.exitCode !== 0 &&
    error.stopCode === 'EssentialContainerExited'
  )
    return { kind: 'answered', pending: true, exitCode: error.exitCode, task: error.task };
  return { kind: 'failed', error: new PendingCheckFailedError(why(error), taskOf(error), { cause: error }) };
}

function why(
  error: MigrationCommandFailedError | MigrationTaskNotStartedError | MigrationTaskNotPlacedError,
): string {
  if (error instanceof MigrationTaskNotPlacedError)
    return `ECS did not place its task (${error.failures.map((f) => [f.reason, f.detail].filter(Boolean).join(' ') || 'no reason given').join('; ') || 'no failure reported'})`;
  if (error instanceof MigrationTaskNotStartedError)
    return `its command never ran in container "${error.container}" (stopCode ${error.stopCode ?? '(none)'}, stoppedReason "${error.stoppedReason ?? '(none)'}"${error.containerReason && error.containerReason !== error.stoppedReason ? `, container reason "${error.containerReason}"` : ''})`;
  return `ECS stopped its task with stopCode ${error.stopCode ?? '(none)'}${error.stoppedReason ? ` ("${error.stoppedReason}")` : ''}, not its command's own exit, so its exit code ${error.exitCode} is no answer`;
}

function taskOf(
  error: MigrationCommandFailedError | MigrationTaskNotStartedError | MigrationTaskNotPlacedError,
): MigrationTaskRef {
  return error instanceof MigrationTaskNotPlacedError
    ? { taskArn: undefined, consoleUrl: undefined }
    : error.task;
}
