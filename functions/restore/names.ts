/**
 * The identifiers a rollback gives, and the commands an alert names to finish or undo a switch by hand. Every name
 * starts with `<database>-`, so the restore function's grants reach them and nothing else (infra/constructs/rollback-flow.ts),
 * and carries the execution's start time, so each attempt of a step computes the same names.
 */
import { RollbackRefusedError } from '../shared/errors.ts';
import type { DbKind } from './config.ts';

/** RDS DB instance and DB cluster identifiers: at most 63 characters (RDS API Reference, CreateDBInstance). */
const MAX_IDENTIFIER_LENGTH = 63;

export interface RollbackNames {
  /** The database's identifier: the app's endpoint and secret name it. */
  readonly database: string;
  /** Where the snapshot is restored: `<database>-restored-<yyyymmddhhmmss>`. */
  readonly restored: string;
  /** What the original is renamed to at the switch, and kept as: `<database>-before-<yyyymmddhhmmss>`. */
  readonly aside: string;
}

/** UTC `yyyymmddhhmmss` of an ISO time. */
function stamp(iso: string): string {
  return new Date(iso).toISOString().replace(/\D/g, '').slice(0, 14);
}

/** The names for a rollback started at `startTime`; refused when they would be longer than RDS allows. */
export function rollbackNames(database: string, startTime: string, kind: DbKind): RollbackNames {
  const at = stamp(startTime);
  const names = {
    database,
    restored: `${database}-restored-${at}`,
    aside: `${database}-before-${at}`,
  };
  // A cluster's restored members are `<restored>-<n>`.
  const longest = names.restored.length + (kind === 'cluster' ? 3 : 0);
  if (longest > MAX_IDENTIFIER_LENGTH)
    throw new RollbackRefusedError(
      `the rollback was refused: the identifier ${database} is too long for the names a restore gives (${names.restored}${kind === 'cluster' ? '-<n>' : ''} ` +
        `would be ${longest} characters; RDS allows ${MAX_IDENTIFIER_LENGTH}). Nothing was changed. Restore by hand, following the README's "Rolling back"`,
    );
  return names;
}

/** The identifier of the restored cluster's n-th member (n from 1; the writer is first). */
export function memberName(restored: string, n: number): string {
  return `${restored}-${n}`;
}

/** The AWS CLI command that renames `from` to `to` at once. */
export function renameCommand(kind: DbKind, from: string, to: string): string {
  return kind === 'instance'
    ? `aws rds modify-db-instance --db-instance-identifier ${from} --new-db-instance-identifier ${to} --apply-immediately`
    : `aws rds modify-db-cluster --db-cluster-identifier ${from} --new-db-cluster-identifier ${to} --apply-immediately`;
}
