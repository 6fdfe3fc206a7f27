/**
 * Errors the release functions raise besides the engine's (engine/errors.ts). Step Functions Retry/Catch
 * rules match on `name`: renaming one is a breaking change. ERROR_POLICY says for each name whether the state
 * machine retries it, and how; every other name fails the release at once.
 */
import { LockstepError } from '../../engine/errors.ts';

export {
  ChecksumMismatchError,
  DatabaseAheadError,
  DatabaseUnavailableError,
  InvalidInputError,
  InvalidMigrationError,
  LockNotAvailableError,
  LockstepError,
  LockTimeoutError,
  MigrationFailedError,
  OutOfOrderError,
  PhaseOrderError,
  UnsafeMigrationError,
} from '../../engine/errors.ts';

export type ReleaseErrorCode =
  | 'CONFIG_INVALID'
  | 'RELEASE_IN_PROGRESS'
  | 'MIGRATIONS_NOT_FOUND'
  | 'MANIFEST_MISMATCH'
  | 'SNAPSHOT_FAILED'
  | 'SNAPSHOT_QUOTA_EXCEEDED'
  | 'SNAPSHOT_TIMEOUT'
  | 'DATABASE_NOT_READY'
  | 'DATABASE_STOPPED'
  | 'DEPLOYMENT_FAILED'
  | 'DEPLOY_TARGET_INVALID'
  | 'ROLLOUT_TIMEOUT'
  | 'IMAGE_NOT_RECORDED'
  | 'MIGRATION_COMMAND_FAILED'
  | 'MIGRATION_TASK_NOT_STARTED'
  | 'MIGRATION_TASK_NOT_PLACED'
  | 'MIGRATION_TASK_TIMEOUT'
  | 'PENDING_CHECK_FAILED'
  | 'RELEASE_REJECTED'
  | 'RELEASE_LOCK_LOST'
  | 'ROLLBACK_REFUSED'
  | 'RESTORE_FAILED'
  | 'RESTORE_TIMEOUT'
  | 'RENAME_TIMEOUT'
  | 'SWITCH_CONFLICT';

/** An environment variable is missing or malformed: a deployment mistake, found at cold start. */
export class ConfigError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`environment variable ${variable}: ${problem}`);
  }
  protected override details() {
    return { variable: this.variable };
  }
}

/** Another execution of this state machine is releasing to the same database. */
export class ReleaseInProgressError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'ReleaseInProgressError';
  readonly code = 'RELEASE_IN_PROGRESS';
  constructor(
    readonly otherExecutionArn: string,
    readonly otherStartedAt: string | undefined,
  ) {
    super(
      `another release is already running against this database: ${otherExecutionArn}` +
        `${otherStartedAt ? ` (started ${otherStartedAt})` : ''}; wait for it to finish, or stop it, then start this one again`,
    );
  }
  protected override details() {
    return { otherExecutionArn: this.otherExecutionArn, otherStartedAt: this.otherStartedAt };
  }
}

/** The migrations artifact for this release does not exist. */
export class MigrationsNotFoundError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'MigrationsNotFoundError';
  readonly code = 'MIGRATIONS_NOT_FOUND';
  constructor(
    readonly location: string,
    hint: string,
  ) {
    super(`no migrations for this release at ${location}: ${hint}`);
  }
  protected override details() {
    return { location: this.location };
  }
}

/** The downloaded migrations do not match their manifest: a file is missing, extra or altered. */
export class ManifestMismatchError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'ManifestMismatchError';
  readonly code = 'MANIFEST_MISMATCH';
  constructor(
    readonly location: string,
    readonly problems: readonly string[],
  ) {
    super(
      `the migrations at ${location} do not match their manifest:\n${problems.map((p) => `  ${p}`).join('\n')}`,
    );
  }
  protected override details() {
    return { location: this.location, problems: this.problems };
  }
}

