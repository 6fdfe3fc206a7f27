/**
 * Structured JSON logs (Powertools for AWS Lambda). Every line of an invocation carries the execution id and
 * the release label. Nothing secret is ever passed to a logger: credentials stay inside functions/shared/database.ts.
 */
import { Logger } from '@aws-lambda-powertools/logger';

/** The part of a logger the cores use, so tests can capture lines. */
export interface Log {
  debug(message: string, ...extra: Array<Record<string, unknown>>): void;
  info(message: string, ...extra: Array<Record<string, unknown>>): void;
  warn(message: string, ...extra: Array<Record<string, unknown>>): void;
  error(message: string, ...extra: Array<Record<string, unknown>>): void;
}

export function createLogger(serviceName: string): Logger {
  return new Logger({ serviceName });
}

/** The keys every log line of one invocation carries. */
export interface InvocationContext {
  readonly executionId?: string | undefined;
  readonly release?: string | undefined;
}

/** Resets per-invocation keys (a warm container serves many executions) and sets this one's. */
export function bindInvocation(logger: Logger, context: InvocationContext): void {
  logger.resetKeys();
  logger.appendKeys({ executionId: context.executionId ?? 'unknown', release: context.release ?? 'unknown' });
}
