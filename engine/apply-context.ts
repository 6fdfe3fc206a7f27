import type { EngineEvent } from './events.ts';
import type { HistoryTable } from './history.ts';
import type { SqlSession } from './session.ts';
import type { Settings } from './settings.ts';

/** What an executor needs to apply migrations: the session, the clock, progress reporting and the settings. */
export interface ApplyContext {
  readonly session: SqlSession;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly emit: (event: EngineEvent) => void;
  readonly history: HistoryTable;
  readonly settings: Settings;
  /** Versions this run has applied so far. */
  readonly appliedBefore: () => readonly string[];
}

/** How an executor reports progress: each migration as it starts and as it commits, in order. */
export interface ApplyHooks {
  readonly started: () => void;
  readonly applied: (version: bigint, file: string, durationMs: number) => void;
}

export interface StatementTimeout {
  readonly ms: number;
  /** The deadline shortened the configured timeout. */
  readonly cappedByDeadline: boolean;
}

/** statement_timeout for the next statement: the configured one, capped so it ends before the deadline. */
export function statementTimeout(ctx: ApplyContext): StatementTimeout {
  const { deadline, deadlineMarginMs, statementTimeoutMs } = ctx.settings;
  if (deadline === undefined) return { ms: statementTimeoutMs, cappedByDeadline: false };
  const cap = Math.max(1, Math.floor(deadline - ctx.now() - deadlineMarginMs / 2));
  if (statementTimeoutMs === 0 || cap < statementTimeoutMs) return { ms: cap, cappedByDeadline: true };
  return { ms: statementTimeoutMs, cappedByDeadline: false };
}

/** `SET` statements for lock_timeout and statement_timeout, `LOCAL` inside a migration's transaction. */
export function timeoutStatements(ctx: ApplyContext, timeout: StatementTimeout, local: boolean): string[] {
  const set = local ? 'SET LOCAL' : 'SET';
  return [
    `${set} lock_timeout = '${ctx.settings.lockTimeoutMs}ms'`,
    `${set} statement_timeout = '${timeout.ms}ms'`,
  ];
}
