import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as engineErrors from '../../engine/errors.ts';
import { ChecksumMismatchError, InvalidInputError, LockstepError } from '../../engine/errors.ts';
import * as releaseErrors from '../../functions/shared/errors.ts';

const failure: engineErrors.MigrationFailure = {
  version: '1',
  location: { file: '0001_a.sql', line: 1, column: 1 },
  sqlState: '42P01',
  statementExcerpt: 'SELECT 1',
  appliedBefore: [],
  hint: undefined,
};

/** One instance of every error class, built the way the code builds it. */
const samples: Record<string, engineErrors.LockstepError> = {
  InvalidInputError: new engineErrors.InvalidInputError('field', 'problem'),
  InvalidMigrationError: new engineErrors.InvalidMigrationError([{ file: 'x.sql', problem: 'bad' }]),
  ChecksumMismatchError: new engineErrors.ChecksumMismatchError([]),
  OutOfOrderError: new engineErrors.OutOfOrderError([], '1'),
  PhaseOrderError: new engineErrors.PhaseOrderError(['0003_add_column.sql']),
  DatabaseAheadError: new engineErrors.DatabaseAheadError([]),
  NoMigrationFilesError: new engineErrors.NoMigrationFilesError(3, '0003_c.sql'),
  LockTimeoutError: new engineErrors.LockTimeoutError(1, undefined),
  MigrationFailedError: new engineErrors.MigrationFailedError('boom', failure),
  LockNotAvailableError: new engineErrors.LockNotAvailableError(3, failure, 'lock timeout'),
  DatabaseUnavailableError: new engineErrors.DatabaseUnavailableError('down'),
  LockLostError: new engineErrors.LockLostError('3'),
  InDoubtMigrationError: new engineErrors.InDoubtMigrationError([
    { version: '3', file: '3_a/migration.sql', startedAt: '2026-01-01', error: null },
  ]),
  ForeignHistoryError: new engineErrors.ForeignHistoryError([
    { tool: 'prisma', table: 'public._prisma_migrations', rows: 2 },
  ]),
  AdoptRefusedError: new engineErrors.AdoptRefusedError('prisma', ['1_a: failed']),
  UnsafeMigrationError: new engineErrors.UnsafeMigrationError([], 'error'),
  ConfigError: new releaseErrors.ConfigError('VAR', 'is not set'),
  ReleaseInProgressError: new releaseErrors.ReleaseInProgressError('arn', undefined),
  MigrationsNotFoundError: new releaseErrors.MigrationsNotFoundError('s3://b/p', 'publish first'),
  ManifestMismatchError: new releaseErrors.ManifestMismatchError('s3://b/p', []),
  SnapshotFailedError: new releaseErrors.SnapshotFailedError('snap', 'failed'),
  SnapshotQuotaExceededError: new releaseErrors.SnapshotQuotaExceededError('quota'),
  SnapshotTimeoutError: new releaseErrors.SnapshotTimeoutError(
    'snap',
    'creating',
    '2024-05-06T09:08:09.123Z',
  ),
  DatabaseNotReadyError: new releaseErrors.DatabaseNotReadyError('modifying'),
  DatabaseStoppedError: new releaseErrors.DatabaseStoppedError('DB instance "db"', 'stopped'),
  DeploymentFailedError: new releaseErrors.DeploymentFailedError('rolled back', 'ecs-svc/1'),
  DeployTargetInvalidError: new releaseErrors.DeployTargetInvalidError('no container'),
  RolloutTimeoutError: new releaseErrors.RolloutTimeoutError(
    'ecs-svc/1',
    'IN_PROGRESS',
    '2024-05-06T07:38:09.123Z',
  ),
  ImageNotRecordedError: new releaseErrors.ImageNotRecordedError('/app/image', 'app:v1'),
  MigrationCommandFailedError: new releaseErrors.MigrationCommandFailedError(
    1,
    'app',
    { taskArn: 'arn', consoleUrl: undefined },
    'EssentialContainerExited',
    undefined,
  ),
  MigrationTaskNotStartedError: new releaseErrors.MigrationTaskNotStartedError(
    'app',
    { taskArn: undefined, consoleUrl: undefined },
    'TaskFailedToStart',
    'CannotPullContainerError',
    undefined,
  ),
  MigrationTaskNotPlacedError: new releaseErrors.MigrationTaskNotPlacedError([{ reason: 'RESOURCE:MEMORY' }]),
  MigrationTaskTimeoutError: new releaseErrors.MigrationTaskTimeoutError(
    3600,
    { taskArn: 'arn', consoleUrl: undefined },
    true,
  ),
  ReleaseRejectedError: new releaseErrors.ReleaseRejectedError(
    'arn:aws:iam::123456789012:user/alice',
    '2026-01-01T00:00:00.000Z',
    'not during the sale',
  ),
  ReleaseLockLostError: new releaseErrors.ReleaseLockLostError('arn:aws:states:x', 'database'),
  PendingCheckFailedError: new releaseErrors.PendingCheckFailedError(
    'it ran past its timeout of 600 s and was stopped (StopTask)',
    { taskArn: 'arn', consoleUrl: undefined },
  ),
  RollbackRefusedError: new releaseErrors.RollbackRefusedError('a release holds the lock'),
  RestoreFailedError: new releaseErrors.RestoreFailedError(
    'db-restored-20260101000000',
    'incompatible-parameters',
  ),
  RestoreTimeoutError: new releaseErrors.RestoreTimeoutError(
    'db-restored-20260101000000',
    'creating',
    '2026-01-01T03:00:00Z',
  ),
  RenameTimeoutError: new releaseErrors.RenameTimeoutError(
    'db',
    'db-before-20260101000000',
    'renaming',
    '2026-01-01T03:30:00Z',
  ),
  SwitchConflictError: new releaseErrors.SwitchConflictError('db is held by another DB instance'),
};

