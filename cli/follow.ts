/**
 * `--follow` of `lockstep start` and `lockstep rollback`: print the execution's history as it grows — each state as it
 * is entered and left, the decision commands once it waits at its approval gate — until it ends, then its result, its
 * record and the alerts it sent. The caller turns an execution that did not succeed into its own error.
 */
import {
  DescribeExecutionCommand,
  type ExecutionStatus,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { LockstepError } from '../engine/errors.ts';
import { STATE } from '../infra/constructs/state-names.ts';
import { approvalCommands, isGate } from './approval-hint.ts';

export interface FollowDeps {
  readonly sfn: SFNClient;
  readonly print: (line: string) => void;
  readonly sleep: (ms: number) => Promise<void>;
  /** How often the history is read. */
  readonly pollMs: number;
  /** The release-lock table, for the approve/reject commands. @default - read from the execution's state machine */
  readonly lockTable?: string | undefined;
}

/** What is followed: the word every line uses, and where its record is listed. */
export interface FollowedFlow {
  readonly noun: 'release' | 'rollback';
  /** The label the record is listed under (`lockstep releases show <label>`). */
  readonly label: string;
  /** The records table, when known. @default - the stack output's name, as a placeholder */
  readonly recordsTable?: string | undefined;
}

export interface FollowResult {
  readonly executionArn: string;
  readonly status: ExecutionStatus;
  /** The execution's error and cause, when it did not succeed. */
  readonly error?: string;
  readonly cause?: string;
  /** The record's key, as the state machine writes it. */
  readonly recordKey?: string;
}

/** The followed execution ended FAILED, TIMED_OUT or ABORTED: the release's or the rollback's own error says which. */
export abstract class ExecutionFailedError<Code extends string> extends LockstepError<Code> {
  constructor(
    noun: FollowedFlow['noun'],
    readonly executionArn: string,
    readonly status: string,
    readonly executionError: string | undefined,
    readonly executionCause: string | undefined,
    after = '',
  ) {
    super(
      `the ${noun} ${status}${executionError ? `: ${executionError}` : ''}${executionCause ? ` — ${executionCause}` : ''} (${executionArn})${after}`,
    );
  }
  protected override details() {
    return {
      executionArn: this.executionArn,
      status: this.status,
      error: this.executionError,
      cause: this.executionCause,
    };
  }
}

const TERMINAL = new Set(['ExecutionSucceeded', 'ExecutionFailed', 'ExecutionTimedOut', 'ExecutionAborted']);

/** Prints the execution's history until it ends, then its result; returns how it ended. */
export async function follow(
  deps: FollowDeps,
  executionArn: string,
  flow: FollowedFlow,
): Promise<FollowResult> {
  const entered = new Map<string, number>();
  const alerts: string[] = [];
  let askedApproval = false;
  let nextToken: string | undefined;
  for (;;) {
    let done = false;
    // Read every page that exists now; then wait and continue from the last token.
    for (;;) {
      const page = await deps.sfn.send(
        new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 200 }),
      );
      for (const event of page.events ?? []) {
        const alert = describe(event, entered, flow.noun, deps.print);
        if (alert && !alerts.includes(alert)) alerts.push(alert);
        if (TERMINAL.has(event.type ?? '')) done = true;
        // Once: a retried request to the approval function does not enter the state again, and there is one gate.
        const gate = enteredState(event);
        if (!askedApproval && gate && isGate(gate)) {
          askedApproval = true;
          for (const line of await approvalCommands(deps.sfn, executionArn, deps.lockTable, gate))
            deps.print(line);
        }
      }
      if (!page.nextToken) break;
      nextToken = page.nextToken;
    }
    if (done) break;
    await deps.sleep(deps.pollMs);
  }
  const execution = await deps.sfn.send(new DescribeExecutionCommand({ executionArn }));
  const status = execution.status as ExecutionStatus;
  // The record's key, as the state machine writes it: `$$.Execution.StartTime#$$.Execution.Name`.
  const recordKey = execution.startDate
    ? `${execution.startDate.toISOString()}#${executionArn.split(':').at(-1)}`
    : undefined;
  if (status === 'SUCCEEDED') deps.print(`${flow.noun} succeeded`);
  deps.print(
    `record: ${recordKey ?? '(no start time)'} (lockstep releases show ${flow.label} --table ${flow.recordsTable ?? '<ReleaseRecordsTable>'})`,
  );
  for (const alert of alerts) deps.print(`\nALERT\n${alert}\n`);
  return {
    executionArn,
    status,
    ...(execution.error ? { error: execution.error } : {}),
    ...(execution.cause ? { cause: execution.cause } : {}),
    ...(recordKey ? { recordKey } : {}),
  };
}

const enteredState = (event: HistoryEvent): string | undefined =>
  event.type?.endsWith('StateEntered') ? event.stateEnteredEventDetails?.name : undefined;

/**
 * The states whose output carries an alert the flow sent, in `$.alert`: `Format alert` (the failure alert, the same
 * name in the release and the rollback state machines) and the `Alert: …` states that build one themselves (a record
 * that could not be written); the other `Alert: <step>` states only describe the failure, in `$.failure`.
 */
const carriesAlert = (state: string): boolean => state === STATE.formatAlert || state.startsWith('Alert:');

/** One line per state entered and left; returns the alert's text when a state that carries one exits. */
function describe(
  event: HistoryEvent,
  entered: Map<string, number>,
  noun: FollowedFlow['noun'],
  print: (line: string) => void,
): string | undefined {
  const at = event.timestamp?.getTime() ?? 0;
  const name = enteredState(event);
  if (name) {
    entered.set(name, at);
    print(`→ ${name}`);
  } else if (event.type?.endsWith('StateExited') && event.stateExitedEventDetails?.name) {
    const exited = event.stateExitedEventDetails.name;
    const since = entered.get(exited);
    print(`✓ ${exited}${since !== undefined ? ` (${((at - since) / 1000).toFixed(1)} s)` : ''}`);
    if (carriesAlert(exited)) return alertOf(event.stateExitedEventDetails.output);
  } else if (event.type === 'TaskFailed' || event.type === 'LambdaFunctionFailed') {
    const details = event.taskFailedEventDetails ?? event.lambdaFunctionFailedEventDetails;
    print(`✗ ${details?.error ?? 'failed'}: ${details?.cause ?? ''}`.slice(0, 500));
  } else if (
    event.type === 'ExecutionFailed' ||
    event.type === 'ExecutionTimedOut' ||
    event.type === 'ExecutionAborted'
  ) {
    print(`${noun} ${event.type.replace('Execution', '').toLowerCase()}`);
  }
  return undefined;
}

function alertOf(output: string | undefined): string | undefined {
  try {
    const message = (JSON.parse(output ?? '{}') as { alert?: { message?: unknown } }).alert?.message;
    return typeof message === 'string' ? message : undefined;
  } catch {
    return undefined;
  }
}
