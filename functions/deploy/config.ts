/** The deploy function's environment, read once at cold start. */
import * as z from 'zod/mini';
import { common, type Env, positiveInt, readConfig, SSM_PARAMETER_NAME } from '../shared/config.ts';
import type { DeployConfig } from './deploy.ts';

const NAME = /^[A-Za-z0-9_-]{1,255}$/;
const ECS_ARN = 'arn:aws[a-z-]*:ecs:[a-z0-9-]+:\\d{12}:';

/** Environment variables, read once at cold start. */
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
  ECS_SERVICE: z
    .string()
    .check(
      z.regex(
        new RegExp(`^(?:${ECS_ARN}service/(?:[A-Za-z0-9_-]{1,255}/)?)?[A-Za-z0-9_-]{1,255}$`),
        'must be an ECS service name or ARN',
      ),
    ),
  CONTAINER_NAME: z.string().check(z.regex(NAME, 'must be a container name (letters, digits, "-" and "_")')),
  DEPLOY_TIMEOUT_SECONDS: positiveInt(1800),
  IMAGE_PARAMETER: z.optional(
    z
      .string()
      .check(z.regex(SSM_PARAMETER_NAME, 'must be an SSM parameter name such as /app/image (not an ARN)')),
  ),
};

/** Throws {@link ConfigError} naming the first missing or malformed variable. */
export function readDeployConfig(env: Env): DeployConfig {
  const vars = readConfig(env, configShape);
  return {
    cluster: vars.ECS_CLUSTER,
    service: vars.ECS_SERVICE,
    containerName: vars.CONTAINER_NAME,
    deployTimeoutSeconds: vars.DEPLOY_TIMEOUT_SECONDS,
    ...(vars.IMAGE_PARAMETER ? { imageParameter: vars.IMAGE_PARAMETER } : {}),
  };
}
