/**
 * Runs the synthesized release definition with aws-local-stepfunctions, each Task state calling a local
 * function the way the deployed state machine calls Lambda and SNS. Shared by the tests and by
 * `lockstep release --local`.
 */
import './promise-with-resolvers.ts';
import { randomBytes } from 'node:crypto';
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import { type LocalDefinition, PLACEHOLDER, type TaskKind } from './local-definition.ts';

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

export interface LocalRunOptions {
  /** What each Task state calls, by its kind; `sns` states are published through {@link publishAsSns}. */
  readonly invoke: (state: string, kind: TaskKind, params: unknown) => Promise<unknown>;
  readonly executionName?: string;
  /** Milliseconds each Wait state takes. @default 0 */
  readonly waitMs?: number | ((state: string) => number);
  /** Each event as it happens (for progress output). */
  readonly onEvent?: (event: ExecutionEvent) => void;
}

export interface LocalRun {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly executionArn: string;
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
  readonly events: readonly ExecutionEvent[];
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
  const taskHandlers = Object.fromEntries(
    Object.entries(local.taskStates).map(([state, kind]) => [
      state,
      (params: unknown) => options.invoke(state, kind, params),
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
    },
  });
  const events: ExecutionEvent[] = [];
  const collected = (async () => {
    for await (const event of execution.eventLogs) {
      events.push(event as ExecutionEvent);
      options.onEvent?.(event as ExecutionEvent);
    }
  })();
  let output: unknown;
  let failed = false;
  try {
    output = await execution.result;
  } catch (err) {
    if (!(err instanceof ExecutionError)) throw err;
    failed = true;
  }
  await collected;
  const end = events.find((e) => e.type === 'ExecutionFailed');
  return failed
    ? { status: 'FAILED', executionArn, error: end?.Error, cause: String(end?.Cause ?? ''), events }
    : { status: 'SUCCEEDED', executionArn, output, events };
}
