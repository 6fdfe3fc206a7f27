/**
 * What the migration lint reports, without a parser: the shapes that travel in the manifest (a file's findings found
 * at `lockstep publish` or synth) and out of `lockstep lint`, `lockstep plan` and the migrate function's plan step.
 */

export const SEVERITIES = ['info', 'warning', 'error'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const severityRank = (s: Severity): number => SEVERITIES.indexOf(s);

/** A table or index as a migration names it: `schema` only when the migration wrote one. */
export interface ObjectName {
  readonly schema?: string;
  readonly name: string;
}

/** `schema.name` or `name`, each part quoted only when PostgreSQL would need it. */
export function formatName(o: ObjectName): string {
  const q = (part: string) => (/^[a-z_][a-z0-9_$]*$/.test(part) ? part : `"${part.replace(/"/g, '""')}"`);
  return o.schema ? `${q(o.schema)}.${q(o.name)}` : q(o.name);
}

/** One key per object name, for sets of what a release created. */
export const nameKey = (o: ObjectName): string => formatName(o);

/** What a statement does, as one file's lint found it, before the release and the live database are known. */
export interface FileFinding {
  readonly rule: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The table (or, for index rules, the index) the statement works on, when there is one. */
  readonly object?: ObjectName;
  /** Whether `object` is an index, so the live check finds its table. */
  readonly objectIsIndex?: boolean;
  /** The column a column rule is about. */
  readonly targetColumn?: string;
  /** The statement's own words for what it does, e.g. `ALTER TABLE orders ALTER COLUMN total TYPE numeric`. */
  readonly detail: string;
  /** `-- lockstep:allow <rule> <reason>` above the statement: the reason, and the finding counts for nothing. */
  readonly suppressed?: string;
}

/** What one file's statements do that a release needs to know, in order. */
export type FileEvent =
  | { readonly type: 'created'; readonly object: ObjectName }
  | { readonly type: 'renamed'; readonly from: ObjectName; readonly to: ObjectName }
  | { readonly type: 'not-null-checked'; readonly table: ObjectName; readonly column: string };

/** One file's lint: its findings and what it creates (so later files of the same release know it is new). */
export interface FileLint {
  readonly findings: readonly FileFinding[];
  readonly events: readonly FileEvent[];
  /** Existing tables the file's statements lock, for the live check of sessions that would block it. */
  readonly locks: readonly LockSite[];
}

/** PostgreSQL's table lock modes, as pg_locks names them. */
export type LockMode =
  | 'AccessShareLock'
  | 'RowShareLock'
  | 'RowExclusiveLock'
  | 'ShareUpdateExclusiveLock'
  | 'ShareLock'
  | 'ShareRowExclusiveLock'
  | 'ExclusiveLock'
  | 'AccessExclusiveLock';

/** Where a file first takes its strongest lock on a table. */
export interface LockSite {
  readonly object: ObjectName;
  readonly mode: LockMode;
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** A finding as reported: its severity decided, what it does to production and the safe way said. */
export interface Finding extends Omit<FileFinding, 'targetColumn'> {
  readonly severity: Severity;
  /** What the statement does to production. */
  readonly effect: string;
  /** How to write it safely. */
  readonly safe: string;
  /** The table's size now, when the live database was read. */
  readonly tableBytes?: number;
  /** The session a live finding is about. */
  readonly session?: LiveSession;
}

/** A session of the live database, as pg_stat_activity shows it. */
export interface LiveSession {
  readonly pid: number;
  readonly applicationName: string;
  /** `active`, `idle in transaction`…; null when the role may not see it. */
  readonly state: string | null;
  /** Since its transaction (or, outside one, its query) started. */
  readonly ageSeconds: number;
  /** Its current or last query, cut short; `<insufficient privilege>` for another role's without pg_read_all_stats. */
  readonly query: string;
}