/** The snapshot ended in a state it cannot be restored from. */
export class SnapshotFailedError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'SnapshotFailedError';
  readonly code = 'SNAPSHOT_FAILED';
  constructor(
    readonly snapshotId: string,
    readonly status: string,
  ) {
    super(
      `snapshot ${snapshotId} ended in status "${status}": the database was not backed up, so nothing was migrated`,
    );
  }
  protected override details() {
    return { snapshotId: this.snapshotId, status: this.status };
  }
}

/** The account's manual-snapshot quota is used up. */
export class SnapshotQuotaExceededError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'SnapshotQuotaExceededError';
  readonly code = 'SNAPSHOT_QUOTA_EXCEEDED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(
      `${message} — delete old manual snapshots, lower the number lockstep keeps, or ask AWS for a higher quota ("Manual DB snapshots" / "Manual DB cluster snapshots")`,
      options,
    );
  }
}

/**
 * The snapshot was not available by the deadline `create` set (SNAPSHOT_TIMEOUT_SECONDS). Nothing was
 * migrated, but RDS may still finish the snapshot: it is left in place.
 */
export class SnapshotTimeoutError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'SnapshotTimeoutError';
  readonly code = 'SNAPSHOT_TIMEOUT';
  constructor(
    readonly snapshotId: string,
    readonly status: string,
    readonly waitedUntil: string,
  ) {
    super(
      `snapshot ${snapshotId} did not become available in time (still "${status}" after waiting until ${waitedUntil}): ` +
        'nothing was migrated. The snapshot may still complete: check it in the RDS console before restoring from it or deleting it',
    );
  }
  protected override details() {
    return { snapshotId: this.snapshotId, status: this.status, waitedUntil: this.waitedUntil };
  }
}

/** The database is not in the `available` state (backing up, modifying…). Retryable. */
export class DatabaseNotReadyError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'DatabaseNotReadyError';
  readonly code = 'DATABASE_NOT_READY';
}

/** The database is stopped (or stopping): it will not become available by itself, so the release fails at once. */
export class DatabaseStoppedError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'DatabaseStoppedError';
  readonly code = 'DATABASE_STOPPED';
  constructor(
    readonly database: string,
    readonly status: string,
  ) {
    super(
      `${database} is ${status}: start it (or wait for it to start), then start the release again; nothing was changed`,
    );
  }
  protected override details() {
    return { database: this.database, status: this.status };
  }
}

/** The ECS deployment failed (the circuit breaker rolled it back, or it was stopped). */
export class DeploymentFailedError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'DeploymentFailedError';
  readonly code = 'DEPLOYMENT_FAILED';
  constructor(
    message: string,
    readonly deploymentId: string | undefined,
  ) {
    super(message);
  }
  protected override details() {
    return { deploymentId: this.deploymentId };
  }
}

/** The ECS service or its task definition cannot take the release as configured (no such container…). */
export class DeployTargetInvalidError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'DeployTargetInvalidError';
  readonly code = 'DEPLOY_TARGET_INVALID';
}

/**
 * The ECS rollout had not finished by the deadline `start` set (DEPLOY_TIMEOUT_SECONDS). The migrations are
 * already applied; the service may still be rolling out, or rolling back.
 */
export class RolloutTimeoutError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'RolloutTimeoutError';
  readonly code = 'ROLLOUT_TIMEOUT';
  constructor(
    readonly deploymentId: string,
    readonly rolloutState: string | null,
    readonly waitedUntil: string,
  ) {
    super(
      `ECS deployment ${deploymentId} did not finish in time (rollout state ${rolloutState ?? 'not reported'} after waiting until ${waitedUntil}): ` +
        'the migrations ARE applied. The service may still be rolling out or rolling back: check the deployment in the ECS console',
    );
  }
  protected override details() {
    return {
      deploymentId: this.deploymentId,
      rolloutState: this.rolloutState,
      waitedUntil: this.waitedUntil,
    };
  }
}

/**
 * The rollout completed, but the released image could not be written where the stack reads it (the construct's
 * `imageParameter`). The app runs the release; until the parameter holds it, a stack update would put the
 * parameter's older image back.
 */
