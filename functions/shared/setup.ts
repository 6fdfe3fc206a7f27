/**
 * What every function's `setup.ts` takes besides its environment and clients. A Lambda passes nothing (a
 * Powertools logger, the real clock); the local rehearsal and the tests pass their own.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { createLogger } from './logger.ts';

export interface SetupOptions {
  /** @default - a Powertools logger named after the function */
  readonly logger?: Logger;
}

export function loggerFor(options: SetupOptions, serviceName: string): Logger {
  return options.logger ?? createLogger(serviceName);
}
