/**
 * What the release record keeps of a release's migrations: each pending one's version, file and checksum, in the
 * order they are applied. It rides in the plan's output, so it counts against Step Functions' 256 KiB payload
 * quota for the whole execution, and the record item against DynamoDB's 400 KB item limit: the list is cut at
 * {@link RECORD_BUDGET_BYTES}, keeping the first entries (applied first) and saying how many there were. The full
 * list is always in the database's history table (`applied_by` is the release label) and in the plan's log line.
 */

import type { MigrationPhase } from '../../engine/directives.ts';
import type { MigrationFile } from '../../engine/migration.ts';
import type { PendingMigration } from '../../engine/plan.ts';

/** One migration as the record keeps it. */
export interface RecordedMigration {
  readonly version: string;
  readonly file: string;
  /** The checksum the history table records (engine/checksum.ts). */
  readonly checksum: string;
  /** Applied before the deploy, or after the rollout (`-- lockstep:after-deploy`). */
  readonly phase: MigrationPhase;
}

export interface RecordedMigrations {
  /** When they run: before the new image is deployed, after its rollout, or some of each. */
  readonly phase: MigrationPhase | 'both';
  /** How many were pending: the list may hold fewer. */
  readonly count: number;
  /** How many of them run after the rollout. */
  readonly afterDeployCount: number;
  /** True when the list was cut to fit {@link RECORD_BUDGET_BYTES}. */
  readonly truncated: boolean;
  readonly migrations: readonly RecordedMigration[];
}

/**
 * 32 KiB of JSON: about 250 migrations with 64-character checksums. The record item also carries the release input
 * (at most 256 KiB) and the failure's Cause (at most 32,768 characters, Step Functions' limit), so it stays under
 * DynamoDB's 400 KB item limit whatever the release.
 */
export const RECORD_BUDGET_BYTES = 32 * 1024;

export function recordMigrations(
  pending: readonly PendingMigration[],
  files: readonly MigrationFile[],
  budget = RECORD_BUDGET_BYTES,
): RecordedMigrations {
  const checksums = new Map(files.map((f) => [String(f.version), f.checksum]));
  const migrations: RecordedMigration[] = [];
  let bytes = 0;
  for (const m of pending) {
    const entry = {
      version: m.version,
      file: m.file,
      checksum: checksums.get(m.version) ?? '',
      phase: m.phase,
    };
    bytes += Buffer.byteLength(JSON.stringify(entry)) + 1;
    if (bytes > budget) break;
    migrations.push(entry);
  }
  const afterDeployCount = pending.filter((m) => m.phase === 'after-deploy').length;
  return {
    phase:
      afterDeployCount === 0
        ? 'before-deploy'
        : afterDeployCount === pending.length
          ? 'after-deploy'
          : 'both',
    count: pending.length,
    afterDeployCount,
    truncated: migrations.length < pending.length,
    migrations,
  };
}
