/**
 * The rollback's decision (issue 16), without I/O: from one database's release records and the migration files'
 * classification, what it takes to run `<release>`'s image again. Image only, when every migration applied since
 * that release is backward compatible (engine/lint/compatibility.ts: additive, or declared so by its author); else
 * a restore of the snapshot taken by the first release after it, which holds the database as that release left it
 * and loses what was written since. `lockstep rollback` (./commands/rollback.ts) prints this before doing anything.
 */
import { InvalidInputError, LockstepError } from '../engine/errors.ts';
import type { Compatibility } from '../engine/lint/compatibility.ts';
import type { RecordedMigration } from '../functions/migrate/record-migrations.ts';
import type { RollbackRestore, RollbackTarget } from '../functions/shared/rollback-input.ts';
import { BEFORE_MIGRATING, type ReleaseRecord } from './release-records.ts';

/** A migration file as `--dir` has it now: its checksum and classification. */
export interface KnownFile {
  readonly checksum: string;
  readonly compatibility: Compatibility;
}

export type Verdict = 'compatible' | 'declared compatible' | 'incompatible' | 'unknown';

export interface PlannedMigration {
  readonly version: string;
  readonly file: string;
  readonly verdict: Verdict;
  /** Why (incompatible, unknown), or the author's reason (declared compatible). */
  readonly why?: string;
}

/** A release since the target that may have changed the schema, and what it applied. */
export interface ReleaseSince {
  readonly record: ReleaseRecord;
  readonly migrations: readonly PlannedMigration[];
}

export interface RollbackPlan {
  readonly database: string;
  readonly target: ReleaseRecord;
  readonly to: RollbackTarget;
  readonly since: readonly ReleaseSince[];
  /** Image only when every migration since is compatible and no restore was asked for. */
  readonly kind: 'image only' | 'restore';
  /** Why a restore: the incompatible or unknown migrations, or that it was asked for. */
  readonly restoreBecause?: string;
  /** The snapshot to restore and the release that took it; undefined when none fits. */
  readonly restore?: RollbackRestore & { readonly takenBy: string };
  /** Why no snapshot fits, when none does. */
  readonly noSnapshot?: string;
}

/** The rollback needs a restore of the database and `--restore-database` was not given. Nothing was changed. */
export class RestoreRequiredError extends LockstepError<'RESTORE_REQUIRED'> {
  override readonly name = 'RestoreRequiredError';
  readonly code = 'RESTORE_REQUIRED';
  constructor(readonly plan: RollbackPlan) {
    const s = plan.restore;
    super(
      s
        ? `rolling back to ${plan.target.release} needs the database restored (${plan.restoreBecause}): run again with --restore-database to restore ${s.snapshotId} (taken ${s.snapshotCreatedAt}); everything written since then is lost`
        : `rolling back to ${plan.target.release} needs the database restored (${plan.restoreBecause}), and lockstep's records hold no snapshot to restore: ${plan.noSnapshot}`,
    );
  }
  protected override details() {
    return { target: this.plan.target.release, restore: this.plan.restore ?? null };
  }
}

/** `--restore-database` was given, and lockstep's records hold no snapshot that fits. Nothing was changed. */
export class RestoreUnavailableError extends LockstepError<'RESTORE_UNAVAILABLE'> {
  override readonly name = 'RestoreUnavailableError';
  readonly code = 'RESTORE_UNAVAILABLE';
  constructor(readonly plan: RollbackPlan) {
    super(
      `no snapshot in lockstep's records holds the database as ${plan.target.release} left it: ${plan.noSnapshot}`,
    );
  }
  protected override details() {
    return { target: this.plan.target.release };
  }
}

/** Snapshot steps: a release that failed there may name a snapshot that never became available. */
const SNAPSHOT_STEPS = new Set(['Create snapshot', 'Snapshot status']);

/**
 * The plan. `records`: one database's, newest first (a target label names its newest record). `files`: by file
 * name, what `--dir` holds now. `restoreAsked`: `--restore-database`, which restores even when an image would do.
 */
