/**
 * `lockstep baseline --version <v>`: for a database built without any migration tool (restored from a dump, made by
 * hand), record every migration up to and including `<v>` as applied, without running it, so `lockstep migrate`
 * applies only what comes after. Refused when lockstep already has history here (then `plan` says what it holds), or
 * when another tool's history table holds rows (`lockstep adopt` takes that over, checking what it applied). Written
 * under the migration lock in one transaction, with an audit row (who, when, why) beside `repair`'s. A second
 * baseline to the same version finds exactly its rows and writes nothing.
 */
import { ForeignHistoryError, InvalidInputError } from './errors.ts';
import { findForeignHistory } from './foreign-history.ts';
import { HistoryTable, readHistory } from './history.ts';
import { withMigrationLock } from './lock.ts';
import type { MigrationFile } from './migration-files.ts';
import { auditReason } from './repair.ts';
import type { SqlSession } from './session.ts';

export interface BaselineOptions {
  /** Everything up to and including this version is recorded as applied; a file must have it. */
  readonly version: bigint;
  readonly historyTable?: string;
  /** Check and report; write nothing. */
  readonly dryRun?: boolean;
  /** Why: recorded with who and when. */
  readonly reason: string;
  /** The release label or person doing this: `applied_by` and the audit row. */
  readonly baselinedBy: string;
  readonly osUser?: string | undefined;
  readonly lockWaitMs?: number;
}

export interface BaselineResult {
  readonly version: string;
  readonly dryRun: boolean;
  /** Recorded as applied now (or, with dryRun, that would be). */
  readonly marked: ReadonlyArray<{ readonly version: string; readonly file: string }>;
  /** An earlier baseline to this version is already recorded: nothing was written. */
  readonly alreadyBaselined: boolean;
  /** Files after the version: `lockstep migrate` applies them. */
  readonly pending: readonly string[];
  readonly auditTable: string;
}

export interface BaselineDeps {
  readonly session: SqlSession;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** What `options.version` marks: the files up to it. Throws when no file has that version. */
export function baselineFiles(files: readonly MigrationFile[], version: bigint): MigrationFile[] {
  if (!files.some((f) => f.version === version))
    throw new InvalidInputError(
      '--version',
      `no migration file has version ${version}: baseline marks the files up to one that exists (lockstep status lists them)`,
    );
  return files.filter((f) => f.version <= version);
}

export async function baseline(
  deps: BaselineDeps,
  files: readonly MigrationFile[],
  options: BaselineOptions,
): Promise<BaselineResult> {
  const reason = auditReason(options.reason);
  const marked = baselineFiles(files, options.version);
  const upTo = marked.at(-1) as MigrationFile;
  const history = new HistoryTable(options.historyTable);
  const foreign = await findForeignHistory(deps.session);
  if (foreign.length > 0) throw new ForeignHistoryError(foreign);

  const run = async (): Promise<BaselineResult> => {
    const rows = (await readHistory(deps.session, history)) ?? [];
    const result = (alreadyBaselined: boolean): BaselineResult => ({
      version: options.version.toString(),
      dryRun: options.dryRun ?? false,
      marked: alreadyBaselined ? [] : marked.map((m) => ({ version: m.version.toString(), file: m.file })),
      alreadyBaselined,
      pending: files.filter((f) => f.version > options.version).map((f) => f.file),
      auditTable: history.repairsDisplay,
    });
    if (rows.length > 0) {
      const same =
        rows.length === marked.length &&
        marked.every((m) =>
          rows.some((r) => r.version === m.version && r.success && r.checksum === m.checksum),
        );
      if (same) return result(true);
      throw new InvalidInputError(
        '--version',
        `${history.display} already holds ${rows.length} row${rows.length === 1 ? '' : 's'}: baseline is for a database with no lockstep history (lockstep plan shows what it holds; lockstep repair changes one row)`,
      );
    }
    if (!options.dryRun) {
      const [found] = await deps.session.script(history.schemaPresentSql());
      await deps.session
        .script(
          history.baselineSql(
            marked,
            upTo,
            { reason, baselinedBy: options.baselinedBy, osUser: options.osUser },
            found?.rows[0]?.present === 't',
          ),
        )
        .catch(async (err: unknown) => {
          await deps.session.script('ROLLBACK').catch(() => {});
          throw err;
        });
    }
    return result(false);
  };
  if (options.dryRun) return run();
  return withMigrationLock(deps, history, options.lockWaitMs, run);
}
