/**
 * Builds the snapshot handler from its environment and RDS client: what the Lambda entry (./handler.ts) does at
 * cold start, and what the local rehearsal and the state-machine tests do with local stand-ins.
 */
import type { RDSClient } from '@aws-sdk/client-rds';
import type { Env } from '../shared/config.ts';
import { loggerFor, type SetupOptions } from '../shared/setup.ts';
import { readSnapshotConfig } from './config.ts';
import { createSnapshotHandler } from './snapshot.ts';

export interface SnapshotClients {
  readonly rds: RDSClient;
}

/** Throws a ConfigError naming the first bad variable, before any event is handled. */
export function snapshotHandler(env: Env, clients: SnapshotClients, options: SetupOptions = {}) {
  const config = readSnapshotConfig(env);
  const logger = loggerFor(options, 'lockstep-snapshot');
  return createSnapshotHandler({ rds: clients.rds, log: logger, now: () => new Date(), config }, logger);
}
