/**
 * Builds the approval handler from its environment and AWS clients: what the Lambda entry (./handler.ts) does at cold
 * start, and what the local rehearsal and the state-machine tests do with local stand-ins.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { Env } from '../shared/config.ts';
import { loggerFor, type SetupOptions } from '../shared/setup.ts';
import { createApprovalHandler } from './approval.ts';
import { readApprovalConfig } from './config.ts';

export interface ApprovalClients {
  readonly dynamodb: DynamoDBClient;
  readonly sns: SNSClient;
}

/** Throws a ConfigError naming the first bad variable, before any event is handled. */
export function approvalHandler(env: Env, clients: ApprovalClients, options: SetupOptions = {}) {
  const config = readApprovalConfig(env);
  const logger = loggerFor(options, 'lockstep-approval');
  return createApprovalHandler(
    { dynamodb: clients.dynamodb, sns: clients.sns, log: logger, config, now: () => new Date() },
    logger,
  );
}