export function planRollback(
  records: readonly ReleaseRecord[],
  release: string,
  files: ReadonlyMap<string, KnownFile>,
  restoreAsked = false,
): RollbackPlan {
  const target = records.find((r) => r.release === release || r.recordKey === release);
  if (!target)
    throw new InvalidInputError('--to', `no release record for "${release}" (lockstep releases lists them)`);
  if (target.outcome !== 'SUCCEEDED' || !target.taskDefinitionAfter)
    throw new InvalidInputError(
      '--to',
      `${release} ${target.outcome === 'SUCCEEDED' ? 'has no task-definition revision in its record' : `ended ${target.outcome}`}: its image never served, so there is nothing to roll back to; name a release that succeeded`,
    );
  const since = effectiveSince(records, target);
  const planned = since.map((record) => ({ record, migrations: migrationsOf(record, files) }));
  const flagged = planned.flatMap(({ migrations }) =>
    migrations.filter((m) => m.verdict === 'incompatible' || m.verdict === 'unknown'),
  );
  const kind = flagged.length > 0 || restoreAsked ? 'restore' : 'image only';
  const to: RollbackTarget = {
    release: target.release,
    recordKey: target.recordKey,
    image: target.image,
    taskDefinitionArn: target.taskDefinitionAfter,
  };
  const base = { database: target.database, target, to, since: planned, kind } as const;
  if (kind === 'image only') return base;
  const restoreBecause =
    flagged.length > 0
      ? `${flagged.length} migration${flagged.length === 1 ? '' : 's'} since ${target.release} ${flagged.length === 1 ? 'is' : 'are'} not known to be backward compatible`
      : '--restore-database';
  return { ...base, restoreBecause, ...snapshotFor(since, target) };
}

/**
 * The records after the target, newest first, less what a later restoring rollback undid: a rollback that restored
 * to a release at or after the target put the database back as that release left it.
 */
function effectiveSince(records: readonly ReleaseRecord[], target: ReleaseRecord): ReleaseRecord[] {
  const after = records.filter((r) => r.recordKey > target.recordKey);
  const restoring = after.find((r) => r.rollback?.restored && r.outcome === 'SUCCEEDED');
  const back = restoring?.rollback;
  if (!restoring || !back) return after;
  if (back.toRecordKey < target.recordKey)
    throw new InvalidInputError(
      '--to',
      `${restoring.release} restored the database to before ${target.release}: its migrations are no longer applied, so its image may not run; release it again instead`,
    );
  return after.filter((r) => r.recordKey >= restoring.recordKey || r.recordKey <= back.toRecordKey);
}

/** The migrations a release may have applied, each classified. */
function migrationsOf(record: ReleaseRecord, files: ReadonlyMap<string, KnownFile>): PlannedMigration[] {
  if (record.rollback || record.outcome === 'DRY_RUN' || record.migrationsState === 'none applied') return [];
  if (record.failure && BEFORE_MIGRATING.has(record.failure.step)) return [];
  const m = record.migrations;
  if (!m)
    return [
      {
        version: '?',
        file: '?',
        verdict: 'unknown',
        why: 'the record lists no migrations (command mode runs your own tool): lockstep cannot tell what changed',
      },
    ];
  const listed = m.migrations.map((x) => classify(x, files));
  if (m.truncated)
    listed.push({
      version: '?',
      file: '?',
      verdict: 'unknown',
      why: `${m.count - m.migrations.length} more not listed in the record (it keeps the first ones)`,
    });
  return listed;
}

function classify(m: RecordedMigration, files: ReadonlyMap<string, KnownFile>): PlannedMigration {
  const known = files.get(m.file);
  const head = { version: m.version, file: m.file };
  if (!known) return { ...head, verdict: 'unknown', why: 'not in the migrations directory (--dir)' };
  if (known.checksum !== m.checksum)
    return {
      ...head,
      verdict: 'unknown',
      why: `its checksum in --dir (${known.checksum.slice(0, 12)}…) is not the one it ran with (${m.checksum.slice(0, 12)}…): the file was edited since`,
    };
  const c = known.compatibility;
  if (c.declared) return { ...head, verdict: 'declared compatible', why: c.declared };
  if (c.compatible) return { ...head, verdict: 'compatible' };
  return {
    ...head,
    verdict: 'incompatible',
    why: c.incompatible.map((i) => `line ${i.line}: ${i.why}`).join('; '),
  };
}

