/**
 * The live database at plan time, read-only and bounded in time: the size of each table a pending migration locks
 * (pg_class, pg_total_relation_size), the sessions holding or waiting for a lock on it that conflicts with the
 * migration's (pg_locks, pg_stat_activity), and transactions open for long. One READ ONLY transaction with its own
 * statement_timeout and lock_timeout: it changes nothing and waits for nobody for long. Parser-free: the migrate
 * function runs it.
 */
import { ScriptFailedError, type SqlSession, type StatementResult } from '../session.ts';
import { formatName, type LiveSession, type LockSite, nameKey } from './finding.ts';
import { locksConflict } from './lock-modes.ts';
import type { ReleaseLint } from './release.ts';

export interface LiveContext {
  /** Bytes of each table (by {@link nameKey}) that exists; for an index, its table's. */
  readonly sizes: ReadonlyMap<string, number>;
  readonly blockers: ReadonlyArray<{
    readonly site: LockSite;
    readonly heldMode: string;
    readonly session: LiveSession;
  }>;
  readonly longTransactions: readonly LiveSession[];
  /**
   * `table:column` (table by {@link nameKey}) of columns already NOT NULL, or proven so by a validated
   * CHECK (column IS NOT NULL): SET NOT NULL on them needs no scan.
   */
  readonly notNullProven: ReadonlySet<string>;
}

export interface LiveOptions {
  readonly longTransactionSeconds: number;
  /** statement_timeout of each query. @default 5000 */
  readonly statementTimeoutMs?: number;
  /** lock_timeout of each query (pg_total_relation_size takes an ACCESS SHARE lock). @default 1000 */
  readonly lockTimeoutMs?: number;
}

const QUERY_CHARS = 200;

/** An E'' literal: the same whatever standard_conforming_strings says. */
const literal = (text: string) => `E'${text.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

/** Reads the live context of a release's lint; the objects are the tables it locks and those its findings name. */
export async function readLiveContext(
  session: SqlSession,
  release: ReleaseLint,
  options: LiveOptions,
): Promise<LiveContext> {
  const names = new Map<string, string>();
  for (const site of release.locks) names.set(nameKey(site.object), formatName(site.object));
  for (const f of release.findings) if (f.object) names.set(nameKey(f.object), formatName(f.object));
  const list = [...names.values()];
  const targets = `WITH t(name) AS (SELECT unnest(ARRAY[${list.map(literal).join(', ') || "''"}]::text[])),
r AS (SELECT t.name, coalesce((SELECT i.indrelid FROM pg_index i WHERE i.indexrelid = to_regclass(t.name)), to_regclass(t.name)::oid) AS oid FROM t)`;
  const sessions = `SELECT l.pid::text, l.mode, l.granted::text, a.application_name, a.state,
  extract(epoch FROM now() - coalesce(a.xact_start, a.query_start))::bigint::text AS age, left(a.query, ${QUERY_CHARS}) AS query, r.name
FROM r JOIN pg_locks l ON l.locktype = 'relation' AND l.relation = r.oid AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.pid <> pg_backend_pid() ORDER BY l.granted DESC, age DESC`;
  const long = `SELECT a.pid::text, a.application_name, a.state, extract(epoch FROM now() - a.xact_start)::bigint::text AS age, left(a.query, ${QUERY_CHARS}) AS query
FROM pg_stat_activity a WHERE a.xact_start < now() - make_interval(secs => ${Number(options.longTransactionSeconds)})
AND a.pid <> pg_backend_pid() AND a.backend_type = 'client backend' ORDER BY a.xact_start`;
  const size = (exact: boolean) =>
    `SELECT r.name, ${
      exact
        ? 'pg_total_relation_size(r.oid)'
        : // relpages of the table, its indexes and TOAST; unknown (NULL) for a table never vacuumed or analyzed.
          "CASE WHEN c.reltuples >= 0 THEN (SELECT sum(c2.relpages)::bigint * current_setting('block_size')::bigint FROM pg_class c2 WHERE c2.oid = r.oid OR c2.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = r.oid) OR c2.oid = c.reltoastrelid) END"
    }::text AS bytes FROM r JOIN pg_class c ON c.oid = r.oid`;
  const notNull = `SELECT r.name, a.attname FROM r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE a.attnotnull OR EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid = r.oid AND c.contype = 'c' AND c.convalidated
  AND pg_get_constraintdef(c.oid) = format('CHECK ((%s IS NOT NULL))', quote_ident(a.attname)))`;
  const begin = `BEGIN READ ONLY; SET LOCAL statement_timeout = ${options.statementTimeoutMs ?? 5000}; SET LOCAL lock_timeout = ${options.lockTimeoutMs ?? 1000};`;
  const read = (exact: boolean) =>
    session.script(
      `${begin} ${targets} ${sessions}; ${targets} ${long}; ${targets} ${notNull}; ${targets} ${size(exact)}; COMMIT`,
    );
  let results: StatementResult[];
  try {
    results = await read(true);
  } catch (err) {
    if (err instanceof ScriptFailedError) await session.script('ROLLBACK');
    // pg_total_relation_size waited for a lock (a session holds ACCESS EXCLUSIVE, or waits for it): the sessions
    // read again say so; the sizes come from the statistics this time, which need no lock.
    if (!(err instanceof ScriptFailedError) || err.serverError.code !== '55P03') throw err;
    try {
      results = await read(false);
    } catch (again) {
      if (again instanceof ScriptFailedError) await session.script('ROLLBACK');
      throw again;
    }
  }
  const rows = results.filter((r) => r.command.startsWith('SELECT')).map((r) => r.rows);
  const [lockRows = [], longRows = [], notNullRows = [], sizeRows = []] = rows;
  const sizes = new Map<string, number>();
  const keyOf = new Map([...names].map(([k, v]) => [v, k]));
  for (const row of sizeRows) {
    const k = keyOf.get(row.name ?? '');
    if (k && row.bytes !== null && row.bytes !== undefined) sizes.set(k, Number(row.bytes));
  }
  const sessionOf = (row: Record<string, string | null>): LiveSession => ({
    pid: Number(row.pid),
    applicationName: row.application_name ?? '',
    state: row.state ?? null,
    ageSeconds: Number(row.age ?? 0),
    query: (row.query ?? '').replace(/\s+/g, ' ').trim(),
  });
  const blockers: Array<LiveContext['blockers'][number]> = [];
  const seen = new Set<string>();
  for (const row of lockRows) {
    const k = keyOf.get(row.name ?? '');
    const site = release.locks.find((s) => nameKey(s.object) === k);
    if (!site || !row.mode || !locksConflict(site.mode, row.mode)) continue;
    const once = `${row.pid}:${k}`;
    if (seen.has(once)) continue;
    seen.add(once);
    blockers.push({
      site,
      heldMode: row.granted === 'true' ? row.mode : `a queued request for ${row.mode}`,
      session: sessionOf(row),
    });
  }
  const notNullProven = new Set(
    notNullRows.flatMap((row) => {
      const k = keyOf.get(row.name ?? '');
      return k ? [`${k}:${row.attname}`] : [];
    }),
  );
  return { sizes, blockers, longTransactions: longRows.map(sessionOf), notNullProven };
}
