/**
 * Where `lockstep exec` records its runs: `<schema>.exec_runs`, in the history table's schema (`lockstep.exec_runs`
 * by default), created on first use. One row per run, written after the command ends, on the connection that holds
 * the lock. A `history_table` column says which history table's lock the run held, so two history tables in one
 * schema share the table without mixing their runs. `lockstep status` shows the last few.
 */
import pg from 'pg';
import { type HistoryTable, quoteLiteral } from '../../engine/history.ts';
import { ScriptFailedError, type SqlSession } from '../../engine/session.ts';
import { SESSION_SETUP_SQL } from '../../engine/session-reset.ts';
import { formatDuration } from '../output.ts';

/** How a run ended, as recorded. */
export type ExecOutcome =
  /** The command exited by itself (any code) or was ended by a signal lockstep did not send. */
  | 'exited'
  /** `--timeout` passed: lockstep stopped it. */
  | 'timeout'
  /** lockstep got SIGINT, SIGTERM or SIGHUP and passed it on. */
  | 'interrupted'
  /** It could not be started (not found, not executable). */
  | 'not-started';

/** One run, as `exec` records it. */
export interface ExecRun {
  /** The command's argv, joined (and quoted where needed) for people; secrets redacted. */
  readonly command: string;
  readonly release: string;
  /** ISO 8601. */
  readonly startedAt: string;
  readonly durationMs: number;
  /** The command's exit code; null when a signal ended it, or it never started. */
  readonly exitCode: number | null;
  /** The signal that ended the command, if one did. */
  readonly signal: string | null;
  readonly outcome: ExecOutcome;
  /** What went wrong, for `timeout` and `not-started`. */
  readonly error: string | null;
  readonly osUser: string | null;
}

/** A recorded run, with who ran it as the database saw it. */
export interface ExecRunRow extends ExecRun {
  readonly databaseUser: string;
}

const MAX_COMMAND_CHARS = 4000;
const MISSING = new Set(['42P01', '3F000']);
/** Another session created it in the same moment: fine. */
const ALREADY_CREATED = new Set(['42P07', '42P06', '23505']);

export class ExecRunsTable {
  /** `"schema"."exec_runs"`, safe to interpolate. */
  readonly qualified: string;
  /** For messages. */
  readonly display: string;

  constructor(private readonly history: HistoryTable) {
    this.qualified = `${pg.escapeIdentifier(history.schema)}.exec_runs`;
    this.display = history.display.startsWith('"') ? this.qualified : `${history.schema}.exec_runs`;
  }

  /** Creates the table (and the schema) unless they exist; only checks, so a role without CREATE can still record. */
  async ensure(session: SqlSession): Promise<void> {
    const [, present] = await session.script(
      `${SESSION_SETUP_SQL};\nSELECT to_regclass(${quoteLiteral(this.qualified)}) IS NOT NULL AS table, ` +
        `to_regnamespace(${quoteLiteral(pg.escapeIdentifier(this.history.schema))}) IS NOT NULL AS schema`,
    );
    const row = present?.rows[0];
    if (row?.table === 't') return;
    try {
      await session.script(this.createSql(row?.schema === 't'));
    } catch (err) {
      if (!(err instanceof ScriptFailedError && ALREADY_CREATED.has(err.serverError.code ?? ''))) throw err;
    }
  }

  private createSql(schemaExists: boolean): string {
    return `${schemaExists ? '' : `CREATE SCHEMA IF NOT EXISTS ${pg.escapeIdentifier(this.history.schema)};\n`}CREATE TABLE IF NOT EXISTS ${this.qualified} (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  history_table text NOT NULL,
  command text NOT NULL,
  release text NOT NULL,
  started_at timestamptz NOT NULL,
  duration_ms bigint NOT NULL,
  exit_code integer,
  signal text,
  outcome text NOT NULL,
  error text,
  os_user text,
  database_user text NOT NULL DEFAULT current_user
)`;
  }

  /** Records one run. */
  async record(session: SqlSession, run: ExecRun): Promise<void> {
    const text = (value: string | null) => (value === null ? 'NULL' : quoteLiteral(value));
    const values = [
      quoteLiteral(this.history.display),
      quoteLiteral(run.command.slice(0, MAX_COMMAND_CHARS)),
      quoteLiteral(run.release),
      `${quoteLiteral(run.startedAt)}::timestamptz`,
      String(Math.round(run.durationMs)),
      run.exitCode === null ? 'NULL' : String(run.exitCode),
      text(run.signal),
      quoteLiteral(run.outcome),
      text(run.error),
      text(run.osUser),
    ];
    await session.script(
      `INSERT INTO ${this.qualified} (history_table, command, release, started_at, duration_ms, exit_code, signal, outcome, error, os_user)
VALUES (${values.join(', ')})`,
    );
  }

  /** The newest `limit` runs, newest first; undefined when nothing was ever recorded (no table). One round trip. */
  async recent(session: SqlSession, limit: number): Promise<ExecRunRow[] | undefined> {
    let results: Awaited<ReturnType<SqlSession['script']>>;
    try {
      results = await session.script(
        `${SESSION_SETUP_SQL};
SELECT command, release, to_json(started_at)#>>'{}' AS started_at, duration_ms, exit_code, signal, outcome, error, os_user, database_user
FROM ${this.qualified} WHERE history_table = ${quoteLiteral(this.history.display)}
ORDER BY started_at DESC, id DESC LIMIT ${limit}`,
      );
    } catch (err) {
      if (err instanceof ScriptFailedError && MISSING.has(err.serverError.code ?? '')) return undefined;
      throw err;
    }
    return (results[1]?.rows ?? []).map((r) => ({
      command: r.command ?? '',
      release: r.release ?? '',
      startedAt: r.started_at ?? '',
      durationMs: Number(r.duration_ms),
      exitCode: r.exit_code === null || r.exit_code === undefined ? null : Number(r.exit_code),
      signal: r.signal ?? null,
      outcome: (r.outcome ?? 'exited') as ExecOutcome,
      error: r.error ?? null,
      osUser: r.os_user ?? null,
      databaseUser: r.database_user ?? '',
    }));
  }
}

/** How a run ended, in a few words: `exit 0`, `killed by SIGKILL`, `timed out (killed by SIGKILL)`. */
export function describeEnd(run: Pick<ExecRun, 'exitCode' | 'signal' | 'outcome'>): string {
  const ended =
    run.signal !== null ? `killed by ${run.signal}` : run.exitCode !== null ? `exit ${run.exitCode}` : '';
  switch (run.outcome) {
    case 'timeout':
      return `timed out (${ended || 'stopped'})`;
    case 'interrupted':
      return `interrupted (${ended || 'stopped'})`;
    case 'not-started':
      return 'did not start';
    case 'exited':
      return ended || 'ended';
  }
}

/** `lockstep status`'s lines about exec runs; none when exec never recorded a run. */
export function formatExecRuns(rows: readonly ExecRunRow[] | undefined, table: string): string[] {
  if (rows === undefined) return [];
  if (rows.length === 0) return [`exec runs (${table}): none`];
  return [
    `last exec runs (${table}), newest first:`,
    ...rows.map(
      (r) =>
        `  ${r.startedAt}  ${r.release}  ${describeEnd(r)}` +
        `${r.outcome === 'not-started' ? '' : ` in ${formatDuration(r.durationMs)}`}: ${r.command}` +
        ` (by ${[r.osUser && `OS user ${r.osUser}`, `role ${r.databaseUser}`].filter(Boolean).join(', ')})` +
        (r.error ? `\n    ${r.error}` : ''),
    ),
  ];
}
