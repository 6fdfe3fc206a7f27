/** Lambda entry for the preflight step; the handler itself lives beside the core (./preflight.ts). */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { AWS_CLIENT_OPTIONS } from '../shared/aws-clients.ts';
import { createLogger } from '../shared/logger.ts';
import { preflightConfig } from './config.ts';
import { createPreflightHandler } from './preflight.ts';

const config = preflightConfig(process.env);
const logger = createLogger('lockstep-preflight');
export const handler = createPreflightHandler(
  {
    sfn: new SFNClient(AWS_CLIENT_OPTIONS),
    s3: new S3Client(AWS_CLIENT_OPTIONS),
    log: logger,
    config,
    lock: { dynamodb: new DynamoDBClient(AWS_CLIENT_OPTIONS), config: config.lock },
  },
  logger,
);
