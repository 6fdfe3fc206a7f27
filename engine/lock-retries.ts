import type { ApplyContext } from './apply-context.ts';
import { RETRYABLE_SQLSTATES } from './server-errors.ts';
import { ScriptFailedError } from './session.ts';

/**
 * Runs `attempt` and retries it on lock_timeout or deadlock with exponential backoff. Returns 'deadline' when the
 * next retry would start too close to the deadline. `file` names the migration the last attempt failed on; when
 * `progressed` says that attempt got further than the one before (a group committed some migrations), the count
 * starts again: it is the next migration's first failure.
 */
export async function withLockRetries<T>(
  ctx: ApplyContext,
  file: () => string,
  attempt: () => Promise<T>,
  onGiveUp: (err: ScriptFailedError, attempts: number) => Error,
  progressed: () => boolean = () => false,
): Promise<T | 'deadline'> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof ScriptFailedError) || !RETRYABLE_SQLSTATES.has(err.serverError.code ?? ''))
        throw err;
      if (progressed()) n = 1;
      if (n > ctx.settings.lockRetries) throw onGiveUp(err, n);
      const delayMs = ctx.settings.lockRetryDelayMs * 2 ** (n - 1);
      const { deadline, deadlineMarginMs } = ctx.settings;
      if (deadline !== undefined && ctx.now() + delayMs > deadline - deadlineMarginMs) return 'deadline';
      ctx.emit({ type: 'migration-retry', file: file(), attempt: n, delayMs, reason: err.message });
      await ctx.sleep(delayMs);
    }
  }
}
