/**
 * Builds the migrate handler from its environment and AWS clients: what the Lambda entry (./handler.ts) does at
 * cold start, and what the local rehearsal and the state-machine tests do with local stand-ins.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Env } from '../shared/config.ts';
import { SecretSource } from '../shared/database.ts';
import { loggerFor, type SetupOptions } from '../shared/setup.ts';
import { migrateConfig } from './config.ts';
import { createMigrateHandler } from './migrate.ts';

export interface MigrateClients {
  readonly secrets: SecretsManagerClient;
  readonly s3: S3Client;
}

/**
 * Throws a ConfigError naming the first bad variable, before any event is handled. `taskRoot` is where the
 * bundled `migrations/` directory sits (Lambda's LAMBDA_TASK_ROOT). The secret is cached while the handler lives.
 */
export function migrateHandler(
  env: Env,
  clients: MigrateClients,
  taskRoot: string,
  options: SetupOptions = {},
) {
  const config = migrateConfig(env, taskRoot);
  const logger = loggerFor(options, 'lockstep-migrate');
  return createMigrateHandler(
    {
      secrets: new SecretSource(clients.secrets, config.secretId),
      s3: clients.s3,
      log: logger,
      config,
      now: Date.now,
    },
    logger,
  );
}
