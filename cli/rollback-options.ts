/** The options of `lockstep rollback` (./commands/rollback.ts), parsed without loading it. */
import type { Command } from 'commander';

export interface RawRollbackOptions {
  readonly to?: string;
  readonly restoreDatabase?: boolean;
  readonly dryRun?: boolean;
  readonly local?: boolean;
  readonly dir?: string;
  readonly database?: string;
  readonly reason?: string;
  readonly table?: string;
  readonly stateMachine?: string;
  readonly follow?: boolean;
  readonly json?: boolean;
}

export function addRollbackOptions(command: Command): Command {
  return command
    .requiredOption('--to <release>', 'the release to run again (its label, or record key)')
    .option(
      '--restore-database',
      'restore the snapshot when the decision needs it (data written since it is lost); restore even when an image would do',
    )
    .option('--dry-run', 'print the decision and the steps, change nothing')
    .option('--local', 'the rehearsal’s: the embedded database and the local service (.lockstep/)')
    .option(
      '--dir <path>',
      'the migrations, to classify what ran since (checked against the records’ checksums)',
      './migrations',
    )
    .option('--database <id>', 'the database whose releases these are (default: the target record’s)')
    .option('--reason <text>', 'why, kept in the rollback’s record')
    .option(
      '--table <name>',
      'the records table (stack output ReleaseRecordsTable; or LOCKSTEP_RECORDS_TABLE)',
    )
    .option(
      '--state-machine <arn>',
      'the rollback state machine (stack output RollbackStateMachineArn; or LOCKSTEP_ROLLBACK_STATE_MACHINE)',
    )
    .option('--follow', 'print each state as the rollback runs; exit with its result')
    .option('--json', 'print one JSON document');
}
