/**
 * The failures of `lockstep exec` that are its own, not the command's: the command could not be started, ran past
 * `--timeout`, or lockstep lost its lock while the command ran. Names and codes are a contract, as in
 * engine/errors.ts; cli/exit-codes.ts maps each code to its exit code (124, 126, 127 as `timeout` and a shell use
 * them; 4 for a lost lock, as `migrate`'s LockLostError).
 */
import { LockstepError } from '../../engine/errors.ts';

export type ExecErrorCode =
  | 'COMMAND_NOT_FOUND'
  | 'COMMAND_NOT_EXECUTABLE'
  | 'COMMAND_TIMEOUT'
  | 'EXEC_LOCK_LOST';

/** No executable of that name on PATH (ENOENT): nothing ran. Exit 127, as a shell's "command not found". */
export class CommandNotFoundError extends LockstepError<ExecErrorCode> {
  override readonly name = 'CommandNotFoundError';
  readonly code = 'COMMAND_NOT_FOUND';
  constructor(
    readonly command: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${command}: command not found (not an executable on PATH, nor a path to one); nothing ran. ` +
        'A shell builtin or a pipeline needs a shell: lockstep exec -- sh -c "…"',
      options,
    );
  }
  protected override details() {
    return { command: this.command };
  }
}

/** The file exists but cannot be run (EACCES: not executable; or another spawn failure): nothing ran. Exit 126. */
export class CommandNotExecutableError extends LockstepError<ExecErrorCode> {
  override readonly name = 'CommandNotExecutableError';
  readonly code = 'COMMAND_NOT_EXECUTABLE';
  constructor(
    readonly command: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${command}: cannot run it (${reason}); nothing ran`, options);
  }
  protected override details() {
    return { command: this.command, reason: this.reason };
  }
}

/** The command ran past `--timeout`: it was sent SIGTERM, then SIGKILL after the grace period. Exit 124. */
export class CommandTimeoutError extends LockstepError<ExecErrorCode> {
  override readonly name = 'CommandTimeoutError';
  readonly code = 'COMMAND_TIMEOUT';
  constructor(
    readonly timeoutMs: number,
    /** How the command ended once told to stop: its exit code, or the signal that ended it. */
    readonly ended: string,
  ) {
    super(`the command ran past --timeout (${timeoutMs / 1000} s) and was stopped: ${ended}`);
  }
  protected override details() {
    return { timeoutMs: this.timeoutMs, ended: this.ended };
  }
}

/**
 * lockstep's connection to PostgreSQL broke (or stopped answering) while the command ran, and the advisory lock
 * went with it: another `exec` or `migrate` could start. The command was stopped. Retryable; exit 4.
 */
export class ExecLockLostError extends LockstepError<ExecErrorCode> {
  override readonly name = 'ExecLockLostError';
  readonly code = 'EXEC_LOCK_LOST';
  constructor(
    readonly reason: string,
    /** How the command ended once told to stop. */
    readonly ended: string,
    options?: { cause?: unknown },
  ) {
    super(
      `lockstep lost its lock while the command ran (${reason}): another exec or migrate may have started, ` +
        `so the command was stopped: ${ended}. Run it again once the database is reachable`,
      options,
    );
  }
  protected override details() {
    return { reason: this.reason, ended: this.ended };
  }
}
