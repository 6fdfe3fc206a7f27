/**
 * Builds the migration-task handler from its environment and its clients: what the Lambda entry (./handler.ts)
 * does at cold start, and what the local rehearsal and the state-machine tests do with local stand-ins.
 */
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { ECSClient } from '@aws-sdk/client-ecs';
import type { Env } from '../shared/config.ts';
import { loggerFor, type SetupOptions } from '../shared/setup.ts';
import { readMigrationTaskConfig } from './config.ts';
import { createMigrationTaskHandler } from './migration-task.ts';

export interface MigrationTaskClients {
  readonly ecs: ECSClient;
  /** A CloudWatch Logs client for a region, the function's own when undefined. */
  readonly logs: (region: string | undefined) => CloudWatchLogsClient;
}

/** Throws a ConfigError naming the first bad variable, before any event is handled. */
export function migrationTaskHandler(env: Env, clients: MigrationTaskClients, options: SetupOptions = {}) {
  const config = readMigrationTaskConfig(env);
  const logger = loggerFor(options, 'lockstep-migration-task');
  return createMigrationTaskHandler({ ...clients, log: logger, config }, logger);
}
