/** Lambda entry for the deploy step: `start` rolls the service onto the release image, `status` reports on it. */
import { ECSClient } from '@aws-sdk/client-ecs';
import { runHandler } from '../shared/handler.ts';
import { createLogger } from '../shared/logger.ts';
import {
  checkDeployment,
  type DeployDeps,
  type DeploymentStarted,
  type DeploymentStatus,
  parseDeployEvent,
  readDeployConfig,
  startDeployment,
} from './deploy.ts';

const logger = createLogger('lockstep-deploy');
const deps: DeployDeps = {
  ecs: new ECSClient({}),
  log: logger,
  now: () => new Date(),
  config: readDeployConfig(process.env),
};

export const handler = async (raw: unknown): Promise<DeploymentStarted | DeploymentStatus> => {
  const event = parseDeployEvent(raw);
  return runHandler<DeploymentStarted | DeploymentStatus>(
    logger,
    { executionId: event.executionId, release: event.release.release, step: `deploy:${event.action}` },
    () =>
      event.action === 'start'
        ? startDeployment(deps, event.release)
        : checkDeployment(deps, event.deployment),
  );
};
