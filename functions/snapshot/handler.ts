/**
 * Lambda entry for the snapshot step. Builds its dependencies once per container (an invalid environment
 * fails the cold start with a ConfigError); the handler itself lives beside the core (./snapshot.ts).
 */
import { RDSClient } from '@aws-sdk/client-rds';
import { AWS_CLIENT_OPTIONS } from '../shared/aws-clients.ts';
import { createLogger } from '../shared/logger.ts';
import { readSnapshotConfig } from './config.ts';
import { createSnapshotHandler } from './snapshot.ts';

const logger = createLogger('lockstep-snapshot');
export const handler = createSnapshotHandler(
  {
    rds: new RDSClient(AWS_CLIENT_OPTIONS),
    log: logger,
    now: () => new Date(),
    config: readSnapshotConfig(process.env),
  },
  logger,
);
