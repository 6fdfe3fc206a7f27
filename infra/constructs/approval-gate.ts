/**
 * The approval gate (issue 15): a pause in the state machine until a person approves or rejects, or the timeout
 * passes. Shared by the release (after plan, lint and snapshot, before the migration) and any flow that must stop
 * for a confirmation.
 *
 *   Await approval ─┬─ approved (SendTaskSuccess) → Clear approval token → next
 *                   ├─ States.Timeout → Approval timed out → onFailure
 *                   └─ rejected (SendTaskFailure: ReleaseRejectedError), or the request failed → onFailure
 *
 * `Await approval` invokes the approval function with `.waitForTaskToken`: it stores the token on the release-lock
 * item and notifies; the task then waits. Step Functions Developer Guide, "Integrating optimized services": Lambda
 * supports "Wait for Callback (.waitForTaskToken)", DynamoDB does not ("Amazon DynamoDB ✓" under Request Response
 * only), so a DynamoDB task cannot itself wait; and an SNS task could, but its token would be in a message every
 * subscriber reads. "If an exception is raised within the Lambda function, the Task will fail" (Invoke an AWS Lambda
 * function with Step Functions): a request that could not be stored or sent fails the gate at once.
 */
import type { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { DYNAMODB_RETRY } from './release-records.ts';
import { STATE } from './state-names.ts';

export interface ApprovalGateProps {
  /** The approval function (functions/approval): stores the token, sends the notification. */
  readonly fn: lambda.IFunction;
  /** How long the gate waits for a decision; then it fails with States.Timeout. */
  readonly timeout: Duration;
  /** What the function is told besides the token and the execution: the release, its snapshot, plan or command. */
  readonly payload: Record<string, unknown>;
  /** The release-lock table the token is stored in, and the JSONPath of the lock item's key. */
  readonly lockTable: dynamodb.ITable;
  readonly lockKeyPath: string;
  /** The retries of the function's invocation (AWS's transient errors): the request is sent again, with a new token. */
  readonly retries: readonly sfn.RetryProps[];
  /** Where a rejection, a timeout or a failed request goes, with the error in `$.error`. */
  readonly onFailure: sfn.IChainable;
  /** The gate's three states. @default - the release's: Await approval, Approval timed out, Clear approval token */
  readonly states?: { readonly wait: string; readonly timedOut: string; readonly clear: string };
  /** What waited for, in the timeout's Cause: `No one approved or rejected <what> within …`. @default 'the release' */
  readonly what?: string;
}

/** `Await approval` → `Clear approval token` → `next`; the decision (SendTaskSuccess's output) is in `$.approval`. */
export function buildApprovalGate(
  scope: Construct,
  props: ApprovalGateProps,
  next: sfn.IChainable,
): sfn.IChainable {
  const names = props.states ?? {
    wait: STATE.awaitApproval,
    timedOut: STATE.approvalTimedOut,
    clear: STATE.clearApproval,
  };
  const wait = new tasks.LambdaInvoke(scope, names.wait, {
    stateName: names.wait,
    lambdaFunction: props.fn,
    integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    payload: sfn.TaskInput.fromObject({
      taskToken: sfn.JsonPath.taskToken,
      'executionId.$': '$$.Execution.Id',
      // The function names the deadline: the same number as the task's TimeoutSeconds.
      timeoutSeconds: props.timeout.toSeconds(),
      ...props.payload,
    }),
    retryOnServiceExceptions: false,
    resultPath: '$.approval',
    taskTimeout: sfn.Timeout.duration(props.timeout),
  });
  for (const retry of props.retries) wait.addRetry(retry);
  // States.Timeout comes with no Cause of its own: the alert says what it means here.
  const timedOut = new sfn.Pass(scope, names.timedOut, {
    stateName: names.timedOut,
    parameters: {
      Error: 'States.Timeout',
      Cause: `No one approved or rejected ${props.what ?? 'the release'} within ${props.timeout.toHumanString()} (the approval timeout).`,
    },
    resultPath: '$.error',
  }).next(props.onFailure);
  wait.addCatch(timedOut, { errors: ['States.Timeout'], resultPath: '$.error' });
  wait.addCatch(props.onFailure, { resultPath: '$.error' });

  // Decided: the token is closed, and taken off the lock item so that a second `approve` is told so at once.
  const clear = new tasks.DynamoUpdateItem(scope, names.clear, {
    stateName: names.clear,
    table: props.lockTable,
    key: { lockId: tasks.DynamoAttributeValue.fromString(sfn.JsonPath.stringAt(props.lockKeyPath)) },
    updateExpression: 'REMOVE approvalToken, approvalFor, approvalRequestedAt, approvalDeadline',
    conditionExpression: '#owner = :owner',
    expressionAttributeNames: { '#owner': 'owner' },
    expressionAttributeValues: {
      ':owner': tasks.DynamoAttributeValue.fromString(sfn.JsonPath.stringAt('$$.Execution.Id')),
    },
    resultPath: sfn.JsonPath.DISCARD,
  });
  clear.addRetry(DYNAMODB_RETRY);
  // A token left behind is worthless (Step Functions answers TaskTimedOut to it): the release goes on.
  clear.addCatch(next, { resultPath: '$.approvalClearError' });
  return wait.next(clear).next(next);
}
