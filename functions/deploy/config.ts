/** The deploy function's environment, read once at cold start. */
import * as z from 'zod/mini';
import {
  common,
  containerName,
  type Env,
  ecsCluster,
  ecsService,
  positiveInt,
  readConfig,
  SSM_PARAMETER_NAME,
} from '../shared/config.ts';
import type { DeployConfig } from './deploy.ts';

/** Environment variables, read once at cold start. */
const configShape = {
  ...common,
  ECS_CLUSTER: ecsCluster,
  ECS_SERVICE: ecsService,
  CONTAINER_NAME: containerName,
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
