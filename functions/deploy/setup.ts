/**
 * Builds the deploy handler from its environment and its ECS and SSM clients: what the Lambda entry (./handler.ts) does at
 * cold start, and what the local rehearsal and the state-machine tests do with local stand-ins.
 */
import type { ECSClient } from '@aws-sdk/client-ecs';
import type { SSMClient } from '@aws-sdk/client-ssm';
import type { Env } from '../shared/config.ts';
import { loggerFor, type SetupOptions } from '../shared/setup.ts';
import { readDeployConfig } from './config.ts';
import { createDeployHandler } from './deploy.ts';

export interface DeployClients {
  readonly ecs: ECSClient;
  /** Writes the released image to IMAGE_PARAMETER, when it is set. */
  readonly ssm: SSMClient;
}

/** Throws a ConfigError naming the first bad variable, before any event is handled. */
export function deployHandler(env: Env, clients: DeployClients, options: SetupOptions = {}) {
  const config = readDeployConfig(env);
  const logger = loggerFor(options, 'lockstep-deploy');
  return createDeployHandler(
    { ecs: clients.ecs, ssm: clients.ssm, log: logger, now: () => new Date(), config },
    logger,
  );
}
