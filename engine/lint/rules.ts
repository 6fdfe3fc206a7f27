/**
 * The lint's rules, one table: each rule's id (what `-- lockstep:allow` names), its severity, whether that severity
 * follows the size of the table it locks, what it does to production and the safe way to write it. The checks that
 * find them are ./statement-rules.ts (static, on the parse tree) and ./live-context.ts (sessions in the live database).
 * Hand-written rather than squawk's: measured on the same corpus (bench/lint.ts, bench/RESULTS.md), squawk 2.66.0 has
 * 14 of the 20 static rules, fires on the safe look-alikes of 8 (it has no release context), and is a native binary the
 * migrate function could not run anyway.
 */
import type { Severity } from './finding.ts';

export interface Rule {
  /**
   * `scaled`: the statement holds a lock for as long as it rewrites, scans or indexes the table, so the live
   * database's size of it decides (info below the small-table threshold, error from the large-table one, warning
   * between, and warning when the size is not known).
   */
  readonly severity: Severity | 'scaled';
  readonly effect: string;
  readonly safe: string;
  /**
   * The harm is to the app version that runs during the rollout only: a `-- lockstep:after-deploy` migration runs once
   * every task runs the new version, so the rule does not apply to it. (A rename is not one: it breaks the new version
   * too, which must use one name or the other.)
   */
  readonly beforeDeployOnly?: true;
}

