import type { PendingMigration } from './plan.ts';

/** A migration this run applied. */
export interface AppliedMigration {
  readonly version: string;
  readonly file: string;
  /** From its BEGIN to its history row, as the server measured it (as the runner saw it, for a no-transaction file). */
  readonly durationMs: number;
}

/** Progress, for human output and logs. */
export type EngineEvent =
  | { readonly type: 'lock-wait'; readonly holder: string }
  | { readonly type: 'history-created'; readonly table: string }
  | { readonly type: 'migration-start'; readonly migration: PendingMigration }
  | { readonly type: 'migration-applied'; readonly migration: AppliedMigration }
  | {
      readonly type: 'migration-retry';
      readonly file: string;
      readonly attempt: number;
      readonly delayMs: number;
      readonly reason: string;
    }
  | { readonly type: 'deadline-stop'; readonly remainingMs: number }
  /** Cleanup after a failure (a rollback, the session reset, the lock release) failed too; the failure is what is thrown. */
  | { readonly type: 'cleanup-failed'; readonly action: string; readonly reason: string };
