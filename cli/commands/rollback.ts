/**
 * `lockstep rollback --to <release> [--restore-database] [--dry-run] [--local]`: the decision and its steps are
 * printed before anything is done (./../rollback-plan.ts); `--dry-run` stops there; a restore without
 * `--restore-database` is refused. Then, on AWS, the rollback state machine is started (../rollback.ts); with
 * `--local`, the rehearsal's rollback runs (rehearsal/rollback.ts).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { InvalidInputError } from '../../engine/errors.ts';
import { localRecordsTable } from '../../rehearsal/stand-ins/records.ts';
import type { Output } from '../output.ts';
import { type Outcome, outcomeOf, succeeded } from '../report.ts';
import { decideRollback, refusal, rollbackInput, startRollback } from '../rollback.ts';
import type { RawRollbackOptions } from '../rollback-options.ts';
import { formatPlan } from '../rollback-plan.ts';
import { checkStateMachineArn } from '../start.ts';
import { loadRehearsal } from './rehearsal.ts';

export interface RollbackDeps {
  readonly output: Output;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly now: () => Date;
  /** AWS clients, made only on AWS. */
  readonly dynamodb: () => DynamoDBClient;
  readonly sfn: () => SFNClient;
  /** The caller's identity ARN (STS GetCallerIdentity), for the rollback's `requestedBy`. */
  readonly callerArn: () => Promise<string>;
  /** How often `--follow` reads the history. @default 2000 */
  readonly pollMs?: number;
}

export function run(raw: RawRollbackOptions, deps: RollbackDeps): Promise<Outcome> {
  return outcomeOf(async () => {
    // Checked before anything is read or asked (a dry run starts nothing and needs none).
    const stateMachine =
      raw.local || raw.dryRun
        ? undefined
        : checkStateMachineArn(raw.stateMachine ?? deps.env.LOCKSTEP_ROLLBACK_STATE_MACHINE);
    const records = recordsSource(raw, deps);
    let plan: Awaited<ReturnType<typeof decideRollback>>;
    try {
      plan = await decideRollback(records, raw, deps.cwd);
    } finally {
      records.client.destroy();
    }
    const text = formatPlan(plan, raw.local ? 'local' : 'aws');
    const summary = {
      plan: {
        kind: plan.kind,
        to: plan.to,
        restore: plan.restore ?? null,
        since: plan.since.map((s) => ({
          release: s.record.release,
          outcome: s.record.outcome,
          migrations: s.migrations,
        })),
      },
    };
    if (raw.dryRun) return succeeded(`${text}\n\n(dry run: nothing was changed)`, summary);
    deps.output.note(text);
    deps.output.note('');
    const refused = refusal(plan, raw);
    if (refused) throw refused;
    if (raw.local) {
      const input = rollbackInput(plan, `local:${deps.env.USER ?? 'unknown'}`, raw.reason);
      const rehearsal = await loadRehearsal();
      const result = await rehearsal.rollbackLocal({
        cwd: deps.cwd,
        database: plan.database,
        input,
        print: (line) => deps.output.note(line),
        now: deps.now,
      });
      return succeeded(`rolled back to ${plan.target.release}`, { ...summary, input, result });
    }
    const input = rollbackInput(plan, await deps.callerArn(), raw.reason);
    const sfn = deps.sfn();
    try {
      const started = await startRollback(
        {
          sfn,
          print: (line) => deps.output.note(line),
          sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
          pollMs: deps.pollMs ?? 2000,
          now: deps.now,
          lockTable: deps.env.LOCKSTEP_LOCK_TABLE,
        },
        stateMachine,
        input,
        { follow: raw.follow, recordsTable: raw.table ?? deps.env.LOCKSTEP_RECORDS_TABLE },
      );
      return succeeded(
        raw.follow ? `rolled back to ${plan.target.release}` : `rollback to ${plan.target.release} started`,
        { ...summary, input, ...started },
      );
    } finally {
      sfn.destroy();
    }
  });
}

/** The records: the rehearsal's with `--local`, else the AWS table named by `--table` or LOCKSTEP_RECORDS_TABLE. */
function recordsSource(
  raw: RawRollbackOptions,
  deps: RollbackDeps,
): { client: DynamoDBClient; table: string } {
  if (raw.local) {
    for (const [option, given] of [
      ['--table', raw.table],
      ['--state-machine', raw.stateMachine],
    ] as const)
      if (given) throw new InvalidInputError(option, 'cannot be given with --local');
    const local = localRecordsTable(deps.cwd);
    return { client: local.client(), table: local.tableName };
  }
  const table = raw.table ?? deps.env.LOCKSTEP_RECORDS_TABLE;
  if (!table)
    throw new InvalidInputError(
      '--table',
      'name the release-records table (the stack output ReleaseRecordsTable), set LOCKSTEP_RECORDS_TABLE, or use --local',
    );
  return { client: deps.dynamodb(), table };
}

/** The AWS side, from the environment's region and credentials. */
export const awsClients = {
  dynamodb: () => new DynamoDBClient({}),
  sfn: () => new SFNClient({}),
  callerArn: async () => {
    const sts = new STSClient({});
    try {
      const { Arn } = await sts.send(new GetCallerIdentityCommand({}));
      if (!Arn) throw new Error('STS GetCallerIdentity returned no ARN');
      return Arn;
    } finally {
      sts.destroy();
    }
  },
};
