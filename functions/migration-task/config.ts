/** The migration-task function's environment, read once at cold start. */
import * as z from 'zod/mini';
import { common, type Env, positiveInt, readConfig } from '../shared/config.ts';
import type { MigrationTaskConfig } from './migration-task.ts';

const ECS_ARN = 'arn:aws[a-z-]*:ecs:[a-z0-9-]+:\\d{12}:';

const configShape = {
  ...common,
  ECS_CLUSTER: z
    .string()
    .check(
      z.regex(
        new RegExp(`^(?:${ECS_ARN}cluster/)?[A-Za-z0-9_-]{1,255}$`),
        'must be an ECS cluster name or ARN',
      ),
    ),
  CONTAINER_NAME: z
    .string()
    .check(z.regex(/^[A-Za-z0-9_-]{1,255}$/, 'must be a container name (letters, digits, "-" and "_")')),
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
