/**
 * `lockstep adopt --from <tool>`: take over another tool's history, so `lockstep migrate` applies only what that tool
 * has not. In order: read the tool's history table; refuse a failed, rolled-back or dirty record, naming it; match
 * every record to its file and, where the tool stored a checksum, check the file still matches it; then, under
 * lockstep's migration lock and in one transaction, write a lockstep history row for each recorded migration (the
 * file's lockstep checksum, the tool's applied time, `applied_by` naming the tool). Files the tool has not applied
 * stay pending. A second adopt finds the rows written and writes nothing. The tool's own table is read, never changed.
 */
import { AdoptRefusedError, InvalidInputError } from '../errors.ts';
import type { AdoptableTool } from '../foreign-history.ts';
import { DEFAULT_TABLES } from '../foreign-history.ts';
import { HistoryTable, quoteLiteral, readHistory } from '../history.ts';
import { flywayVersion } from '../layouts/flyway.ts';
import type { ProjectMigration } from '../layouts/read.ts';
import { withMigrationLock } from '../lock.ts';
import { ScriptFailedError, type SqlSession } from '../session.ts';
import { HISTORY_READERS, type ToolRecord, toolChecksumMatches } from './tool-histories.ts';

export interface AdoptOptions {
  readonly tool: AdoptableTool;
  /** The tool's history table, `name` or `schema.name`. @default the tool's own default, on the search path */
  readonly table?: string;
  readonly historyTable?: string;
  readonly dryRun?: boolean;
  /** Who adopts: recorded in `applied_by`. */
  readonly adoptedBy: string;
  readonly lockWaitMs?: number;
}

export interface AdoptResult {
  readonly tool: AdoptableTool;
  /** The table read, as found. */
  readonly table: string;
  readonly dryRun: boolean;
  /** Written now (or, with dryRun, that would be). */
  readonly adopted: ReadonlyArray<{ readonly version: string; readonly file: string }>;
  /** Already in lockstep's history, unchanged. */
  readonly alreadyAdopted: number;
  /** Files the tool has not applied: `lockstep migrate` applies them. */
  readonly pending: readonly string[];
  /** Pending files older than an adopted one: migrate refuses them as out of order unless allowed. */
  readonly olderThanAdopted: readonly string[];
}

