import { checksumMatches } from './checksum.ts';
import { type MigrationPhase, phaseOf } from './directives.ts';
import {
  type ChangedMigration,
  ChecksumMismatchError,
  DatabaseAheadError,
  type InDoubtMigration,
  InDoubtMigrationError,
  InvalidMigrationError,
  type LockstepError,
  type MigrationFileProblem,
  NoMigrationFilesError,
  OutOfOrderError,
  PhaseOrderError,
} from './errors.ts';
import { type HistoryRow, IN_DOUBT_STATEMENT } from './history.ts';
import type { MigrationFile } from './migration-files.ts';

export interface MigrationRef {
  readonly version: string;
  readonly file: string;
}

export interface PendingMigration extends MigrationRef {
  readonly noTransaction: boolean;
  /** Before the new version is deployed, or after its rollout (`-- lockstep:after-deploy`). */
  readonly phase: MigrationPhase;
  /** An earlier attempt of this non-transactional migration failed at this 1-based statement. */
  readonly failedAtStatement?: number;
}

export interface AppliedMigrationInfo extends MigrationRef {
  readonly appliedAt: string;
  readonly appliedBy: string;
  readonly executionMs: number;
}

/** Which pending migrations a run applies: one phase, or both (before-deploy ones first, then after-deploy ones). */
export type PhaseSelection = MigrationPhase | 'all';

/** What a run would do, computed without changing anything. */
export interface Plan {
  /** The phase (or both) this plan is for. */
  readonly phase: PhaseSelection;
  /** Migrations to apply, in order. */
  readonly pending: readonly PendingMigration[];
  /** Pending migrations of the other phase, which this run leaves pending (in their phase's order). */
  readonly deferred: readonly PendingMigration[];
  readonly applied: readonly AppliedMigrationInfo[];
  /** Applied migrations whose files were edited since (drift). */
  readonly checksumMismatches: readonly ChangedMigration[];
  /**
   * Pending migrations older than what they must follow: a before-deploy one older than the highest applied version,
   * an after-deploy one older than the highest applied after-deploy version (see {@link computePlan}).
   */
  readonly outOfOrder: readonly MigrationRef[];
  /** Applied versions with no file in this release: the database is ahead of this code (drift). */
  readonly databaseAhead: readonly MigrationRef[];
  /** The highest successfully applied version, file or not. */
  readonly highestApplied: string | undefined;
  /** Pending files that cannot run as written: syntax errors, transaction control, missing directive. */
  readonly invalid: readonly MigrationFileProblem[];
  /** Self-managed migrations recorded as started and never as finished: nothing runs until they are resolved. */
  readonly inDoubt: readonly InDoubtMigration[];
}

export interface ValidationOptions {
  /** Apply pending migrations older than the highest applied one instead of refusing. @default false */
  readonly allowOutOfOrder?: boolean;
  /** Refuse when the database has applied migrations this release has no file for. @default false */
  readonly refuseDatabaseAhead?: boolean;
}

const ref = (version: bigint, file: string): MigrationRef => ({ version: version.toString(), file });
const otherPhase = (phase: MigrationPhase): MigrationPhase =>
  phase === 'after-deploy' ? 'before-deploy' : 'after-deploy';

/**
 * Compares the migration files with the history table, for the run of `phase`.
 *
 * The phases' order: before-deploy migrations apply in version order, whatever after-deploy migrations are pending
 * (those wait for the rollout and never hold the next release back); after-deploy migrations apply in version order
 * among themselves, once no before-deploy migration is pending ({@link PhaseOrderError} otherwise), so each runs after
 * the before-deploy migrations of its release, and possibly after a later release's. Hence "out of order": a
 * before-deploy migration older than any applied version, or an after-deploy one older than an applied after-deploy
 * one. `all` is both phases in one run, before-deploy ones first: what a run with no deploy in between would do.
 */
