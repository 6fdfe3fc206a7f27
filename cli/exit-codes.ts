import { constants } from 'node:os';
import { type EngineErrorCode, LockstepError } from '../engine/errors.ts';
import type { ReleaseErrorCode } from '../functions/shared/errors.ts';
import type { ExecErrorCode } from './exec/errors.ts';

/**
 * How `lockstep` exits. Scripts and CI branch on these numbers, so they are a contract: do not renumber.
 *
 * | code  | meaning                                                                                       |
 * | ----- | --------------------------------------------------------------------------------------------- |
 * | 0     | success: everything pending was applied, or there was nothing to do; `plan` found no problem   |
 * | 1     | unexpected internal error (a bug, or a database error lockstep does not classify)             |
 * | 2     | usage error: unknown or malformed flag, missing migrations directory (`InvalidInputError`)    |
 * | 3     | a migration failed (`MigrationFailedError`); its file, line, column and SQLSTATE are printed  |
 * | 4     | lock timeout: another run holds the migration lock (`LockTimeoutError`), or a migration kept   |
 * |       | hitting `lock_timeout` on a busy table (`LockNotAvailableError`), or a migration released the |
 * |       | lock and another run took it (`LockLostError`); retry later; another rehearsal runs on the     |
 * |       | embedded PostgreSQL (`RehearsalInProgressError`)                                               |
 * | 5     | validation failure, nothing was changed: edited applied file (`ChecksumMismatchError`),       |
 * |       | out-of-order file (`OutOfOrderError`), database ahead (`DatabaseAheadError`), bad file         |
 * |       | (`InvalidMigrationError`), no files while the database has history (`NoMigrationFilesError`); |
 * |       | a self-managed migration in doubt (`InDoubtMigrationError`), another tool's history and none |
 * |       | of lockstep's (`ForeignHistoryError`), `adopt` refused (`AdoptRefusedError`);                  |
 * |       | `publish`: the release was already published with other files                                 |
 * |       | (`ManifestMismatchError`); `approve`/`reject`: the execution is not waiting for approval     |
 * |       | (`ApprovalNotPendingError`)                                                                    |
 * | 6     | incomplete: `--max-duration` stopped the run between migrations; what ran stays applied,      |
 * |       | run again to continue                                                                          |
 * | 7     | cannot connect to PostgreSQL, or lost the connection (`DatabaseUnavailableError`)             |
 * | 8     | `start --follow`, `release --local`: the release ended FAILED, TIMED_OUT or ABORTED           |
 * |       | (`ReleaseFailedError`); `rollback --follow`: the rollback did (`RollbackFailedError`)         |
 * | 9     | `lint`: a finding at or above `--fail-on` that no `-- lockstep:allow` accepts                 |
 * |       | (`UnsafeMigrationError`)                                                                       |
 * | 10    | `rollback`: the database must be restored and `--restore-database` was not given          |
 * |       | (`RestoreRequiredError`), or no snapshot in the records fits (`RestoreUnavailableError`);   |
 * |       | nothing was changed                                                                        |
 * | 124   | `exec`: the command ran past `--timeout` and was stopped (`CommandTimeoutError`)              |
 * | 126   | `exec`: the command exists but cannot be run (`CommandNotExecutableError`)                    |
 * | 127   | `exec`: the command was not found (`CommandNotFoundError`)                                    |
 * | 128+N | killed by signal N (130 for SIGINT, 143 for SIGTERM); the running migration was rolled back   |
 * |       | by the server, or, outside a transaction, stopped at a statement: run again                   |
 *
 * `exec` exits with its command's own code (128+N when a signal N ended it), except in the cases above; a lost
 * lock while the command ran is 4 (`ExecLockLostError`).
 */
export const ExitCode = {
  Success: 0,
  InternalError: 1,
  UsageError: 2,
  MigrationFailed: 3,
  LockTimeout: 4,
  ValidationFailed: 5,
  Incomplete: 6,
  CannotConnect: 7,
  ReleaseFailed: 8,
  UnsafeMigration: 9,
  RollbackNeedsRestore: 10,
  CommandTimedOut: 124,
  CommandNotExecutable: 126,
  CommandNotFound: 127,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The codes of the errors cli/ and the rehearsal define. */
type CliErrorCode =
  | 'RELEASE_FAILED'
  | 'ROLLBACK_FAILED'
  | 'REHEARSAL_IN_PROGRESS'
  | 'RESTORE_REQUIRED'
  | 'RESTORE_UNAVAILABLE'
  | 'APPROVAL_NOT_PENDING';

/** Exhaustive for the engine and `exec`: a new {@link EngineErrorCode} does not compile until it has an exit code. */
const EXIT_CODE_BY_ERROR: Readonly<
  Record<EngineErrorCode | ExecErrorCode, ExitCode> &
    Partial<Record<ReleaseErrorCode | CliErrorCode, ExitCode>>
> = {
  APPROVAL_NOT_PENDING: ExitCode.ValidationFailed,
  MANIFEST_MISMATCH: ExitCode.ValidationFailed,
  RELEASE_FAILED: ExitCode.ReleaseFailed,
  ROLLBACK_FAILED: ExitCode.ReleaseFailed,
  RESTORE_REQUIRED: ExitCode.RollbackNeedsRestore,
  RESTORE_UNAVAILABLE: ExitCode.RollbackNeedsRestore,
  REHEARSAL_IN_PROGRESS: ExitCode.LockTimeout,
  INVALID_INPUT: ExitCode.UsageError,
  MIGRATION_FAILED: ExitCode.MigrationFailed,
  LOCK_TIMEOUT: ExitCode.LockTimeout,
  LOCK_NOT_AVAILABLE: ExitCode.LockTimeout,
  LOCK_LOST: ExitCode.LockTimeout,
  CHECKSUM_MISMATCH: ExitCode.ValidationFailed,
  OUT_OF_ORDER: ExitCode.ValidationFailed,
  PHASE_ORDER: ExitCode.ValidationFailed,
  DATABASE_AHEAD: ExitCode.ValidationFailed,
  INVALID_MIGRATION: ExitCode.ValidationFailed,
  NO_MIGRATION_FILES: ExitCode.ValidationFailed,
  DATABASE_UNAVAILABLE: ExitCode.CannotConnect,
  UNSAFE_MIGRATION: ExitCode.UnsafeMigration,
  COMMAND_NOT_FOUND: ExitCode.CommandNotFound,
  COMMAND_NOT_EXECUTABLE: ExitCode.CommandNotExecutable,
  COMMAND_TIMEOUT: ExitCode.CommandTimedOut,
  EXEC_LOCK_LOST: ExitCode.LockTimeout,
  IN_DOUBT: ExitCode.ValidationFailed,
  FOREIGN_HISTORY: ExitCode.ValidationFailed,
  ADOPT_REFUSED: ExitCode.ValidationFailed,
};

/** The exit code for a failure, by the error's `code`; anything lockstep did not expect is an internal error. */
export function exitCodeFor(err: unknown): ExitCode {
  const code =
    err instanceof LockstepError
      ? (err.code as EngineErrorCode | ExecErrorCode | ReleaseErrorCode | CliErrorCode)
      : undefined;
  return (code && EXIT_CODE_BY_ERROR[code]) ?? ExitCode.InternalError;
}

/** 128 + the signal's number, as shells report a process killed by it. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}
