/** Lambda entry for the preflight step; the handler itself lives beside the core (./preflight.ts). */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { createLogger } from '../shared/logger.ts';
import { preflightConfig } from './config.ts';
import { createPreflightHandler } from './preflight.ts';

const config = preflightConfig(process.env);
const logger = createLogger('lockstep-preflight');
export const handler = createPreflightHandler(
  {
    sfn: new SFNClient({}),
    s3: new S3Client({}),
    log: logger,
    config,
    lock: { dynamodb: new DynamoDBClient({}), config: config.lock },
  },
  logger,
);