export const RULES = {
  'volatile-default': {
    severity: 'scaled',
    effect:
      'adds a column whose default is volatile (or a serial, identity or stored generated column): PostgreSQL rewrites the whole table under an ACCESS EXCLUSIVE lock, blocking every read and write until it is done',
    safe: 'add the column without a default (or with a constant one), set the default in a second statement, and backfill existing rows in batches',
  },
  'not-null-without-default': {
    severity: 'error',
    effect:
      'adds a NOT NULL column without a default to an existing table: the migration fails if the table has rows, and the app version still running keeps inserting without the column, so its inserts fail',
    safe: 'add the column with a constant DEFAULT (no rewrite since PostgreSQL 11), or add it nullable, backfill, then enforce NOT NULL with a validated CHECK',
  },
  'column-type-change': {
    severity: 'scaled',
    effect:
      'changes a column type: unless the types are binary-compatible (varchar(n) to text or a longer varchar), PostgreSQL rewrites the table and its indexes under an ACCESS EXCLUSIVE lock',
    safe: 'add a column of the new type, write both from the app, backfill in batches, then switch reads and drop the old column after the deploy',
  },
  'set-not-null': {
    severity: 'scaled',
    effect:
      'SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock, unless a validated CHECK (column IS NOT NULL) already proves it',
    safe: 'ADD CONSTRAINT … CHECK (column IS NOT NULL) NOT VALID; then VALIDATE CONSTRAINT (no write lock); then SET NOT NULL (no scan) and drop the CHECK',
  },
  'foreign-key-not-valid': {
    severity: 'scaled',
    effect:
      'adds a foreign key that is checked at once: the whole table is scanned while writes to it and to the referenced table are blocked',
    safe: 'ADD CONSTRAINT … FOREIGN KEY … NOT VALID, then VALIDATE CONSTRAINT in a later migration (it takes only a SHARE UPDATE EXCLUSIVE lock)',
  },
  'check-not-valid': {
    severity: 'scaled',
    effect:
      'adds a CHECK constraint that is checked at once: the whole table is scanned under an ACCESS EXCLUSIVE lock',
    safe: 'ADD CONSTRAINT … CHECK (…) NOT VALID, then VALIDATE CONSTRAINT in a later migration',
  },
  'index-not-concurrent': {
    severity: 'scaled',
    effect: 'CREATE INDEX without CONCURRENTLY blocks every write to the table while the index is built',
    safe: 'CREATE INDEX CONCURRENTLY in a "-- lockstep:no-transaction" file (drop a leftover invalid index first: DROP INDEX CONCURRENTLY IF EXISTS)',
  },
  'drop-index-not-concurrent': {
    severity: 'warning',
    effect:
      "DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the index's table: it waits for every running query on it, and every query queues behind it",
    safe: 'DROP INDEX CONCURRENTLY IF EXISTS in a "-- lockstep:no-transaction" file',
  },
  'reindex-not-concurrent': {
    severity: 'scaled',
    effect:
      'REINDEX without CONCURRENTLY blocks writes to the table, and reads that would use the index, while it rebuilds',
    safe: 'REINDEX … CONCURRENTLY (PostgreSQL 12+) in a "-- lockstep:no-transaction" file',
  },
  'unique-without-index': {
    severity: 'scaled',
    effect:
      'adds a UNIQUE or PRIMARY KEY constraint by building its index under an ACCESS EXCLUSIVE lock (and a primary key on nullable columns also scans for NULLs)',
    safe: 'CREATE UNIQUE INDEX CONCURRENTLY first (a no-transaction file), then ADD CONSTRAINT … UNIQUE USING INDEX (or PRIMARY KEY USING INDEX)',
  },
  'vacuum-full': {
    severity: 'scaled',
    effect:
      'VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock: no reads or writes until it is done',
    safe: 'plain VACUUM, or pg_repack / pg_squeeze outside the release',
  },
  cluster: {
    severity: 'scaled',
    effect: 'CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock: no reads or writes until it is done',
    safe: 'pg_repack outside the release, or leave the physical order alone',
  },
  'refresh-not-concurrent': {
    severity: 'scaled',
    effect:
      'REFRESH MATERIALIZED VIEW without CONCURRENTLY holds an ACCESS EXCLUSIVE lock on the view: reads of it wait for the refresh',
    safe: 'REFRESH MATERIALIZED VIEW CONCURRENTLY (needs a unique index on the view)',
  },
  'lock-table': {
    severity: 'warning',
    effect:
      'LOCK TABLE holds the lock until the migration commits: with ACCESS EXCLUSIVE (the default mode), no one reads or writes the table meanwhile',
    safe: 'drop it and let each statement take the lock it needs, or take the weakest mode that works and keep the migration short',
  },
  truncate: {
    severity: 'warning',
    effect:
      'TRUNCATE takes an ACCESS EXCLUSIVE lock and deletes every row the running app version may still read',
    safe: 'DELETE in batches, or truncate in a release after no app version reads the table',
  },
  'rename-column': {
    severity: 'error',
    effect:
      'renames a column: the app version still running during the rollout reads and writes the old name, and fails until every task runs the new version',
    safe: 'add the new column, write both from the app, backfill, switch reads, then drop the old column in a later release',
  },
  'rename-table': {
    severity: 'error',
    effect:
      'renames a table: the app version still running during the rollout uses the old name and fails until every task runs the new version',
    safe: 'create the new table (or a view with the new name), move the app to it, then drop the old name in a later release',
  },
  'drop-column': {
    severity: 'error',
    effect:
      'drops a column the app version still running during the rollout may read or write: its queries fail until every task runs the new version',
    safe: 'stop using the column in this release and drop it after the deploy: a `-- lockstep:after-deploy` file',
    beforeDeployOnly: true,
  },
  'drop-table': {
    severity: 'error',
    effect:
      'drops a table the app version still running during the rollout may use: its queries fail until every task runs the new version',
    safe: 'stop using the table in this release and drop it after the deploy: a `-- lockstep:after-deploy` file',
    beforeDeployOnly: true,
  },
  'lock-timeout-off': {
    severity: 'error',
    effect:
      'turns lock_timeout off: a statement that waits for a busy table then waits without limit, and every query on that table queues behind it',
    safe: "keep lockstep's lock_timeout (its retries handle a busy table); raise it with SET LOCAL lock_timeout = '10s' if one statement needs longer",
  },
  'blocking-session': {
    severity: 'error',
    effect:
      'a session holds a lock on a table this migration locks, right now: the migration would wait for it (up to lock_timeout, then retry and fail) while queries queue behind the migration',
    safe: 'wait for the session to finish, or end it (SELECT pg_cancel_backend(pid)), before releasing',
  },
  'long-transaction': {
    severity: 'warning',
    effect:
      'a transaction has been open for long: CREATE INDEX CONCURRENTLY waits for it to end, and any lock it holds blocks the migration',
    safe: 'find out what it is; wait for it, or end it, before releasing',
  },
  'invalid-suppression': {
    severity: 'error',
    effect: 'a "-- lockstep:allow" comment that names no known rule, or gives no reason, suppresses nothing',
    safe: 'write it as: -- lockstep:allow <rule> <why this is safe here>',
  },
  'unused-suppression': {
    severity: 'warning',
    effect:
      'a "-- lockstep:allow" comment whose statement does not break that rule: it would hide a later finding',
    safe: 'remove it, or move it right above the statement it is about',
  },
} as const satisfies Record<string, Rule>;

export type RuleId = keyof typeof RULES;

export const isRuleId = (id: string): id is RuleId => Object.hasOwn(RULES, id);

/** Whether rule `id` is about the version the rollout replaces only ({@link Rule.beforeDeployOnly}). */
export const beforeDeployOnly = (id: string): boolean =>
  isRuleId(id) && (RULES[id] as Rule).beforeDeployOnly === true;