export interface AdoptDeps {
  readonly session: SqlSession;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const quoteIdent = (value: string): string => `"${value.replace(/"/g, '""')}"`;

export async function adopt(
  deps: AdoptDeps,
  files: readonly ProjectMigration[],
  options: AdoptOptions,
): Promise<AdoptResult> {
  const history = new HistoryTable(options.historyTable);
  const table = await findTable(deps.session, options.table ?? DEFAULT_TABLES[options.tool]);
  const reader = HISTORY_READERS[options.tool];
  const [read] = await deps.session.script(reader.sql(table.qualified));
  const recorded = matchRecords(options.tool, reader.records(read ?? { command: '', rows: [] }), files);

  const apply = async (): Promise<AdoptResult> => {
    const existing = new Map(((await readHistory(deps.session, history)) ?? []).map((r) => [r.version, r]));
    const problems = [...recorded.problems];
    const toWrite: Array<{ m: ProjectMigration; at: string | null }> = [];
    let already = 0;
    for (const { m, at } of recorded.applied) {
      const row = existing.get(m.version);
      if (row?.success && row.checksum === m.checksum) already++;
      else if (row)
        problems.push(
          `${m.file}: lockstep's history already has version ${m.version} ${row.success ? 'with another checksum' : 'as not applied'}`,
        );
      else toWrite.push({ m, at });
    }
    if (problems.length > 0) throw new AdoptRefusedError(options.tool, problems);
    if (!options.dryRun && toWrite.length > 0) await write(deps.session, history, toWrite, options);
    const adoptedVersions = new Set(recorded.applied.map((a) => a.m.version));
    const newest = recorded.applied.reduce<bigint | undefined>(
      (max, a) => (max === undefined || a.m.version > max ? a.m.version : max),
      undefined,
    );
    const pending = files.filter((f) => !adoptedVersions.has(f.version));
    return {
      tool: options.tool,
      table: table.display,
      dryRun: options.dryRun ?? false,
      adopted: toWrite.map(({ m }) => ({ version: m.version.toString(), file: m.file })),
      alreadyAdopted: already,
      pending: pending.map((f) => f.file),
      olderThanAdopted: pending.filter((f) => newest !== undefined && f.version < newest).map((f) => f.file),
    };
  };
  if (recorded.problems.length > 0) throw new AdoptRefusedError(options.tool, recorded.problems);
  if (options.dryRun) return apply();
  return withMigrationLock(deps, history, options.lockWaitMs, apply);
}

/** Each record matched to its file, or the problems: unusable records, records without a file, edited files. */
function matchRecords(
  tool: AdoptableTool,
  records: readonly ToolRecord[],
  files: readonly ProjectMigration[],
): { applied: Array<{ m: ProjectMigration; at: string | null }>; problems: string[] } {
  const byId = new Map(files.map((f) => [f.toolId, f]));
  const problems: string[] = [];
  const applied = new Map<bigint, { m: ProjectMigration; at: string | null }>();
  for (const r of records) {
    if (r.problem) {
      problems.push(`${r.id} ${r.problem}`);
      continue;
    }
    const m = byId.get(r.id);
    const upTo = r.upTo ? upToVersion(tool, r.id) : undefined;
    if (!m && upTo !== undefined) {
      // A baseline (or golang-migrate's one row) without a file of its own: what lies at or below it is applied.
      for (const f of files) if (f.version <= upTo) applied.set(f.version, { m: f, at: r.appliedAt });
      continue;
    }
    if (!m) {
      problems.push(`${r.id} is recorded by ${tool} but has no file in the migrations directory`);
      continue;
    }
    if (r.checksum !== undefined && !toolChecksumMatches(tool, m.source ?? m.sql, r.checksum)) {
      problems.push(
        `${m.file} was edited after ${tool} applied it: its checksum is not the one ${tool} recorded (${r.checksum})`,
      );
      continue;
    }
    if (r.upTo)
      for (const f of files) if (f.version <= m.version) applied.set(f.version, { m: f, at: r.appliedAt });
    applied.set(m.version, { m, at: r.appliedAt });
  }
  return { applied: [...applied.values()].sort((a, b) => (a.m.version < b.m.version ? -1 : 1)), problems };
}

function upToVersion(tool: AdoptableTool, id: string): bigint | undefined {
  const version = tool === 'flyway' ? flywayVersion(id) : /^\d+$/.test(id) ? BigInt(id) : undefined;
  return typeof version === 'bigint' ? version : undefined;
}

async function findTable(session: SqlSession, name: string): Promise<{ qualified: string; display: string }> {
  const parts = name.split('.');
  if (parts.length > 2 || parts.some((p) => p === ''))
    throw new InvalidInputError('--table', `"${name}" is not a table name (name or schema.name)`);
  const quoted = parts.map(quoteIdent).join('.');
  try {
    const [r] = await session.script(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = pg_catalog.to_regclass(${quoteLiteral(quoted)})`,
    );
    const row = r?.rows[0];
    if (row)
      return {
        qualified: `${quoteIdent(row.schema as string)}.${quoteIdent(row.name as string)}`,
        display: `${row.schema}.${row.name}`,
      };
  } catch (err) {
    if (!(err instanceof ScriptFailedError)) throw err;
  }
  throw new InvalidInputError(
    '--table',
    `there is no table ${name} on the search path: nothing to adopt (give --table schema.name)`,
  );
}

async function write(
  session: SqlSession,
  history: HistoryTable,
  rows: ReadonlyArray<{ m: ProjectMigration; at: string | null }>,
  options: AdoptOptions,
): Promise<void> {
  const [found] = await session.script(history.schemaPresentSql());
  const by = quoteLiteral(`adopted from ${options.tool} by ${options.adoptedBy}`);
  const values = rows.map(
    ({ m, at }) =>
      `(${m.version}, ${quoteLiteral(m.description)}, ${quoteLiteral(m.file)}, ${quoteLiteral(m.checksum)}, ${at === null ? 'now()' : `${quoteLiteral(at)}::timestamptz`}, 0, ${by}, true)`,
  );
  try {
    await session.script(`BEGIN;
${history.createSql(found?.rows[0]?.present === 't')};
INSERT INTO ${history.qualified} (version, description, file_name, checksum, applied_at, execution_ms, applied_by, success)
VALUES ${values.join(',\n')};
COMMIT`);
  } catch (err) {
    await session.script('ROLLBACK').catch(() => {});
    throw err;
  }
}
