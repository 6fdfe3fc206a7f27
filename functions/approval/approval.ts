/**
 * The approval gate's request (issue 15): invoked by the state machine with `.waitForTaskToken`, it stores the task
 * token on the database's release-lock item — where only `lockstep approve` / `lockstep reject` read it — and then
 * publishes the notification: what the release will do, and exactly how to approve or reject it. The rollback's
 * confirmation before its switch (issue 16) is the same gate: its event carries `rollback`, and the item says so
 * (`approvalFor: rollback`), so that `approve` tells the caller what their decision does. The token is never
 * in the notification: every subscriber of the topic reads that, and a token is all SendTaskSuccess asks for
 * (states:SendTaskSuccess has no resource-level permissions, so whoever holds a token may decide).
 *
 * The function returns at once; the task waits for the decision (SendTaskSuccess/SendTaskFailure) or its timeout.
 * The token is taken off the lock item by the state machine once decided (a used token is worthless: Step Functions
 * answers TaskTimedOut to it), or goes with the item when the release ends.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import * as z from 'zod/mini';
import { ReleaseLockLostError } from '../shared/errors.ts';
import { parseEvent } from '../shared/events.ts';
import { invocationKeys, runHandler } from '../shared/handler.ts';
import type { Log } from '../shared/logger.ts';
import { approvalNotification } from './notification.ts';

export interface ApprovalConfig {
  /** The release-lock table, and the item's key (the database identifier). */
  readonly lockTable: string;
  readonly lockId: string;
  /** Where the notification goes: the alert topic. */
  readonly topicArn: string;
}

export interface ApprovalDeps {
  readonly dynamodb: DynamoDBClient;
  readonly sns: SNSClient;
  readonly log: Log;
  readonly config: ApprovalConfig;
  readonly now: () => Date;
}

const names = z.object({
  count: z.number(),
  first: z.array(z.string()),
  last: z.array(z.string()),
});

const text = z.string().check(z.minLength(1));

/** The rollback's switch, once the copy restored from the snapshot is available (infra/constructs/rollback-definition.ts). */
const rollbackSwitch = z.object({
  to: z.object({ release: text, image: text, taskDefinitionArn: text }),
  requestedBy: text,
  reason: text,
  /** When the snapshot was taken: what the live database loses since. */
  snapshotCreatedAt: text,
  kind: z.enum(['instance', 'cluster']),
  database: text,
  restored: text,
  aside: text,
  /** The restored copy's endpoint, to look at it before deciding; null when RDS did not report one. */
  endpoint: z.nullable(z.string()),
});

const eventSchema = z.object({
  taskToken: z.string().check(z.minLength(1), z.maxLength(2048)),
  executionId: z.string().check(z.startsWith('arn:')),
  /** The gate's own timeout (its TimeoutSeconds), for the deadline the notification names. */
  timeoutSeconds: z.number().check(z.int(), z.positive()),
  release: z.object({ release: z.string(), image: z.string() }),
  snapshotId: z.string(),
  /** The SQL flow's plan: what is pending and what the lint found. */
  plan: z.optional(
    z.object({
      pendingCount: z.number(),
      pending: names,
      lint: z.optional(z.object({ findings: z.number(), failing: z.number(), rules: names })),
    }),
  ),
  /** Command mode: the command the migration task will run, the revision it runs, the pending check's verdict. */
  command: z.optional(
    z.object({
      command: z.string(),
      taskDefinitionArn: z.string(),
      pendingCheck: z.optional(z.string()),
    }),
  ),
  /** The rollback's confirmation before its switch: what the switch does. */
  rollback: z.optional(rollbackSwitch),
});

export type ApprovalEvent = z.infer<typeof eventSchema>;

export interface ApprovalRequested {
  readonly requestedAt: string;
  /** When the gate's task times out, if no one decides. */
  readonly deadline: string;
  readonly messageId: string | undefined;
}

const isConditionFailure = (err: unknown) =>
  err instanceof ConditionalCheckFailedException ||
  (err instanceof Error && err.name === 'ConditionalCheckFailedException');

export async function requestApproval(deps: ApprovalDeps, rawEvent: unknown): Promise<ApprovalRequested> {
  const event = parseEvent(eventSchema, rawEvent);
  const { config } = deps;
  const now = deps.now();
  const deadline = new Date(now.getTime() + event.timeoutSeconds * 1000);
  // 1. The token goes on the lock item, only while this execution holds the lock: first, so that whoever reads the
  //    notification finds it.
  try {
    await deps.dynamodb.send(
      new UpdateItemCommand({
        TableName: config.lockTable,
        Key: { lockId: { S: config.lockId } },
        UpdateExpression:
          'SET approvalToken = :token, approvalFor = :for, approvalRequestedAt = :now, approvalDeadline = :deadline',
        ConditionExpression: '#owner = :execution',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: {
          ':token': { S: event.taskToken },
          ':for': { S: event.rollback ? 'rollback' : 'release' },
          ':now': { S: now.toISOString() },
          ':deadline': { S: deadline.toISOString() },
          ':execution': { S: event.executionId },
        },
      }),
    );
  } catch (err) {
    if (isConditionFailure(err)) throw new ReleaseLockLostError(event.executionId, config.lockId);
    throw err;
  }
  // 2. The notification, without the token.
  const { subject, message } = approvalNotification(event, {
    lockTable: config.lockTable,
    database: config.lockId,
    timeoutSeconds: event.timeoutSeconds,
    deadline,
  });
  const published = await deps.sns.send(
    new PublishCommand({ TopicArn: config.topicArn, Subject: subject, Message: message }),
  );
  deps.log.info('approval requested', { deadline: deadline.toISOString(), messageId: published.MessageId });
  return { requestedAt: now.toISOString(), deadline: deadline.toISOString(), messageId: published.MessageId };
}

/** The Lambda handler over these deps: ./handler.ts wires the AWS ones, the local rehearsal its stand-ins. */
export function createApprovalHandler(deps: ApprovalDeps, logger: Logger) {
  return async (event: unknown): Promise<ApprovalRequested> => {
    const { executionId, release } = invocationKeys(event);
    return runHandler(logger, { executionId, release, step: 'approval' }, () => requestApproval(deps, event));
  };
}
