/**
 * Builds the preflight handler from its environment and AWS clients: what the Lambda entry (./handler.ts) does at
 * cold start, and what the local rehearsal and the state-machine tests do with local stand-ins.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { Env } from '../shared/config.ts';
import { loggerFor, type SetupOptions } from '../shared/setup.ts';
import { preflightConfig } from './config.ts';
import { createPreflightHandler } from './preflight.ts';

export interface PreflightClients {
  readonly sfn: SFNClient;
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
}

/** Throws a ConfigError naming the first bad variable, before any event is handled. */
export function preflightHandler(env: Env, clients: PreflightClients, options: SetupOptions = {}) {
  const config = preflightConfig(env);
  const logger = loggerFor(options, 'lockstep-preflight');
  return createPreflightHandler(
    {
      sfn: clients.sfn,
      s3: clients.s3,
      log: logger,
      config,
      lock: { dynamodb: clients.dynamodb, config: config.lock },
    },
    logger,
  );
}
