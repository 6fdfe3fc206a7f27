/**
 * Lambda entry for the migrate step, built once per container from the environment (./setup.ts): configuration
 * checked at cold start, clients and the cached secret reused while warm.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AWS_CLIENT_OPTIONS } from '../shared/aws-clients.ts';
import { migrateHandler } from './setup.ts';

export const handler = migrateHandler(
  process.env,
  { secrets: new SecretsManagerClient(AWS_CLIENT_OPTIONS), s3: new S3Client(AWS_CLIENT_OPTIONS) },
  process.env.LAMBDA_TASK_ROOT ?? process.cwd(),
);
