/**
 * Builds the restore handler from its environment and RDS client: what the Lambda entry (./handler.ts) does at cold
 * start, and what the state-machine tests do with a mocked client.
 */
import type { RDSClient } from '@aws-sdk/client-rds';
import type { Env } from '../shared/config.ts';
import { loggerFor, type SetupOptions } from '../shared/setup.ts';
import { readRestoreConfig } from './config.ts';
import { createRestoreHandler } from './restore.ts';

export interface RestoreClients {
  readonly rds: RDSClient;
}

/** Throws a ConfigError naming the first bad variable, before any event is handled. */
export function restoreHandler(env: Env, clients: RestoreClients, options: SetupOptions = {}) {
  const config = readRestoreConfig(env);
  const logger = loggerFor(options, 'lockstep-restore');
  return createRestoreHandler({ rds: clients.rds, log: logger, now: () => new Date(), config }, logger);
}
