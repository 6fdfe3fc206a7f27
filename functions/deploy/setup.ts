/**
 * Builds the deploy handler from its environment and ECS client: what the Lambda entry (./handler.ts) does at
 * cold start, and what the local rehearsal and the state-machine tests do with local stand-ins.
 */
import type { ECSClient } from '@aws-sdk/client-ecs';
import type { Env } from '../shared/config.ts';
import { loggerFor, type SetupOptions } from '../shared/setup.ts';
import { readDeployConfig } from './config.ts';
import { createDeployHandler } from './deploy.ts';

export interface DeployClients {
  readonly ecs: ECSClient;
}

/** Throws a ConfigError naming the first bad variable, before any event is handled. */
export function deployHandler(env: Env, clients: DeployClients, options: SetupOptions = {}) {
  const config = readDeployConfig(env);
  const logger = loggerFor(options, 'lockstep-deploy');
  return createDeployHandler({ ecs: clients.ecs, log: logger, now: () => new Date(), config }, logger);
}