export class ImageNotRecordedError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'ImageNotRecordedError';
  readonly code = 'IMAGE_NOT_RECORDED';
  constructor(
    readonly parameterName: string,
    readonly image: string,
    options?: { cause?: unknown },
  ) {
    const cause =
      options?.cause instanceof Error ? `${options.cause.name}: ${options.cause.message}` : 'unknown error';
    super(
      `the rollout COMPLETED and the service runs ${image}, but recording it in SSM parameter ${parameterName} failed (${cause}). ` +
        `Until the parameter holds it, a stack update would deploy the parameter's older image: run ` +
        `aws ssm put-parameter --name ${parameterName} --type String --overwrite --value ${image}`,
      options,
    );
  }
  protected override details() {
    return { parameterName: this.parameterName, image: this.image };
  }
}

/** Where a migration task ran, for the alert: its ARN, its last known status and a link to it in the ECS console. */
export interface MigrationTaskRef {
  readonly taskArn: string | undefined;
  readonly consoleUrl: string | undefined;
}

const taskLine = (task: MigrationTaskRef) =>
  task.taskArn ? `task ${task.taskArn}${task.consoleUrl ? ` (${task.consoleUrl})` : ''}` : 'the task';

/**
 * The migration command ran and did not succeed: it exited non-zero (the tool's own error is in its output, the
 * task's logs), or it exited 0 but ECS stopped the task for another reason than its exit (stopCode), so it may not
 * have finished.
 */
export class MigrationCommandFailedError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'MigrationCommandFailedError';
  readonly code = 'MIGRATION_COMMAND_FAILED';
  constructor(
    readonly exitCode: number,
    readonly container: string,
    readonly task: MigrationTaskRef,
    readonly stopCode: string | undefined,
    readonly stoppedReason: string | undefined,
    /** The last lines of the command's output, or why they could not be read (./migration-task/task-output.ts). */
    readonly output?: string,
  ) {
    const how =
      exitCode === 0
        ? `exited with code 0, but ECS stopped the task with stopCode ${stopCode ?? '(none)'}: the command may not have finished`
        : `exited with code ${exitCode}`;
    super(
      `the migration command in container "${container}" ${how} (${taskLine(task)}${stoppedReason ? `; ECS: ${stoppedReason}` : ''}). ` +
        "What the tool applied before failing stays applied unless it rolled back itself; nothing was deployed. Read the tool's output in the task's logs" +
        (output ? `.\n\n${output}` : ''),
    );
  }
  protected override details() {
    return {
      exitCode: this.exitCode,
      container: this.container,
      ...this.task,
      stopCode: this.stopCode,
      stoppedReason: this.stoppedReason,
    };
  }
}

/**
 * The migration task stopped without an exit code for the command: it never ran (the image could not be pulled, a
 * secret could not be read, the network interface was not attached…), so nothing was migrated. A task without an
 * exit code is never taken for a success (ecspresso#534).
 */
export class MigrationTaskNotStartedError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'MigrationTaskNotStartedError';
  readonly code = 'MIGRATION_TASK_NOT_STARTED';
  constructor(
    readonly container: string,
    readonly task: MigrationTaskRef,
    readonly stopCode: string | undefined,
    readonly stoppedReason: string | undefined,
    readonly containerReason: string | undefined,
  ) {
    super(
      `the migration command in container "${container}" has no exit code, so it never ran (or ECS lost it): ${taskLine(task)} stopped with ` +
        `stopCode ${stopCode ?? '(none)'}, stoppedReason "${stoppedReason ?? '(none)'}"` +
        `${containerReason ? `, container reason "${containerReason}"` : ''}. Nothing was migrated or deployed`,
    );
  }
  protected override details() {
    return {
      container: this.container,
      ...this.task,
      stopCode: this.stopCode,
      stoppedReason: this.stoppedReason,
      containerReason: this.containerReason,
    };
  }
}

/** ECS could not place the migration task (RunTask answered with `failures`: capacity, placement, …). Retryable. */
export class MigrationTaskNotPlacedError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'MigrationTaskNotPlacedError';
  readonly code = 'MIGRATION_TASK_NOT_PLACED';
  constructor(
    readonly failures: readonly {
      readonly arn?: string;
      readonly reason?: string;
      readonly detail?: string;
    }[],
  ) {
    super(
      `ECS did not start the migration task: ${failures.map((f) => [f.reason, f.detail, f.arn].filter(Boolean).join(' ') || 'no reason given').join('; ') || 'no failure reported'}. Nothing was migrated or deployed`,
    );
  }
  protected override details() {
    return { failures: this.failures };
  }
}

