/** `lockstep adopt`'s flags, apart from its code (./commands/adopt.ts), which is loaded only when it runs. */
import type { Command } from 'commander';
import { ADOPTABLE_TOOLS } from '../engine/foreign-history.ts';
import { DEFAULTS, type RawOptions } from './options.ts';

export interface RawAdoptOptions extends RawOptions {
  readonly from?: string;
  readonly table?: string;
  readonly dryRun?: boolean;
}

export function addAdoptOptions(command: Command): Command {
  return command
    .requiredOption('--from <tool>', `the tool whose history to take over: ${ADOPTABLE_TOOLS.join(', ')}`)
    .option('--dry-run', 'check and report what would be adopted; write nothing')
    .option('--table <name>', "the tool's history table, name or schema.name (default: the tool's own name)")
    .option('--dir <path>', "migrations directory, read in the tool's layout", DEFAULTS.dir)
    .option('--database-url <url>', 'postgres:// URL (env: DATABASE_URL); default: the embedded PostgreSQL')
    .option('--release <label>', 'who adopts, recorded in applied_by (default: "cli@<hostname>")')
    .option('--history-table <schema.table>', "lockstep's history table", DEFAULTS.historyTable)
    .option('--lock-wait <seconds>', "how long to wait for a migration run's lock", DEFAULTS.lockWaitSeconds)
    .option('--json', 'print one JSON document');
}
