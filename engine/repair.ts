/**
 * `lockstep repair --accept-checksum <version>`: the audited way to accept a deliberate edit of an applied
 * migration (a comment fixed, a statement reformatted). The history row's checksum becomes the file's current
 * one, and a row in the history table's `_repairs` table records who (release label, OS user, database role),
 * when, why, and the whole previous row. Under the migration lock, so it never races a migration run.
 */
import { checksumMatches } from './checksum.ts';
import { InvalidInputError } from './errors.ts';
import { HistoryTable, IN_DOUBT_STATEMENT, readHistory } from './history.ts';
import { withMigrationLock } from './lock.ts';
import type { MigrationFile } from './migration-files.ts';
import type { SqlSession } from './session.ts';

export interface RepairOptions {
  /** @default 'lockstep.schema_history' */
  readonly historyTable?: string;
  /** How long to wait for a running migration's lock. @default 300_000 */
  readonly lockWaitMs?: number;
  /** Why the edit is accepted; recorded. */
  readonly reason: string;
  /** The release label or pipeline id doing this; recorded. */
  readonly repairedBy: string;
  /** The operating-system user, when known; recorded. */
  readonly osUser?: string | undefined;
}

export interface RepairResult {
  readonly version: string;
  readonly file: string;
  /** False when the file already matched what is recorded: nothing was written. */
  readonly changed: boolean;
  readonly previousChecksum: string;
  readonly checksum: string;
  /** Where the repair was logged, `schema.table`. */
  readonly auditTable: string;
}

export interface RepairDeps {
  readonly session: SqlSession;
  /** @default Date.now */
  readonly now?: () => number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Releasing the lock failed after the repair itself failed (whose error is what is thrown). */
  readonly onCleanupFailure?: (reason: string) => void;
}

const FLAG = '--accept-checksum';

/** Accepts the current file of an applied migration as the one that ran. */
export async function acceptChecksum(
  deps: RepairDeps,
  files: readonly MigrationFile[],
  version: bigint,
  options: RepairOptions,
): Promise<RepairResult> {
  const history = new HistoryTable(options.historyTable);
  const reason = auditReason(options.reason);
  const file = files.find((f) => f.version === version);
  if (!file) {
    throw new InvalidInputError(
      FLAG,
      `no migration file has version ${version}: accepting an edit needs the file as it is now`,
    );
  }
  return withMigrationLock(deps, history, options.lockWaitMs, () =>
    acceptUnderLock(deps.session, history, file, version, reason, options),
  );
}

async function acceptUnderLock(
  session: SqlSession,
  history: HistoryTable,
  file: MigrationFile,
  version: bigint,
  reason: string,
  options: RepairOptions,
): Promise<RepairResult> {
  const rows = await readHistory(session, history);
  if (rows === undefined)
    throw new InvalidInputError(FLAG, `there is no history table ${history.display} in this database`);
  const row = rows.find((r) => r.version === version);
  if (!row) throw new InvalidInputError(FLAG, `version ${version} has no row in ${history.display}`);
  if (!row.success) {
    throw new InvalidInputError(
      FLAG,
      `version ${version} is recorded as failed, not applied: its checksum is never checked (the next run starts it again)`,
    );
  }
  const result = {
    version: version.toString(),
    file: file.file,
    previousChecksum: row.checksum,
    checksum: file.checksum,
    auditTable: history.repairsDisplay,
  };
  if (checksumMatches(row.checksum, file)) return { ...result, changed: false };
  const results = await session.script(
    history.acceptChecksumSql(file, row.checksum, {
      reason,
      repairedBy: options.repairedBy,
      osUser: options.osUser,
    }),
  );
  if (results.at(-1)?.command !== 'UPDATE 1') {
    throw new InvalidInputError(
      FLAG,
      `the row of version ${version} changed while it was being repaired; run again`,
    );
  }
  return { ...result, changed: true };
}

export interface ResolveResult {
  readonly version: string;
  readonly file: string;
  readonly outcome: 'applied' | 'rolled-back';
  readonly auditTable: string;
}

/**
 * Settles a self-managed migration left in doubt (./self-managed-executor.ts): `applied` records it as applied with
 * the file's current checksum; `rolled-back` removes the row, so the next run applies the file again. Logged with who,
 * when, why and the previous row, under the migration lock.
 */
export async function resolveInDoubt(
  deps: RepairDeps,
  files: readonly MigrationFile[],
  version: bigint,
  options: RepairOptions & { readonly outcome: 'applied' | 'rolled-back' },
): Promise<ResolveResult> {
  const history = new HistoryTable(options.historyTable);
  const reason = auditReason(options.reason);
  return withMigrationLock(deps, history, options.lockWaitMs, async () => {
    const row = (await readHistory(deps.session, history))?.find((r) => r.version === version);
    if (!row || row.success || row.failedStatement !== IN_DOUBT_STATEMENT)
      throw new InvalidInputError('--resolve', `version ${version} is not in doubt in ${history.display}`);
    const file = files.find((f) => f.version === version);
    if (!file && options.outcome === 'applied')
      throw new InvalidInputError(
        '--resolve',
        `no migration file has version ${version}: --applied records the file as it is now`,
      );
    const target = file ?? { version, file: row.file, checksum: row.checksum };
    const results = await deps.session.script(
      history.resolveInDoubtSql(target, options.outcome, {
        reason,
        repairedBy: options.repairedBy,
        osUser: options.osUser,
      }),
    );
    if (!/^(UPDATE|DELETE) 1$/.test(results.at(-1)?.command ?? ''))
      throw new InvalidInputError('--resolve', `the row of version ${version} changed meanwhile; run again`);
    return {
      version: version.toString(),
      file: target.file,
      outcome: options.outcome,
      auditTable: history.repairsDisplay,
    };
  });
}

/** The reason an audited change records, trimmed: 1 to 1000 characters, or an {@link InvalidInputError} naming `--reason`. */
export function auditReason(value: string): string {
  const reason = value.trim();
  if (reason.length === 0 || reason.length > 1000)
    throw new InvalidInputError('--reason', 'must say why, in 1 to 1000 characters');
  return reason;
}