/** The migration task ran past its timeout; lockstep stopped it (StopTask). What it applied before that stays applied. */
export class MigrationTaskTimeoutError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'MigrationTaskTimeoutError';
  readonly code = 'MIGRATION_TASK_TIMEOUT';
  constructor(
    readonly timeoutSeconds: number,
    readonly task: MigrationTaskRef,
    readonly stopped: boolean,
    /** The last lines of the command's output, or why they could not be read. */
    readonly output?: string,
  ) {
    super(
      `the migration command did not finish within ${timeoutSeconds} s: ${taskLine(task)} ` +
        `${stopped ? 'was stopped (StopTask)' : 'could NOT be stopped: stop it by hand in the ECS console'}. ` +
        'What the tool applied before that stays applied unless it ran in a transaction; nothing was deployed' +
        (output ? `.\n\n${output}` : ''),
    );
  }
  protected override details() {
    return { timeoutSeconds: this.timeoutSeconds, ...this.task, stopped: this.stopped };
  }
}

/**
 * The pending check gave no answer: its task could not be placed, never started, ran past its timeout, or was stopped
 * by ECS or someone else rather than by its command's exit. lockstep does not guess "nothing pending" (which would
 * skip the migration) nor "pending": the release stops before the snapshot. The underlying verdict is the `cause`.
 */
export class PendingCheckFailedError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'PendingCheckFailedError';
  readonly code = 'PENDING_CHECK_FAILED';
  constructor(
    readonly why: string,
    readonly task: MigrationTaskRef,
    options?: { cause?: unknown },
  ) {
    super(
      `the pending check gave no answer, so whether migrations are pending is unknown: ${why}. ` +
        'lockstep does not guess: nothing was snapshotted, migrated or deployed. Fix the check (or remove it: then every release snapshots and runs the command) and release again',
      options,
    );
  }
  protected override details() {
    return { why: this.why, ...this.task };
  }
}

/**
 * Someone rejected the release at its approval gate (`lockstep reject`): the name is what SendTaskFailure reports as
 * the gate's error, and the message its Cause, naming who rejected it, when and why. Nothing was migrated or deployed.
 */
export class ReleaseRejectedError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'ReleaseRejectedError';
  readonly code = 'RELEASE_REJECTED';
  constructor(
    readonly rejectedBy: string,
    readonly rejectedAt: string,
    readonly reason: string,
  ) {
    super(`rejected by ${rejectedBy} at ${rejectedAt}: ${reason}`);
  }
  protected override details() {
    return { rejectedBy: this.rejectedBy, rejectedAt: this.rejectedAt, reason: this.reason };
  }
}

/**
 * The execution no longer holds its database's release lock where it expected to (the approval gate stores its task
 * token on the lock item): the lock expired and another release took it. Nothing more is done in this release.
 */
export class ReleaseLockLostError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'ReleaseLockLostError';
  readonly code = 'RELEASE_LOCK_LOST';
  constructor(
    readonly executionArn: string,
    readonly lockId: string,
  ) {
    super(
      `the release lock of ${lockId} is no longer held by ${executionArn} (it expired and another release took it, or it was deleted); nothing more is done in this release`,
    );
  }
  protected override details() {
    return { executionArn: this.executionArn, lockId: this.lockId };
  }
}

/**
 * A rollback refused before it changed anything: another release or rollback holds the database's release lock, the
 * snapshot is not this database's or cannot be restored from, or the identifiers lockstep would give are taken.
 */
export class RollbackRefusedError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'RollbackRefusedError';
  readonly code = 'ROLLBACK_REFUSED';
}

/**
 * The database restored from the snapshot ended in a state it does not leave by itself (failed, incompatible-…).
 * The original database is untouched and still serves the app; the restored one is left for inspection.
 */
