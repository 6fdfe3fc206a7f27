import * as z from 'zod/mini';
import { common, containerName, type Env, ecsCluster, positiveInt, readConfig } from '../shared/config.ts';
import type { MigrationTaskConfig } from './migration-task.ts';

const configShape = {
  ...common,
  ECS_CLUSTER: ecsCluster,
  CONTAINER_NAME: containerName,
  MIGRATION_TIMEOUT_SECONDS: positiveInt(3600),
  /** Set only when the flow has a pending check: its state's TimeoutSeconds. */
  PENDING_CHECK_TIMEOUT_SECONDS: z.optional(
    z.coerce
      .number('must be a whole number')
      .check(z.int('must be a whole number'), z.positive('must be greater than 0')),
  ),
};

/** Throws {@link ConfigError} naming the first missing or malformed variable. */
export function readMigrationTaskConfig(env: Env): MigrationTaskConfig {
  const vars = readConfig(env, configShape);
  return {
    cluster: vars.ECS_CLUSTER,
    containerName: vars.CONTAINER_NAME,
    timeoutSeconds: vars.MIGRATION_TIMEOUT_SECONDS,
    pendingCheckTimeoutSeconds: vars.PENDING_CHECK_TIMEOUT_SECONDS,
  };
}
