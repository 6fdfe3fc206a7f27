import { checksumMatches } from './checksum.ts';
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
} from './errors.ts';
import { type HistoryRow, IN_DOUBT_STATEMENT } from './history.ts';
import type { MigrationFile } from './migration-files.ts';

export interface MigrationRef {
  readonly version: string;
  readonly file: string;
}

export interface PendingMigration extends MigrationRef {
  readonly noTransaction: boolean;
  /** An earlier attempt of this non-transactional migration failed at this 1-based statement. */
  readonly failedAtStatement?: number;
}

export interface AppliedMigrationInfo extends MigrationRef {
  readonly appliedAt: string;
  readonly appliedBy: string;
  readonly executionMs: number;
}

/** What a run would do, computed without changing anything. */
export interface Plan {
  /** Migrations to apply, in order. */
  readonly pending: readonly PendingMigration[];
  readonly applied: readonly AppliedMigrationInfo[];
  /** Applied migrations whose files were edited since (drift). */
  readonly checksumMismatches: readonly ChangedMigration[];
  /** Pending migrations older than the highest applied version. */
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

/** Compares the migration files with the history table. */
export function computePlan(files: readonly MigrationFile[], history: readonly HistoryRow[]): Plan {
  const rows = new Map(history.map((r) => [r.version, r]));
  const pending: PendingMigration[] = [];
  const applied: AppliedMigrationInfo[] = [];
  const checksumMismatches: ChangedMigration[] = [];
  let highestApplied: bigint | undefined;
  for (const row of history) {
    if (row.success && (highestApplied === undefined || row.version > highestApplied))
      highestApplied = row.version;
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
    pending.push(
      row?.failedStatement != null && row.failedStatement !== IN_DOUBT_STATEMENT
        ? {
            version: m.version.toString(),
            file: m.file,
            noTransaction: m.noTransaction,
            failedAtStatement: row.failedStatement,
          }
        : { version: m.version.toString(), file: m.file, noTransaction: m.noTransaction },
    );
    if (highestApplied !== undefined && m.version < highestApplied) outOfOrder.push(ref(m.version, m.file));
  }
  const inDoubt = history
    .filter((r) => !r.success && r.failedStatement === IN_DOUBT_STATEMENT)
    .map((r) => ({ version: r.version.toString(), file: r.file, startedAt: r.appliedAt, error: r.error }));
  const known = new Set(files.map((m) => m.version));
  const databaseAhead = history
    .filter((r) => r.success && !known.has(r.version))
    .map((r) => ref(r.version, r.file));
  return {
    pending,
    applied,
    checksumMismatches,
    outOfOrder,
    databaseAhead,
    highestApplied: highestApplied?.toString(),
    invalid: [],
    inDoubt,
  };
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
