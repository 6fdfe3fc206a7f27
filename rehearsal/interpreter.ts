/**
 * Runs the synthesized release definition with aws-local-stepfunctions, each Task state calling a local
 * function the way the deployed state machine calls Lambda and SNS. Shared by the tests and by
 * `lockstep release --local`.
 */
import './promise-with-resolvers.ts';
import { randomBytes } from 'node:crypto';
import {
  DeleteItemCommand,
  type DeleteItemCommandInput,
  type DynamoDBClient,
  PutItemCommand,
  type PutItemCommandInput,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { ExecutionAbortedError, ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import type { LocalDefinition, TaskKind } from './definition.ts';
import { LOCAL_ACCOUNT as PLACEHOLDER } from './stand-ins/account.ts';
import type { LocalTaskTokens } from './stand-ins/task-tokens.ts';

/** The part of a Lambda context the handlers read. */
export interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

export type Handler = (event: unknown, context: LambdaContext) => Promise<unknown>;

export interface Alert {
  readonly topicArn: string;
  readonly subject: string | undefined;
  readonly message: string;
}

/** One entry of the interpreter's event log, as far as lockstep reads it. */
export interface ExecutionEvent {
  readonly type: string;
  readonly timestamp: number;
  readonly state?: { readonly name: string; readonly output?: unknown };
  readonly Error?: string;
  readonly Cause?: string;
  readonly retry?: unknown;
}

/**
 * Invokes a handler the way Lambda does: the event and the result pass through JSON, and a thrown error
 * becomes Step Functions' Error (its name, Lambda's errorType) and Cause (Lambda's error JSON).
 */
export async function invokeAsLambda(
  handler: Handler,
  event: unknown,
  context: LambdaContext,
): Promise<unknown> {
  let result: unknown;
  try {
    result = await handler(JSON.parse(JSON.stringify(event)), context);
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    const failure = new Error(
      JSON.stringify({ errorType: e.name, errorMessage: e.message, trace: (e.stack ?? '').split('\n') }),
    );
    failure.name = e.name;
    throw failure;
  }
  return result === undefined ? null : JSON.parse(JSON.stringify(result));
}

/** SNS Publish as the Step Functions integration calls it: SNS's own checks, then `deliver`. */
export function publishAsSns(params: unknown, deliver: (alert: Alert) => void): { MessageId: string } {
  const { TopicArn, Subject, Message } = params as {
    TopicArn?: unknown;
    Subject?: unknown;
    Message?: unknown;
  };
  const invalid = (problem: string) =>
    Object.assign(new Error(`Invalid parameter: ${problem}`), { name: 'SNS.InvalidParameterException' });
  if (typeof TopicArn !== 'string' || !TopicArn.startsWith('arn:')) throw invalid('TopicArn');
  if (Subject !== undefined) {
    if (typeof Subject !== 'string' || Subject.length === 0 || Subject.length > 100)
      throw invalid('Subject must be 1-100 characters');
    if (!/^[\x20-\x7e]+$/.test(Subject)) throw invalid('Subject must be printable ASCII on one line');
  }
  const message = typeof Message === 'string' ? Message : JSON.stringify(Message);
  if (!message) throw invalid('Message is empty');
  if (Buffer.byteLength(message) > 262_144) throw invalid('Message is longer than 256 KB');
  deliver({ topicArn: TopicArn, subject: Subject as string | undefined, message });
  return { MessageId: randomBytes(16).toString('hex') };
}

/** A DynamoDB integration's call: the output without its metadata, errors named `DynamoDB.<exception>` as Step Functions names them. */
async function dynamoAsStepFunctions(send: () => Promise<{ $metadata: unknown }>): Promise<unknown> {
  try {
    const { $metadata: _, ...out } = await send();
    return out;
  } catch (err) {
    const e = err as Error;
    throw Object.assign(new Error(e.message), { name: `DynamoDB.${e.name}` });
  }
}

/** The DynamoDB DeleteItem integration (the state machine's release-lock states). */
export const deleteItemAsStepFunctions = (dynamodb: DynamoDBClient, params: unknown): Promise<unknown> =>
  dynamoAsStepFunctions(() => dynamodb.send(new DeleteItemCommand(params as DeleteItemCommandInput)));

/** The DynamoDB PutItem integration (the release-record states). */
export const putItemAsStepFunctions = (dynamodb: DynamoDBClient, params: unknown): Promise<unknown> =>
  dynamoAsStepFunctions(() => dynamodb.send(new PutItemCommand(params as PutItemCommandInput)));

/** The DynamoDB UpdateItem integration (the approval gate's token taken off the lock item). */
export const updateItemAsStepFunctions = (dynamodb: DynamoDBClient, params: unknown): Promise<unknown> =>
  dynamoAsStepFunctions(() => dynamodb.send(new UpdateItemCommand(params as UpdateItemCommandInput)));

/**
 * A `.waitForTaskToken` Task state: `request` (the call that hands the token on: the approval function) and then the
 * wait for SendTaskSuccess or SendTaskFailure on it. A failed request fails the state at once, as on AWS; the state's
 * TimeoutSeconds is the interpreter's (States.Timeout).
 */
export async function awaitTaskToken(
  tokens: LocalTaskTokens,
  params: unknown,
  request: () => Promise<unknown>,
): Promise<unknown> {
  const token = tokens.tokenIn(params);
  if (!token) throw new Error('the state passes no task token ($$.Task.Token) to what it calls');
  const decided = tokens.wait(token);
  await request();
  tokens.announce(token);
  return decided;
}

export interface LocalRunOptions {
  /** What each Task state calls, by its kind; `sns` states are published through {@link publishAsSns}. */
  readonly invoke: (state: string, kind: TaskKind, params: unknown) => Promise<unknown>;
  readonly executionName?: string;
  /** Milliseconds each Wait state takes. @default 0 */
  readonly waitMs?: number | ((state: string) => number);
  /** Each event as it happens (for progress output). */
  readonly onEvent?: (event: ExecutionEvent) => void;
  /** Where `$$.Task.Token` comes from (the approval gate); every task still open is closed when the run ends. */
  readonly taskTokens?: LocalTaskTokens;
}

export interface LocalRun {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly executionArn: string;
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
  readonly events: readonly ExecutionEvent[];
}

/**
 * Step Functions' payload quota: 256 KiB of UTF-8 for a state's input and output and a task's result. Past it
 * the execution fails with States.DataLimitExceeded, which no Catch sees (AWS Step Functions Developer Guide,
 * "Error handling": "States.DataLimitExceeded … is a terminal error that can't be caught by the States.ALL
 * error type"; reported when "the output of a connector is larger than payload size quota", "the output of a
 * state is larger than payload size quota" or "after Parameters processing, the input of a state is larger
 * than the payload size quota").
 */
export const PAYLOAD_LIMIT_BYTES = 262_144;

/** The UTF-8 size of a value as Step Functions would carry it. */
export function payloadBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value ?? null));
}