export function computePlan(
  files: readonly MigrationFile[],
  history: readonly HistoryRow[],
  phase: PhaseSelection = 'all',
): Plan {
  const rows = new Map(history.map((r) => [r.version, r]));
  const pendingBefore: PendingMigration[] = [];
  const pendingAfter: PendingMigration[] = [];
  const applied: AppliedMigrationInfo[] = [];
  const checksumMismatches: ChangedMigration[] = [];
  let highestApplied: bigint | undefined;
  for (const row of history) {
    if (row.success && (highestApplied === undefined || row.version > highestApplied))
      highestApplied = row.version;
  }
  let highestAfterDeploy: bigint | undefined;
  for (const m of files) {
    if (m.afterDeploy && rows.get(m.version)?.success) highestAfterDeploy = m.version;
  }
  const outOfOrder: MigrationRef[] = [];
  for (const m of files) {
    const row = rows.get(m.version);
    if (row?.success) {
      // Literals, not spreads: V8 builds `{ ...x, more }` several times slower, and this runs once per applied file.
      applied.push({
        version: m.version.toString(),
        file: m.file,
        appliedAt: row.appliedAt,
        appliedBy: row.appliedBy,
        executionMs: row.executionMs,
      });
      if (!checksumMatches(row.checksum, m)) {
        checksumMismatches.push({
          version: m.version.toString(),
          file: m.file,
          appliedChecksum: row.checksum,
          fileChecksum: m.checksum,
        });
      }
      continue;
    }
    const filePhase = phaseOf(m);
    (filePhase === 'after-deploy' ? pendingAfter : pendingBefore).push(
      row?.failedStatement != null && row.failedStatement !== IN_DOUBT_STATEMENT
        ? {
            version: m.version.toString(),
            file: m.file,
            noTransaction: m.noTransaction,
            phase: filePhase,
            failedAtStatement: row.failedStatement,
          }
        : { version: m.version.toString(), file: m.file, noTransaction: m.noTransaction, phase: filePhase },
    );
    const mustFollow = filePhase === 'after-deploy' ? highestAfterDeploy : highestApplied;
    if (phase !== otherPhase(filePhase) && mustFollow !== undefined && m.version < mustFollow)
      outOfOrder.push(ref(m.version, m.file));
  }
  const inDoubt = history
    .filter((r) => !r.success && r.failedStatement === IN_DOUBT_STATEMENT)
    .map((r) => ({ version: r.version.toString(), file: r.file, startedAt: r.appliedAt, error: r.error }));
  const known = new Set(files.map((m) => m.version));
  const databaseAhead = history
    .filter((r) => r.success && !known.has(r.version))
    .map((r) => ref(r.version, r.file));
  return {
    phase,
    ...selectPhase(phase, pendingBefore, pendingAfter),
    applied,
    checksumMismatches,
    outOfOrder,
    databaseAhead,
    highestApplied: highestApplied?.toString(),
    invalid: [],
    inDoubt,
  };
}

/** What a run of `phase` applies, in order, and the other phase's pending migrations it leaves. */
function selectPhase(
  phase: PhaseSelection,
  before: readonly PendingMigration[],
  after: readonly PendingMigration[],
): Pick<Plan, 'pending' | 'deferred'> {
  switch (phase) {
    case 'all':
      return { pending: [...before, ...after], deferred: [] };
    case 'before-deploy':
      return { pending: before, deferred: after };
    case 'after-deploy':
      return { pending: after, deferred: before };
  }
}

/** The error a migrate run would refuse with, if any; nothing has been changed when this is checked. */
export function planProblem(plan: Plan, options: ValidationOptions): LockstepError | undefined {
  // Every file is applied or pending: with neither, there were no files, and a database with history means
  // the wrong directory, not a release with nothing in it.
  const newest = plan.databaseAhead.at(-1);
  if (plan.pending.length === 0 && plan.applied.length === 0 && newest) {
    return new NoMigrationFilesError(plan.databaseAhead.length, newest.file);
  }
  if (plan.inDoubt.length > 0) return new InDoubtMigrationError(plan.inDoubt);
  if (plan.invalid.length > 0) return new InvalidMigrationError(plan.invalid);
  if (plan.checksumMismatches.length > 0) return new ChecksumMismatchError(plan.checksumMismatches);
  // The after-deploy phase runs once the before-deploy one is complete: not past what the deploy depends on.
  if (plan.phase === 'after-deploy' && plan.deferred.length > 0)
    return new PhaseOrderError(plan.deferred.map((m) => m.file));
  if (plan.outOfOrder.length > 0 && !options.allowOutOfOrder) {
    return new OutOfOrderError(
      plan.outOfOrder.map((m) => m.file),
      plan.highestApplied ?? '?',
    );
  }
  if (plan.databaseAhead.length > 0 && options.refuseDatabaseAhead) {
    return new DatabaseAheadError(plan.databaseAhead.map((m) => m.version));
  }
  return undefined;
}
