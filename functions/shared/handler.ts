/**
 * The boundary every Lambda handler goes through: bind the invocation's log keys, run the core, log the
 * outcome. Errors are rethrown unchanged — their `name` is what Step Functions Retry/Catch match on (the
 * lockstep errors, and the AWS SDK's own such as ThrottlingException) — after one structured log line that
 * carries name, code and message, never a secret.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { LockstepError } from './errors.ts';
import { bindInvocation, type InvocationContext } from './logger.ts';

export async function runHandler<T>(
  logger: Logger,
  context: InvocationContext & { readonly step: string },
  work: () => Promise<T>,
): Promise<T> {
  bindInvocation(logger, context);
  logger.appendKeys({ step: context.step });
  try {
    const result = await work();
    logger.info(`${context.step} succeeded`);
    return result;
  } catch (err) {
    logger.error(`${context.step} failed`, { error: describeError(err) });
    throw boundForStepFunctions(err);
  }
}

/** The most of an error's message that reaches the execution state; the full message is in the log line above. */
export const MAX_ERROR_MESSAGE = 4_000;

/**
 * Cuts a long message (a failure after thousands of migrations lists every one applied) so the Cause Step
 * Functions records — Lambda's `{errorType, errorMessage, trace}`, where the trace repeats the message — stays
 * far under the 256 KiB state limit with room for the alert built from it. The name, which Retry and Catch
 * match on, is kept.
 */
export function boundForStepFunctions(err: unknown): unknown {
  if (!(err instanceof Error) || err.message.length <= MAX_ERROR_MESSAGE) return err;
  const cut = err.message.length - MAX_ERROR_MESSAGE;
  const message = `${err.message.slice(0, MAX_ERROR_MESSAGE - 500)}\n… (${cut} characters cut: the full error is in the function's log) …\n${err.message.slice(-500)}`;
  const frames = (err.stack ?? '')
    .split('\n')
    .filter((line) => /^\s+at /.test(line))
    .slice(0, 10);
  Object.defineProperty(err, 'message', { value: message, configurable: true, writable: true });
  err.stack = [`${err.name}: ${message}`, ...frames].join('\n');
  return err;
}

/** Name, code and message: what an operator needs, and nothing from a stack or a cause that might hold a secret. */
export function describeError(err: unknown): Record<string, unknown> {
  if (err instanceof LockstepError) return err.toJSON();
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: 'Unknown', message: String(err) };
}

/**
 * The log keys of an invocation, read from the raw event so that a rejected event is logged with them too:
 * the execution id (`executionId`, or preflight's `execution.id`), the release label, and the action or mode.
 */
export function invocationKeys(event: unknown): { executionId?: string; release?: string; action?: string } {
  const e = (event ?? {}) as Record<string, unknown>;
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const nested = (value: unknown, key: string) =>
    value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
  return {
    executionId: text(e.executionId) ?? text(nested(e.execution, 'id')),
    release: text(nested(e.release, 'release')) ?? text(nested(e.input, 'release')),
    action: text(e.action) ?? text(e.mode),
  };
}
