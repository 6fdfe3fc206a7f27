/**
 * `lockstep rollback --to <release>`: read the records, classify what ran since from `--dir`, decide
 * (./rollback-plan.ts), and on AWS start the rollback state machine with the contract input
 * (functions/shared/rollback-input.ts), following it as `lockstep start --follow` does (./follow.ts). The rehearsal's rollback is
 * rehearsal/rollback.ts.
 */
import { resolve } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type ExecutionStatus, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { InvalidInputError } from '../engine/errors.ts';
import { classifyMigration } from '../engine/lint/compatibility.ts';
import { loadMigrations } from '../engine/migration-files.ts';
import { parseRollbackInput, type RollbackInput } from '../functions/shared/rollback-input.ts';
import { ExecutionFailedError, type FollowDeps, follow } from './follow.ts';
import { findRecord, listRecords } from './release-records.ts';
import type { RawRollbackOptions } from './rollback-options.ts';
import {
  type KnownFile,
  planRollback,
  RestoreRequiredError,
  RestoreUnavailableError,
  type RollbackPlan,
} from './rollback-plan.ts';
import { checkStateMachineArn, consoleUrl, executionName } from './start.ts';

/** How many records back a rollback looks: the target must be among this database's newest. */
const RECORDS_READ = 1000;

/** The plan from the records in `table` and the files in `--dir` (classified only when a record names them). */
export async function decideRollback(
  records: { readonly client: DynamoDBClient; readonly table: string },
  raw: RawRollbackOptions,
  cwd: string,
): Promise<RollbackPlan> {
  const to = raw.to ?? '';
  if (!to)
    throw new InvalidInputError('--to', 'name the release to roll back to (lockstep releases lists them)');
  const database = raw.database ?? (await findRecord(records.client, records.table, to)).database;
  const list = await listRecords(records.client, records.table, { database, limit: RECORDS_READ });
  const named = new Set(list.flatMap((r) => r.migrations?.migrations.map((m) => m.file) ?? []));
  const files = named.size > 0 ? await knownFiles(resolve(cwd, raw.dir ?? 'migrations'), named) : new Map();
  return planRollback(list, to, files, raw.restoreDatabase === true);
}

/** `--dir`'s files that the records name, with their checksums and classification. */
async function knownFiles(dir: string, named: ReadonlySet<string>): Promise<Map<string, KnownFile>> {
  const known = new Map<string, KnownFile>();
  for (const f of await loadMigrations(dir))
    if (named.has(f.file))
      known.set(f.file, { checksum: f.checksum, compatibility: await classifyMigration(f) });
  return known;
}

/** The refusal, when the plan cannot go ahead as asked; nothing has changed yet. */
export function refusal(plan: RollbackPlan, raw: RawRollbackOptions): Error | undefined {
  if (plan.kind !== 'restore') return undefined;
  if (!plan.restore)
    return raw.restoreDatabase ? new RestoreUnavailableError(plan) : new RestoreRequiredError(plan);
  return raw.restoreDatabase ? undefined : new RestoreRequiredError(plan);
}

/** `rollback-to-<release>`, as long as a release label may be. */
export const rollbackLabel = (release: string): string => `rollback-to-${release}`.slice(0, 128);

/** The rollback state machine's input for the plan, validated as the flow validates it. */
export function rollbackInput(
  plan: RollbackPlan,
  requestedBy: string,
  reason: string | undefined,
): RollbackInput {
  return parseRollbackInput({
    rollback: rollbackLabel(plan.target.release),
    to: plan.to,
    restore: plan.restore
      ? { snapshotId: plan.restore.snapshotId, snapshotCreatedAt: plan.restore.snapshotCreatedAt }
      : null,
    requestedBy,
    reason: reason?.trim() || `rollback to ${plan.target.release} (no reason given)`,
  });
}

/** The rollback execution ended FAILED, TIMED_OUT or ABORTED (its error and the alert are printed). */
export class RollbackFailedError extends ExecutionFailedError<'ROLLBACK_FAILED'> {
  override readonly name = 'RollbackFailedError';
  readonly code = 'ROLLBACK_FAILED';
  constructor(executionArn: string, status: string, error: string | undefined, cause: string | undefined) {
    super(
      'rollback',
      executionArn,
      status,
      error,
      cause,
      '; the alert above says what state the database and the service are in',
    );
  }
}

export interface RollbackStartDeps extends FollowDeps {
  readonly now: () => Date;
}

export interface RollbackStarted {
  readonly executionArn: string;
  readonly name: string;
  readonly consoleUrl: string;
  readonly status?: ExecutionStatus;
}

/** Starts the rollback state machine (a new execution name each time: a rollback may be repeated); follows it. */
export async function startRollback(
  deps: RollbackStartDeps,
  stateMachine: string | undefined,
  input: RollbackInput,
  options: { readonly follow?: boolean | undefined; readonly recordsTable?: string | undefined },
): Promise<RollbackStarted> {
  const stateMachineArn = checkStateMachineArn(stateMachine);
  const stamp = deps.now().toISOString().replace(/\D/g, '').slice(0, 14);
  const name = executionName(`${input.rollback.slice(0, 64)}-${stamp}`);
  const started = await deps.sfn.send(
    new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }),
  );
  const executionArn = started.executionArn as string;
  const url = consoleUrl(executionArn);
  deps.print(`started ${name}: ${executionArn}`);
  deps.print(`console: ${url}`);
  if (!options.follow) return { executionArn, name, consoleUrl: url };
  const ended = await follow(deps, executionArn, {
    noun: 'rollback',
    label: input.rollback,
    recordsTable: options.recordsTable,
  });
  if (ended.status !== 'SUCCEEDED')
    throw new RollbackFailedError(executionArn, ended.status, ended.error, ended.cause);
  return { executionArn, name, consoleUrl: url, status: ended.status };
}