/** What a task returns once the execution was stopped for its payload (the execution is already aborted). */
function dataLimitExceeded(): Error {
  return Object.assign(new Error('payload over the quota'), { name: 'States.DataLimitExceeded' });
}

/** The ARN an execution of this name gets. */
export function executionArnFor(local: LocalDefinition, name: string): string {
  const machineName = local.stateMachineArn.split(':').at(-1) as string;
  return `arn:aws:states:${PLACEHOLDER.region}:${PLACEHOLDER.account}:execution:${machineName}:${name}`;
}

/** Executes the definition once, to the end. Retry intervals take no time; Waits take `waitMs`. */
export async function runLocally(
  local: LocalDefinition,
  input: unknown,
  options: LocalRunOptions,
): Promise<LocalRun> {
  const machine = new StateMachine(local.definition as never, {
    validationOptions: { checkArn: false, checkPaths: true },
  });
  const machineName = local.stateMachineArn.split(':').at(-1) as string;
  const name = options.executionName ?? `release-${randomBytes(4).toString('hex')}`;
  const executionArn = executionArnFor(local, name);
  // The first payload over the quota ends the run, as AWS ends the execution: nothing after it runs.
  let overLimit: { state: string; what: string; bytes: number } | undefined;
  let stop: () => void = () => {};
  const exceeded = (state: string, what: string, value: unknown): boolean => {
    const bytes = payloadBytes(value);
    if (bytes <= PAYLOAD_LIMIT_BYTES || overLimit) return overLimit !== undefined;
    overLimit = { state, what, bytes };
    stop();
    return true;
  };
  const taskHandlers = Object.fromEntries(
    Object.entries(local.taskStates).map(([state, kind]) => [
      state,
      async (params: unknown) => {
        if (exceeded(state, 'input', params)) throw dataLimitExceeded();
        const result = await options.invoke(state, kind, params);
        if (exceeded(state, 'result', result)) throw dataLimitExceeded();
        return result;
      },
    ]),
  );
  const wait = (state: string) =>
    typeof options.waitMs === 'function' ? options.waitMs(state) : (options.waitMs ?? 0);
  const execution = machine.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: taskHandlers as never,
      waitTimeOverrides: Object.fromEntries(local.waitStates.map((s) => [s, wait(s)])),
      retryIntervalOverrides: Object.fromEntries(local.retryStates.map((s) => [s, 0])),
    },
    context: {
      Execution: {
        Id: executionArn,
        Name: name,
        RoleArn: `arn:aws:iam::${PLACEHOLDER.account}:role/release`,
      },
      StateMachine: { Id: local.stateMachineArn, Name: machineName },
      // The interpreter sets no $$.State; the record states read EnteredTime. A getter gives the time the state's
      // parameters are evaluated, which is when it is entered.
      State: {
        get EnteredTime() {
          return new Date().toISOString();
        },
      },
      // A new token each time a state's parameters read it, as Step Functions gives each task its own.
      Task: {
        get Token() {
          if (!options.taskTokens) throw new Error('this run issues no task tokens: pass taskTokens');
          return options.taskTokens.issue();
        },
      },
    },
  });
  stop = () => execution.abort();
  const events: ExecutionEvent[] = [];
  const collected = (async () => {
    for await (const event of execution.eventLogs) {
      const state = (event as { state?: { name: string; input?: unknown; output?: unknown } }).state;
      if (state && event.type === 'StateEntered') exceeded(state.name, 'input', state.input);
      if (state && event.type === 'StateExited') exceeded(state.name, 'output', state.output);
      events.push(event as ExecutionEvent);
      options.onEvent?.(event as ExecutionEvent);
    }
  })();
  let output: unknown;
  let failed = false;
  try {
    output = await execution.result;
  } catch (err) {
    if (!(err instanceof ExecutionError) && !(err instanceof ExecutionAbortedError)) throw err;
    failed = true;
  }
  await collected;
  options.taskTokens?.closeAll();
  if (overLimit) {
    const { state, what, bytes } = overLimit;
    const limitEvent: ExecutionEvent = {
      type: 'ExecutionFailed',
      timestamp: Date.now(),
      Error: 'States.DataLimitExceeded',
      Cause: `The ${what} of state '${state}' is ${bytes} bytes, over the ${PAYLOAD_LIMIT_BYTES}-byte payload quota.`,
    };
    events.push(limitEvent);
    options.onEvent?.(limitEvent);
    return { status: 'FAILED', executionArn, error: limitEvent.Error, cause: limitEvent.Cause, events };
  }
  const end = events.find((e) => e.type === 'ExecutionFailed');
  return failed
    ? { status: 'FAILED', executionArn, error: end?.Error, cause: String(end?.Cause ?? ''), events }
    : { status: 'SUCCEEDED', executionArn, output, events };
}
