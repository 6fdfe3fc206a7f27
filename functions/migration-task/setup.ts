/**
 * Builds the migration-task handler from its environment and its ECS client: what the Lambda entry (./handler.ts)
 * does at cold start, and what the local rehearsal and the state-machine tests do with a local stand-in.
 */
import type { ECSClient } from '@aws-sdk/client-ecs';
import type { Env } from '../shared/config.ts';
import { loggerFor, type SetupOptions } from '../shared/setup.ts';
import { readMigrationTaskConfig } from './config.ts';
import { createMigrationTaskHandler } from './migration-task.ts';

/** Throws a ConfigError naming the first bad variable, before any event is handled. */
export function migrationTaskHandler(
  env: Env,
  clients: { readonly ecs: ECSClient },
  options: SetupOptions = {},
) {
  const config = readMigrationTaskConfig(env);
  const logger = loggerFor(options, 'lockstep-migration-task');
  return createMigrationTaskHandler({ ecs: clients.ecs, log: logger, config }, logger);
}
