/**
 * `lockstep start`: start a release on AWS and, with --follow, print each state as it is entered and left,
 * ending with the execution's result — and, on failure, the alert: which step, what error, which snapshot.
 */
import {
  DescribeExecutionCommand,
  type ExecutionStatus,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { InvalidInputError, LockstepError } from '../engine/errors.ts';
import { parseReleaseInput, type ReleaseInput } from '../functions/shared/release-input.ts';
import type { RawStartOptions } from './start-options.ts';

/** The release ended FAILED, TIMED_OUT or ABORTED (its execution's error and the alert are printed). */
export class ReleaseFailedError extends LockstepError<'RELEASE_FAILED'> {
  override readonly name = 'ReleaseFailedError';
  readonly code = 'RELEASE_FAILED';
  constructor(
    readonly executionArn: string,
    readonly status: string,
    readonly executionError: string | undefined,
    readonly executionCause: string | undefined,
  ) {
    super(
      `the release ${status}${executionError ? `: ${executionError}` : ''}${executionCause ? ` — ${executionCause}` : ''} (${executionArn})`,
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

export interface StartDeps {
  readonly sfn: SFNClient;
  readonly print: (line: string) => void;
  readonly sleep: (ms: number) => Promise<void>;
  /** How often --follow reads the history. */
  readonly pollMs: number;
}

export interface StartResult {
  readonly executionArn: string;
  readonly name: string;
  readonly input: ReleaseInput;
  readonly consoleUrl: string;
  /** Only with --follow. */
  readonly status?: ExecutionStatus;
  readonly alert?: string;
}

/** Step Functions execution names: 1–80 characters, no whitespace or `<>{}[]?*"#%\^|~`$&,;:/`. */
export function executionName(release: string): string {
  return release.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 80);
}

export function consoleUrl(executionArn: string): string {
  const region = executionArn.split(':')[3] ?? 'us-east-1';
  return `https://${region}.console.aws.amazon.com/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

/** A Step Functions state machine's ARN, as `--state-machine` must give it. */
export function checkStateMachineArn(value: string | undefined): string {
  const arn = value ?? '';
  if (!/^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$/.test(arn))
    throw new InvalidInputError('--state-machine', 'must be a Step Functions state machine ARN');
  return arn;
}

export async function startRelease(deps: StartDeps, raw: RawStartOptions): Promise<StartResult> {
  const stateMachineArn = checkStateMachineArn(raw.stateMachine);
  const rawInput: Record<string, unknown> = { image: raw.image };
  if (raw.release !== undefined) rawInput.release = raw.release;
  if (raw.migrations !== undefined) rawInput.migrations = raw.migrations;
  if (raw.skipSnapshot || raw.dryRun)
    rawInput.options = { skipSnapshot: !!raw.skipSnapshot, dryRun: !!raw.dryRun };
  // Validated here with the same rules as preflight, so a typo fails in a second, not in an execution.
  const input = parseReleaseInput(rawInput, { migrations: 'bundled' });
  const name = executionName(input.release);
  let executionArn: string;
  try {
    const started = await deps.sfn.send(
      new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(rawInput) }),
    );
    executionArn = started.executionArn as string;
  } catch (err) {
    if ((err as { name?: string }).name === 'ExecutionAlreadyExists') {
      throw new InvalidInputError(
        '--release',
        `release "${input.release}" was already started on this state machine (execution name ${name}); give a new release label to release again`,
      );
    }
    throw err;
  }
  const url = consoleUrl(executionArn);
  deps.print(`started ${name}: ${executionArn}`);
  deps.print(`console: ${url}`);
  if (!raw.follow) return { executionArn, name, input, consoleUrl: url };
  return { ...(await follow(deps, executionArn, input.release)), name, input, consoleUrl: url };
}

const TERMINAL = new Set(['ExecutionSucceeded', 'ExecutionFailed', 'ExecutionTimedOut', 'ExecutionAborted']);

/** Prints the execution's history as it grows, until it ends; throws {@link ReleaseFailedError} unless it succeeded. */
export async function follow(
  deps: StartDeps,
  executionArn: string,
  release: string,
): Promise<{ executionArn: string; status: ExecutionStatus; alert?: string; recordKey?: string }> {
  const entered = new Map<string, number>();
  let alert: string | undefined;
  let nextToken: string | undefined;
  for (;;) {
    let done = false;
    // Read every page that exists now; then wait and continue from the last token.
    for (;;) {
      const page = await deps.sfn.send(
        new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 200 }),
      );
      for (const event of page.events ?? []) {
        alert = describe(event, entered, deps.print) ?? alert;
        if (TERMINAL.has(event.type ?? '')) done = true;
      }
      if (!page.nextToken) break;
      nextToken = page.nextToken;
    }
    if (done) break;
    await deps.sleep(deps.pollMs);
  }
  const execution = await deps.sfn.send(new DescribeExecutionCommand({ executionArn }));
  const status = execution.status as ExecutionStatus;
  // The release record's key, as the state machine writes it: `$$.Execution.StartTime#$$.Execution.Name`.
  const recordKey = execution.startDate
    ? `${execution.startDate.toISOString()}#${executionArn.split(':').at(-1)}`
    : undefined;
  const record = `record: ${recordKey ?? '(no start time)'} (lockstep releases show ${release} --table <ReleaseRecordsTable>)`;
  if (status === 'SUCCEEDED') {
    deps.print('release succeeded');
    deps.print(record);
    return { executionArn, status, ...(recordKey ? { recordKey } : {}) };
  }
  deps.print(record);
  if (alert) deps.print(`\nALERT\n${alert}\n`);
  throw new ReleaseFailedError(executionArn, status, execution.error, execution.cause);
}

/** One line per state entered and left; returns the alert's text when an alert state exits. */
function describe(
  event: HistoryEvent,
  entered: Map<string, number>,
  print: (line: string) => void,
): string | undefined {
  const at = event.timestamp?.getTime() ?? 0;
  if (event.type?.endsWith('StateEntered') && event.stateEnteredEventDetails?.name) {
    entered.set(event.stateEnteredEventDetails.name, at);
    print(`→ ${event.stateEnteredEventDetails.name}`);
  } else if (event.type?.endsWith('StateExited') && event.stateExitedEventDetails?.name) {
    const name = event.stateExitedEventDetails.name;
    const since = entered.get(name);
    print(`✓ ${name}${since !== undefined ? ` (${((at - since) / 1000).toFixed(1)} s)` : ''}`);
    if (name.startsWith('Alert:')) {
      try {
        const output = JSON.parse(event.stateExitedEventDetails.output ?? '{}') as {
          alert?: { message?: string };
        };
        return output.alert?.message;
      } catch {
        return undefined;
      }
    }
  } else if (event.type === 'TaskFailed' || event.type === 'LambdaFunctionFailed') {
    const details = event.taskFailedEventDetails ?? event.lambdaFunctionFailedEventDetails;
    print(`✗ ${details?.error ?? 'failed'}: ${details?.cause ?? ''}`.slice(0, 500));
  } else if (
    event.type === 'ExecutionFailed' ||
    event.type === 'ExecutionTimedOut' ||
    event.type === 'ExecutionAborted'
  ) {
    print(`release ${event.type.replace('Execution', '').toLowerCase()}`);
  }
  return undefined;
}
