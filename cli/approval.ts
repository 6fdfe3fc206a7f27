/**
 * The approval gate's decision (`lockstep approve` / `lockstep reject`, and the rehearsal's `--approval`): find the
 * task token the waiting execution (a release at its gate, or a rollback before its switch) stored on its
 * release-lock item (functions/approval), learn who is deciding (STS
 * GetCallerIdentity), and send the decision — SendTaskSuccess with who approved and when, or SendTaskFailure with
 * ReleaseRejectedError naming who rejected it, when and why. The token is never printed.
 */
import {
  type AttributeValue,
  type DynamoDBClient,
  ScanCommand,
  type ScanCommandOutput,
} from '@aws-sdk/client-dynamodb';
import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import { InvalidInputError, LockstepError } from '../engine/errors.ts';
import { ReleaseRejectedError } from '../functions/shared/errors.ts';

/** The execution is not waiting at its approval gate: nothing was decided. */
export class ApprovalNotPendingError extends LockstepError<'APPROVAL_NOT_PENDING'> {
  override readonly name = 'ApprovalNotPendingError';
  readonly code = 'APPROVAL_NOT_PENDING';
  constructor(
    readonly executionArn: string,
    readonly why: string,
  ) {
    super(`${executionArn} is not waiting for approval: ${why}; nothing was decided`);
  }
  protected override details() {
    return { executionArn: this.executionArn, why: this.why };
  }
}

export interface DecisionDeps {
  readonly sfn: SFNClient;
  readonly sts: STSClient;
  readonly dynamodb: DynamoDBClient;
  readonly now: () => Date;
}

export type Decision = { readonly kind: 'approve' } | { readonly kind: 'reject'; readonly reason: string };

export interface DecisionRequest {
  readonly executionArn: string;
  /** The release-lock table (the stack output ReleaseLockTable). */
  readonly lockTable: string;
  readonly decision: Decision;
}

export interface DecisionResult {
  readonly executionArn: string;
  /** What waited: a release at its approval gate, or a rollback before its switch (functions/approval's `approvalFor`). */
  readonly waiting: 'release' | 'rollback';
  readonly decision: 'approved' | 'rejected';
  /** The caller's identity ARN. */
  readonly by: string;
  readonly at: string;
  readonly reason?: string;
}

/** A Standard execution's ARN: `arn:<partition>:states:<region>:<account>:execution:<state machine>:<name>`. */
const EXECUTION_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[A-Za-z0-9_-]{1,80}:[^\s:/]{1,80}$/;
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
/** Room for who and when in SendTaskFailure's cause (at most 32,768 characters) with plenty to spare. */
const MAX_REASON = 2000;

/** Checks what was asked before anything is read or sent; each problem names its argument. */
export function parseDecisionRequest(
  executionArn: string | undefined,
  lockTable: string | undefined,
  decision: { readonly kind: 'approve' } | { readonly kind: 'reject'; readonly reason: string | undefined },
): DecisionRequest {
  if (!executionArn || !EXECUTION_ARN.test(executionArn))
    throw new InvalidInputError(
      'execution',
      'must be the execution ARN the approval notification names (arn:aws:states:<region>:<account>:execution:<state machine>:<name>)',
    );
  if (!lockTable)
    throw new InvalidInputError(
      '--lock-table',
      'name the release-lock table (the stack output ReleaseLockTable, as the notification says), or set LOCKSTEP_LOCK_TABLE',
    );
  if (!TABLE_NAME.test(lockTable))
    throw new InvalidInputError('--lock-table', 'must be a DynamoDB table name');
  if (decision.kind === 'approve') return { executionArn, lockTable, decision };
  const reason = decision.reason?.trim() ?? '';
  if (!reason)
    throw new InvalidInputError(
      '--reason',
      'say why the release is rejected: it goes into the alert and the record',
    );
  if (reason.length > MAX_REASON)
    throw new InvalidInputError('--reason', `must be at most ${MAX_REASON} characters`);
  return { executionArn, lockTable, decision: { kind: 'reject', reason } };
}

/** The region an execution ARN names: where its state machine and lock table are. */
export const regionOf = (executionArn: string): string => executionArn.split(':')[3] ?? '';

export async function decideApproval(deps: DecisionDeps, request: DecisionRequest): Promise<DecisionResult> {
  const { executionArn } = request;
  const { token, waiting } = await findToken(deps.dynamodb, request.lockTable, executionArn);
  const identity = await deps.sts.send(new GetCallerIdentityCommand({}));
  const by = identity.Arn ?? 'unknown caller';
  const at = deps.now().toISOString();
  try {
    if (request.decision.kind === 'approve') {
      await deps.sfn.send(
        new SendTaskSuccessCommand({
          taskToken: token,
          output: JSON.stringify({ approvedBy: by, approvedAt: at }),
        }),
      );
      return { executionArn, waiting, decision: 'approved', by, at };
    }
    const { reason } = request.decision;
    const rejection = new ReleaseRejectedError(by, at, reason);
    await deps.sfn.send(
      new SendTaskFailureCommand({ taskToken: token, error: rejection.name, cause: rejection.message }),
    );
    return { executionArn, waiting, decision: 'rejected', by, at, reason };
  } catch (err) {
    const name = (err as { name?: string }).name;
    // API Reference, SendTaskSuccess: "TaskTimedOut: The task token has either expired or the task associated with
    // the token has already been closed."
    if (name === 'TaskTimedOut')
      throw new ApprovalNotPendingError(
        executionArn,
        'its approval gate has closed: the approval timeout passed, or someone decided first (Step Functions: TaskTimedOut)',
      );
    if (name === 'InvalidToken' || name === 'TaskDoesNotExist')
      throw new ApprovalNotPendingError(
        executionArn,
        `Step Functions does not know the token stored for it (${name})`,
      );
    throw err;
  }
}

/** The token on the lock item `executionArn` holds: one item per database, read consistently. */
async function findToken(
  dynamodb: DynamoDBClient,
  table: string,
  executionArn: string,
): Promise<{ readonly token: string; readonly waiting: DecisionResult['waiting'] }> {
  let item: Record<string, AttributeValue> | undefined;
  let start: ScanCommandOutput['LastEvaluatedKey'];
  do {
    const page = await dynamodb.send(
      new ScanCommand({
        TableName: table,
        ConsistentRead: true,
        FilterExpression: '#owner = :execution',
        ExpressionAttributeNames: { '#owner': 'owner' },
        ExpressionAttributeValues: { ':execution': { S: executionArn } },
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    item = page.Items?.[0];
    start = page.LastEvaluatedKey;
  } while (!item && start);
  if (!item)
    throw new ApprovalNotPendingError(
      executionArn,
      'it holds no release lock (it has ended, or is queued behind another release)',
    );
  const token = item.approvalToken?.S;
  if (!token)
    throw new ApprovalNotPendingError(
      executionArn,
      'it has not reached its approval gate, or a decision was already made',
    );
  return { token, waiting: item.approvalFor?.S === 'rollback' ? 'rollback' : 'release' };
}