/**
 * The snapshot the first release after the target took: it holds the database as the target left it, provided no
 * release between them changed the schema without one.
 */
function snapshotFor(
  since: readonly ReleaseRecord[],
  target: ReleaseRecord,
): Pick<RollbackPlan, 'restore' | 'noSnapshot'> {
  for (const r of [...since].reverse()) {
    const usable = r.snapshotId && !(r.failure && SNAPSHOT_STEPS.has(r.failure.step));
    if (usable && r.snapshotId)
      return {
        restore: {
          snapshotId: r.snapshotId,
          // lockstep names snapshots by their UTC creation time; a snapshot named otherwise, by the release's start.
          snapshotCreatedAt: r.snapshotTime ?? r.startedAt,
          takenBy: r.release,
        },
      };
    if (migrationsOf(r, new Map()).length > 0)
      return {
        noSnapshot: `${r.release}, the first release after ${target.release} to change the schema, took no snapshot (it ran with skipSnapshot, or nothing was pending when it planned); restore by hand from an automated backup (point-in-time) from before ${r.startedAt}`,
      };
  }
  return { noSnapshot: `no release after ${target.release} took a snapshot` };
}

/** The plan and the steps, for people; `where` says how the steps run. */
export function formatPlan(plan: RollbackPlan, where: 'aws' | 'local'): string {
  const lines = [
    `rollback to ${plan.target.release} (database ${plan.database})`,
    `  image      ${plan.to.image}`,
    `  revision   ${plan.to.taskDefinitionArn}`,
    '',
    plan.since.length === 0 ? `no release since ${plan.target.release}` : `since ${plan.target.release}:`,
  ];
  for (const { record, migrations } of plan.since) {
    lines.push(
      `  ${record.release}  ${record.outcome}${record.rollback ? ' (rollback)' : ''}  ${migrations.length === 0 ? 'no migrations' : `${record.migrationsState === 'partly applied' ? 'partly applied, counted as applied' : record.migrationsState}:`}`,
    );
    for (const m of migrations)
      lines.push(`    ${m.file.padEnd(36)} ${m.verdict}${m.why ? `: ${m.why}` : ''}`);
  }
  lines.push('');
  if (plan.kind === 'image only') {
    lines.push(
      `decision: image only. Every migration since ${plan.target.release} is backward compatible: the database keeps its schema, nothing is lost.`,
    );
  } else if (plan.restore) {
    lines.push(
      `decision: restore the database (${plan.restoreBecause}).`,
      `  snapshot   ${plan.restore.snapshotId}, taken ${plan.restore.snapshotCreatedAt} by ${plan.restore.takenBy}`,
      `  LOST: everything written to the database since ${plan.restore.snapshotCreatedAt}.`,
    );
  } else {
    lines.push(
      `decision: a restore is needed (${plan.restoreBecause}), but it is impossible from lockstep's records: ${plan.noSnapshot}`,
    );
  }
  if (plan.kind === 'restore' && !plan.restore) return lines.join('\n');
  lines.push('', 'steps:');
  const steps =
    where === 'aws'
      ? [
          'start the rollback state machine, which holds the release lock throughout',
          ...(plan.restore
            ? [
                `restore ${plan.restore.snapshotId} into a new instance (or cluster) configured as the original; wait until it is available`,
                'wait for `lockstep approve <execution>` (the alert topic names it; `lockstep reject`, or no decision within rollback.confirmTimeout, switches nothing)',
                'swap: the original is renamed aside (kept), the restored one takes its identifier',
              ]
            : []),
          `redeploy ${plan.to.taskDefinitionArn} and wait for the rollout`,
          'write the rollback’s record; alert on any failure',
        ]
      : [
          'take the rehearsal lock',
          ...(plan.restore ? [`replace the local database with a copy of ${plan.restore.snapshotId}`] : []),
          `point the local service at ${plan.to.taskDefinitionArn} and wait for the rollout`,
          'write the rollback’s record to .lockstep/releases/',
        ];
  steps.forEach((s, i) => {
    lines.push(`  ${i + 1}. ${s}`);
  });
  return lines.join('\n');
}