export class RestoreFailedError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'RestoreFailedError';
  readonly code = 'RESTORE_FAILED';
  constructor(
    readonly restored: string,
    readonly status: string,
  ) {
    super(
      `the database restored from the snapshot, ${restored}, is "${status}" and will not become available: nothing was switched, ` +
        `the original still serves the app. ${restored} is kept for inspection: delete it when done`,
    );
  }
  protected override details() {
    return { restored: this.restored, status: this.status };
  }
}

/** The restored database was not available by the deadline the restore step set. Nothing was switched. */
export class RestoreTimeoutError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'RestoreTimeoutError';
  readonly code = 'RESTORE_TIMEOUT';
  constructor(
    readonly restored: string,
    readonly status: string,
    readonly waitedUntil: string,
  ) {
    super(
      `the database restored from the snapshot, ${restored}, was not available in time (still "${status}" after waiting until ${waitedUntil}): ` +
        'nothing was switched, the original still serves the app. RDS may still finish the restore: it is left in place',
    );
  }
  protected override details() {
    return { restored: this.restored, status: this.status, waitedUntil: this.waitedUntil };
  }
}

/** A rename of the switch was not visible (the new identifier available) by its deadline. */
export class RenameTimeoutError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'RenameTimeoutError';
  readonly code = 'RENAME_TIMEOUT';
  constructor(
    readonly from: string,
    readonly to: string,
    readonly status: string,
    readonly waitedUntil: string,
  ) {
    super(
      `renaming ${from} to ${to} was not done in time (${status} after waiting until ${waitedUntil}); RDS may still complete it`,
    );
  }
  protected override details() {
    return { from: this.from, to: this.to, status: this.status, waitedUntil: this.waitedUntil };
  }
}

/**
 * The identifiers are not where the switch left them: the database's identifier is held by something that is neither
 * the original nor the restored database, or neither of them can be found. Nothing more is renamed: a person looks.
 */
export class SwitchConflictError extends LockstepError<ReleaseErrorCode> {
  override readonly name = 'SwitchConflictError';
  readonly code = 'SWITCH_CONFLICT';
}

/** How Step Functions retries one error: the first wait, the attempts after the first failure, the growth. */
export interface RetryRule {
  readonly intervalSeconds: number;
  readonly maxAttempts: number;
  readonly backoffRate: number;
}

/**
 * The release's error contract as the state machine applies it, one entry per lockstep error name: a retry
 * rule, or `final` (the release stops and alerts at once). The definition (infra/constructs/release-definition.ts)
 * builds every Task's Retry from this table and {@link AWS_RETRIES}; nothing else decides.
 *
 * Lock retries have one owner: the engine retries a statement that hit `lock_timeout` (LOCK_RETRIES, with its
 * own backoff) inside the invocation, so `LockNotAvailableError` reaches Step Functions only once the engine has
 * given up, and is final there. Retrying it again would multiply the ACCESS EXCLUSIVE requests that queue
 * behind a long transaction and block the table's traffic for up to `lock_timeout` each.
 */