// Step Functions Retry/Catch match on `name`: it must be the class name, as a literal no minifier renames.
test('every error class names its instances after itself and carries a stable code', () => {
  const classes = Object.entries({ ...engineErrors, ...releaseErrors }).filter(
    ([, value]) => typeof value === 'function' && value.prototype instanceof engineErrors.LockstepError,
  );
  assert.deepEqual(
    classes.map(([name]) => name).sort(),
    Object.keys(samples).sort(),
    'every class has a sample',
  );
  for (const [className, instance] of Object.entries(samples)) {
    assert.equal(instance.name, className);
    assert.match(instance.code, /^[A-Z_]+$/);
    assert.equal(instance.toJSON().name, className);
    assert.ok(instance instanceof Error);
  }
});

test('the error policy says, for every error class and nothing else, whether the state machine retries it', () => {
  assert.deepEqual(Object.keys(releaseErrors.ERROR_POLICY).sort(), Object.keys(samples).sort());
  for (const name of releaseErrors.RETRYABLE_ERRORS) assert.ok(name in samples, name);
});

test('a failure after many migrations names how many ran before it, not every one', () => {
  const before = Array.from({ length: 5000 }, (_, i) => String(i + 1));
  const err = new engineErrors.MigrationFailedError('boom', { ...failure, appliedBefore: before });
  assert.match(
    err.message,
    /applied before it in this run: 5000 migrations: 1, 2, 3, 4, 5, …, 4996, 4997, 4998, 4999, 5000$/m,
  );
  assert.ok(err.message.length < 500);
  assert.equal((err.toJSON().appliedBefore as string[]).length, 5000);
});

describe('errors from another copy of the code', () => {
  test('are instances by brand and name: the installed CLI loads the rehearsal from its own bundle', async () => {
    // A query string makes Node load the module again, as a second bundle would.
    const specifier = '../../engine/errors.ts?another-copy';
    const copy = (await import(specifier)) as typeof import('../../engine/errors.ts');
    assert.notEqual(copy.InvalidInputError, InvalidInputError, 'a second copy of the classes');
    const error = new copy.InvalidInputError('--dir', 'no such directory');
    assert.ok(error instanceof LockstepError);
    assert.ok(error instanceof InvalidInputError);
    assert.ok(!(error instanceof ChecksumMismatchError));
    assert.ok(!(Object.assign(new Error('x'), { name: 'InvalidInputError' }) instanceof LockstepError));
  });
});
