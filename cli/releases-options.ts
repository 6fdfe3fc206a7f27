/** The options of `lockstep releases` and `releases show` (./commands/releases.ts), parsed without loading it. */
import type { Command } from 'commander';

export interface RawReleasesOptions {
  readonly local?: boolean;
  readonly table?: string;
  readonly database?: string;
  readonly limit?: string;
  readonly json?: boolean;
}

/** The options both `releases` and `releases show` take. */
export function addReleasesOptions(command: Command, list: boolean): Command {
  command
    .option('--local', 'the local rehearsal’s records (.lockstep/releases/)')
    .option(
      '--table <name>',
      'the records table (stack output ReleaseRecordsTable; or LOCKSTEP_RECORDS_TABLE)',
    );
  if (list)
    command
      .option('--database <id>', 'only this database’s releases (default: every database’s)')
      .option('--limit <n>', 'at most this many, newest first', '20');
  return command.option('--json', 'print one JSON document');
}
