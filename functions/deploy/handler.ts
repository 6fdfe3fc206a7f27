/** Lambda entry for the deploy step: `start` rolls the service onto the release image, `status` reports on it. */
import { ECSClient } from '@aws-sdk/client-ecs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { AWS_CLIENT_OPTIONS } from '../shared/aws-clients.ts';
import { createLogger } from '../shared/logger.ts';
import { readDeployConfig } from './config.ts';
import { createDeployHandler } from './deploy.ts';

const logger = createLogger('lockstep-deploy');
export const handler = createDeployHandler(
  {
    ecs: new ECSClient(AWS_CLIENT_OPTIONS),
    ssm: new SSMClient(AWS_CLIENT_OPTIONS),
    log: logger,
    now: () => new Date(),
    config: readDeployConfig(process.env),
  },
  logger,
);
