/**
 * Lambda entry for the deploy step (`start` rolls the service onto the release image, `status` reports on it),
 * built once per container from the environment (./setup.ts).
 */
import { ECSClient } from '@aws-sdk/client-ecs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { AWS_CLIENT_OPTIONS } from '../shared/aws-clients.ts';
import { deployHandler } from './setup.ts';

export const handler = deployHandler(process.env, {
  ecs: new ECSClient(AWS_CLIENT_OPTIONS),
  ssm: new SSMClient(AWS_CLIENT_OPTIONS),
});
