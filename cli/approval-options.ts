/** The options of `lockstep approve` and `lockstep reject` (./commands/approve.ts, ./commands/reject.ts), parsed without loading them. */
import type { Command } from 'commander';

export interface RawApprovalOptions {
  readonly lockTable?: string;
  readonly reason?: string;
  readonly json?: boolean;
}

export function addApprovalOptions(command: Command, reject: boolean): Command {
  command
    .argument('<execution>', 'the waiting execution’s ARN, as the approval notification names it')
    .option(
      '--lock-table <name>',
      'the release-lock table, where the waiting release keeps its task token (stack output ReleaseLockTable; or LOCKSTEP_LOCK_TABLE)',
    );
  if (reject)
    command.requiredOption(
      '--reason <text>',
      'why: it goes into the alert, the execution and the release record',
    );
  return command.option('--json', 'print one JSON document');
}
