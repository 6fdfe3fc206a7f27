import { common, containerName, type Env, ecsCluster, positiveInt, readConfig } from '../shared/config.ts';
import type { MigrationTaskConfig } from './migration-task.ts';

const configShape = {
  ...common,
  ECS_CLUSTER: ecsCluster,
  CONTAINER_NAME: containerName,
  MIGRATION_TIMEOUT_SECONDS: positiveInt(3600),
};

/** Throws {@link ConfigError} naming the first missing or malformed variable. */
export function readMigrationTaskConfig(env: Env): MigrationTaskConfig {
  const vars = readConfig(env, configShape);
  return {
    cluster: vars.ECS_CLUSTER,
    containerName: vars.CONTAINER_NAME,
    timeoutSeconds: vars.MIGRATION_TIMEOUT_SECONDS,
  };
}
