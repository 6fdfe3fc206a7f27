/** The restore function's environment, read once at cold start. */
import { common, dbIdentifier, dbKind, type Env, positiveInt, readConfig } from '../shared/config.ts';

export type DbKind = 'instance' | 'cluster';

export interface RestoreConfig {
  /** Whether `dbIdentifier` names an RDS DB instance or a DB cluster. */
  readonly dbKind: DbKind;
  /** The database's identifier: the one the app's endpoint and secret name. */
  readonly dbIdentifier: string;
  /** How long the restored database may take to become available (members included); `restoreStatus` then fails. */
  readonly restoreTimeoutSeconds: number;
  /** How long each rename of the switch may take to become visible; `renameStatus` then fails. */
  readonly renameTimeoutSeconds: number;
}

/** Throws a ConfigError naming the first missing or malformed variable. */
export function readRestoreConfig(env: Env): RestoreConfig {
  const vars = readConfig(env, {
    ...common,
    DB_KIND: dbKind,
    DB_IDENTIFIER: dbIdentifier,
    RESTORE_TIMEOUT_SECONDS: positiveInt(4 * 3600),
    RENAME_TIMEOUT_SECONDS: positiveInt(1800),
  });
  return {
    dbKind: vars.DB_KIND,
    // RDS stores identifiers in lowercase (RDS API Reference, ModifyDBInstance: "This value is stored as a lowercase string").
    dbIdentifier: vars.DB_IDENTIFIER.toLowerCase(),
    restoreTimeoutSeconds: vars.RESTORE_TIMEOUT_SECONDS,
    renameTimeoutSeconds: vars.RENAME_TIMEOUT_SECONDS,
  };
}
