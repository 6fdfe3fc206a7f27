/** Lambda entry for the migrate step; the handler itself lives beside the core (./migrate.ts). */
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AWS_CLIENT_OPTIONS } from '../shared/aws-clients.ts';
import { SecretSource } from '../shared/database.ts';
import { createLogger } from '../shared/logger.ts';
import { migrateConfig } from './config.ts';
import { createMigrateHandler } from './migrate.ts';

// Once per container: configuration checked at cold start, clients and the cached secret reused while warm.
const config = migrateConfig(process.env, process.env.LAMBDA_TASK_ROOT ?? process.cwd());
const logger = createLogger('lockstep-migrate');
export const handler = createMigrateHandler(
  {
    secrets: new SecretSource(new SecretsManagerClient(AWS_CLIENT_OPTIONS), config.secretId),
    s3: new S3Client(AWS_CLIENT_OPTIONS),
    log: logger,
    config,
    now: Date.now,
  },
  logger,
);