export const ERROR_POLICY = {
  // Another run holds the migration's advisory lock: waiting blocks no table, so wait again with backoff.
  LockTimeoutError: { intervalSeconds: 30, maxAttempts: 5, backoffRate: 2 },
  // A migration released the advisory lock and another run took it: that run is migrating; the same wait.
  LockLostError: { intervalSeconds: 30, maxAttempts: 5, backoffRate: 2 },
  LockNotAvailableError: 'final',
  DatabaseUnavailableError: { intervalSeconds: 10, maxAttempts: 3, backoffRate: 2 },
  // Backing up or modifying: RDS refuses a snapshot until it is available again (a stopped one fails at once).
  DatabaseNotReadyError: { intervalSeconds: 60, maxAttempts: 10, backoffRate: 1.5 },
  DatabaseStoppedError: 'final',
  InvalidInputError: 'final',
  ConfigError: 'final',
  // Another release holds the database's release lock: an expected wait, not a failure. The newer release
  // waits its turn (up to 30 minutes) instead of paging anyone; a release still blocked after that fails.
  ReleaseInProgressError: { intervalSeconds: 60, maxAttempts: 30, backoffRate: 1 },
  MigrationsNotFoundError: 'final',
  ManifestMismatchError: 'final',
  InvalidMigrationError: 'final',
  ChecksumMismatchError: 'final',
  OutOfOrderError: 'final',
  PhaseOrderError: 'final',
  DatabaseAheadError: 'final',
  NoMigrationFilesError: 'final',
  // A self-managed migration's outcome is unknown, or another tool's history needs adopting: a person decides.
  InDoubtMigrationError: 'final',
  ForeignHistoryError: 'final',
  AdoptRefusedError: 'final',
  MigrationFailedError: 'final',
  SnapshotFailedError: 'final',
  SnapshotQuotaExceededError: 'final',
  SnapshotTimeoutError: 'final',
  DeploymentFailedError: 'final',
  DeployTargetInvalidError: 'final',
  RolloutTimeoutError: 'final',
  ImageNotRecordedError: 'final',
  MigrationCommandFailedError: 'final',
  MigrationTaskNotStartedError: 'final',
  // Raised once RUN_TASK_RETRY (below) has given up: the RunTask state retried; retrying the verdict changes nothing.
  MigrationTaskNotPlacedError: 'final',
  MigrationTaskTimeoutError: 'final',
  // The check's RunTask state retried placement already (RUN_TASK_RETRY); a check that gave no answer is not retried.
  PendingCheckFailedError: 'final',
  // The rollback (issue 16): refused before anything changed, or the restore or a rename went wrong. A person decides;
  // each step is safe to start again (the restore is adopted, a rename done is seen as done).
  RollbackRefusedError: 'final',
  RestoreFailedError: 'final',
  RestoreTimeoutError: 'final',
  RenameTimeoutError: 'final',
  SwitchConflictError: 'final',
  // The plan step's lint found what would lock, rewrite or break production: a human decides, not a retry.
  UnsafeMigrationError: 'final',
  // A person said no at the approval gate; asking again is a new release.
  ReleaseRejectedError: 'final',
  ReleaseLockLostError: 'final',
} as const satisfies Readonly<Record<string, RetryRule | 'final'>>;

/** Error names the state machine retries with backoff. Everything else fails the release at once. */
export const RETRYABLE_ERRORS = Object.entries(ERROR_POLICY)
  .filter(([, rule]) => rule !== 'final')
  .map(([name]) => name);

/** AWS's own transient errors, retried on every Lambda task whatever the step. */
export const AWS_RETRIES: ReadonlyArray<{ readonly errors: readonly string[] } & RetryRule> = [
  {
    // Lambda's service errors (the invocation itself failed, not the function).
    errors: [
      'Lambda.ServiceException',
      'Lambda.AWSLambdaException',
      'Lambda.SdkClientException',
      'Lambda.TooManyRequestsException',
      'Lambda.ClientExecutionTimeoutException',
    ],
    intervalSeconds: 2,
    maxAttempts: 6,
    backoffRate: 2,
  },
  {
    // The AWS SDK's throttling errors, as the functions rethrow them unchanged.
    errors: ['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded'],
    intervalSeconds: 5,
    maxAttempts: 5,
    backoffRate: 2,
  },
];

/**
 * RunTask answering with `failures` (capacity, placement), retried on the state that runs the migration task. With
 * `.sync`, Step Functions fails the state with AmazonECS.Unknown then (AWS Step Functions Developer Guide, "Run
 * Amazon ECS or Fargate tasks": "Run a Job or Task Token: If a non-empty Failures field is encountered, the task is
 * failed with an AmazonECS.Unknown error"). Capacity is often back within minutes (Fargate shortfalls, instances
 * scaling out); once these retries are spent the failure reaches the verdict as {@link MigrationTaskNotPlacedError}.
 */
export const RUN_TASK_RETRY: { readonly errors: readonly string[] } & RetryRule = {
  errors: ['AmazonECS.Unknown'],
  intervalSeconds: 30,
  maxAttempts: 4,
  backoffRate: 2,
};
