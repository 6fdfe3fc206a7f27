import { InvalidInputError } from './errors.ts';
import type { PhaseSelection, ValidationOptions } from './plan.ts';

export interface EngineOptions extends ValidationOptions {
  /**
   * Which pending migrations to apply: `before-deploy` ones, `after-deploy` ones (`-- lockstep:after-deploy`, once no
   * before-deploy one is pending), or `all`, before-deploy ones first. @default 'all'
   */
  readonly phase?: PhaseSelection;
  /** Recorded as `applied_by`: a release label such as a tag, commit or pipeline execution id. */
  readonly appliedBy: string;
  /** `<schema>.<table>` holding the history; also keys the advisory lock. @default 'lockstep.schema_history' */
  readonly historyTable?: string;
  /** How long to wait for another run's advisory lock; 0 fails at once. @default 300_000 */
  readonly lockWaitMs?: number;
  /** `lock_timeout` for every migration statement. @default 5_000 */
  readonly lockTimeoutMs?: number;
  /** `statement_timeout` for every migration statement; 0 for none (the deadline still caps it). @default 0 */
  readonly statementTimeoutMs?: number;
  /** Retries of a migration that hit `lock_timeout` (55P03) or a deadlock (40P01). @default 5 */
  readonly lockRetries?: number;
  /** First delay between those retries; it doubles each time. @default 1_000 */
  readonly lockRetryDelayMs?: number;
  /** Epoch milliseconds by which the run must have returned. @default no deadline */
  readonly deadline?: number;
  /** No migration starts with less than this left before the deadline; statements end half of it early. @default 10_000 */
  readonly deadlineMarginMs?: number;
}

/** What an option left out means. */
export const ENGINE_DEFAULTS = {
  historyTable: 'lockstep.schema_history',
  phase: 'all',
  lockWaitMs: 300_000,
  lockTimeoutMs: 5_000,
  statementTimeoutMs: 0,
  lockRetries: 5,
  lockRetryDelayMs: 1_000,
  deadlineMarginMs: 10_000,
} as const;

/** The options with every default applied. */
export type Settings = Required<Omit<EngineOptions, 'deadline' | 'allowOutOfOrder' | 'refuseDatabaseAhead'>> &
  EngineOptions;

const WHOLE_NUMBERS = [
  'lockWaitMs',
  'lockTimeoutMs',
  'statementTimeoutMs',
  'lockRetries',
  'lockRetryDelayMs',
  'deadlineMarginMs',
] as const;

const PHASES: readonly PhaseSelection[] = ['before-deploy', 'after-deploy', 'all'];

/** Applies the defaults and rejects a bad option by name, before anything runs. */
export function resolveSettings(options: EngineOptions): Settings {
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const s = { ...ENGINE_DEFAULTS, ...defined } as Settings;
  for (const key of WHOLE_NUMBERS) {
    const value = s[key];
    if (!Number.isInteger(value) || value < 0)
      throw new InvalidInputError(key, `must be a whole number ≥ 0, got ${value}`);
  }
  if (!PHASES.includes(s.phase))
    throw new InvalidInputError(
      'phase',
      `must be one of ${PHASES.join(', ')}, got ${JSON.stringify(s.phase)}`,
    );
  if (s.lockTimeoutMs === 0)
    throw new InvalidInputError(
      'lockTimeoutMs',
      'must be > 0: without it DDL can queue behind a long transaction and block all traffic',
    );
  if (s.deadline !== undefined && !Number.isFinite(s.deadline))
    throw new InvalidInputError('deadline', 'must be epoch milliseconds');
  if (typeof s.appliedBy !== 'string' || s.appliedBy.length === 0 || s.appliedBy.length > 200) {
    throw new InvalidInputError('appliedBy', 'must be a release label of 1 to 200 characters');
  }
  return s;
}
