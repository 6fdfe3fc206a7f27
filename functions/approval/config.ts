/** The approval function's environment, read once at cold start. */
import * as z from 'zod/mini';
import { arn, type Env, readConfig } from '../shared/config.ts';
import type { ApprovalConfig } from './approval.ts';

export function readApprovalConfig(env: Env): ApprovalConfig {
  const c = readConfig(env, {
    LOCK_TABLE: z.string().check(z.regex(/^[A-Za-z0-9_.-]{3,255}$/, 'must be a DynamoDB table name')),
    // The lock item's key, as preflight takes it: the database identifier.
    DB_IDENTIFIER: z.string().check(z.minLength(1)),
    ALERT_TOPIC_ARN: arn('sns'),
  });
  return {
    lockTable: c.LOCK_TABLE,
    lockId: c.DB_IDENTIFIER,
    topicArn: c.ALERT_TOPIC_ARN,
  };
}
