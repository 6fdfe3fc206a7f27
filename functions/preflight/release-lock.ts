/**
 * One release per database at a time: a DynamoDB item per database, taken with a conditional write. The owner
 * is the execution's ARN and the item expires with the release timeout. A lock whose owner execution is no
 * longer running (it failed past every Catch, timed out or was stopped) is taken over, again by a conditional
 * write, so two preflights racing for it cannot both win. The state machine deletes the item on every path it
 * controls (success, dry run, each Catch), conditioned on still owning it.
 *
 * Why not ListExecutions: its API reference says "This operation is eventually consistent. The results are best
 * effort and may not reflect very recent updates and changes", so two releases starting together may each miss
 * the other. A conditional PutItem is atomic: exactly one of two racing writes wins.
 */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, ExecutionDoesNotExist, type SFNClient } from '@aws-sdk/client-sfn';
import { ReleaseInProgressError } from '../shared/errors.ts';
import type { Log } from '../shared/logger.ts';

export interface ReleaseLockConfig {
  /** The DynamoDB table (partition key `lockId`, a string). */
  readonly table: string;
  /** The database the lock is for: one item per database. */
  readonly lockId: string;
  /** How long a lock lives if its owner never releases it: the release timeout. */
  readonly ttlSeconds: number;
}

export interface ReleaseLockDeps {
  readonly dynamodb: DynamoDBClient;
  readonly sfn: SFNClient;
  readonly log: Log;
  readonly now: () => Date;
}

interface Holder {
  readonly owner: string;
  readonly acquiredAt: string | undefined;
}

/** Attempts at taking the lock when the holder keeps changing under us; then the newest holder is reported. */
const MAX_ATTEMPTS = 3;

const isConditionFailure = (err: unknown) =>
  err instanceof ConditionalCheckFailedException ||
  (err instanceof Error && err.name === 'ConditionalCheckFailedException');

/**
 * Takes the lock for `owner` (an execution ARN), or throws {@link ReleaseInProgressError} naming the running
 * execution that holds it. Taking it again as its owner (a retried preflight) succeeds.
 */
export async function acquireReleaseLock(
  deps: ReleaseLockDeps,
  config: ReleaseLockConfig,
  owner: string,
): Promise<void> {
  let holder: Holder | undefined;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const now = deps.now();
    const nowSeconds = Math.floor(now.getTime() / 1000);
    const item = {
      lockId: { S: config.lockId },
      owner: { S: owner },
      acquiredAt: { S: now.toISOString() },
      expiresAt: { N: String(nowSeconds + config.ttlSeconds) },
    };
    try {
      await deps.dynamodb.send(
        new PutItemCommand({
          TableName: config.table,
          Item: item,
          // Free, ours already, or expired (TTL deletion lags by up to days, so expiry is checked here too).
          ConditionExpression: 'attribute_not_exists(lockId) OR #owner = :owner OR expiresAt < :now',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': { S: owner }, ':now': { N: String(nowSeconds) } },
        }),
      );
      return;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
    holder = await readHolder(deps, config);
    if (!holder) continue; // released between the two calls: try again
    const status = await executionStatus(deps, holder.owner);
    if (status === 'RUNNING') break;
    deps.log.warn('taking over the release lock: its owner is no longer running', {
      previousOwner: holder.owner,
      previousStatus: status,
    });
    try {
      await deps.dynamodb.send(
        new PutItemCommand({
          TableName: config.table,
          Item: item,
          ConditionExpression: '#owner = :previous',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':previous': { S: holder.owner } },
        }),
      );
      return;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      // Another preflight took it over first: look again.
    }
  }
  const current = holder ?? (await readHolder(deps, config));
  throw new ReleaseInProgressError(current?.owner ?? 'unknown', current?.acquiredAt);
}

/** Gives the lock back if `owner` still holds it; a lock taken over by another release is left alone. */
export async function releaseReleaseLock(
  deps: Pick<ReleaseLockDeps, 'dynamodb'>,
  config: ReleaseLockConfig,
  owner: string,
): Promise<void> {
  try {
    await deps.dynamodb.send(
      new DeleteItemCommand({
        TableName: config.table,
        Key: { lockId: { S: config.lockId } },
        ConditionExpression: '#owner = :owner',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':owner': { S: owner } },
      }),
    );
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
  }
}

async function readHolder(deps: ReleaseLockDeps, config: ReleaseLockConfig): Promise<Holder | undefined> {
  const out = await deps.dynamodb.send(
    new GetItemCommand({
      TableName: config.table,
      Key: { lockId: { S: config.lockId } },
      ConsistentRead: true,
    }),
  );
  const owner = out.Item?.owner?.S;
  return owner ? { owner, acquiredAt: out.Item?.acquiredAt?.S } : undefined;
}

/** RUNNING, a final status, or GONE when Step Functions no longer knows the execution. */
async function executionStatus(deps: ReleaseLockDeps, executionArn: string): Promise<string> {
  try {
    const out = await deps.sfn.send(new DescribeExecutionCommand({ executionArn }));
    return out.status ?? 'UNKNOWN';
  } catch (err) {
    if (
      err instanceof ExecutionDoesNotExist ||
      (err instanceof Error && err.name === 'ExecutionDoesNotExist')
    )
      return 'GONE';
    throw err;
  }
}
