/**
 * `lockstep start`: start a release on AWS and, with --follow, print each state as it is entered and left (./follow.ts),
 * ending with the execution's result — and, on failure, the alert: which step, what error, which snapshot.
 */
import { type ExecutionStatus, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { InvalidInputError } from '../engine/errors.ts';
import { consoleLink } from '../functions/shared/console-link.ts';
import { parseReleaseInput, type ReleaseInput } from '../functions/shared/release-input.ts';
import { ExecutionFailedError, type FollowDeps, follow } from './follow.ts';
import type { RawStartOptions } from './start-options.ts';

/** The release ended FAILED, TIMED_OUT or ABORTED (its execution's error and the alert are printed). */
export class ReleaseFailedError extends ExecutionFailedError<'RELEASE_FAILED'> {
  override readonly name = 'ReleaseFailedError';
  readonly code = 'RELEASE_FAILED';
  constructor(executionArn: string, status: string, error: string | undefined, cause: string | undefined) {
    super('release', executionArn, status, error, cause);
  }
}

export type StartDeps = FollowDeps;

export interface StartResult {
  readonly executionArn: string;
  readonly name: string;
  readonly input: ReleaseInput;
  readonly consoleUrl: string;
  /** Only with --follow. */
  readonly status?: ExecutionStatus;
  readonly recordKey?: string;
}

/** Step Functions execution names: 1–80 characters, no whitespace or `<>{}[]?*"#%\^|~`$&,;:/`. */
export function executionName(release: string): string {
  return release.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 80);
}

/** The execution's page in the console of its partition (`arn:<partition>:states:<region>:…`). */
export function consoleUrl(executionArn: string): string {
  const [, partition = 'aws', , region = 'us-east-1'] = executionArn.split(':');
  return `${consoleLink(partition, region, '/states/home')}#/v2/executions/details/${executionArn}`;
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
  const ended = await follow(deps, executionArn, { noun: 'release', label: input.release });
  if (ended.status !== 'SUCCEEDED')
    throw new ReleaseFailedError(executionArn, ended.status, ended.error, ended.cause);
  return {
    executionArn,
    name,
    input,
    consoleUrl: url,
    status: ended.status,
    ...(ended.recordKey ? { recordKey: ended.recordKey } : {}),
  };
}
