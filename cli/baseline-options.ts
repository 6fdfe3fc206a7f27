/** `lockstep baseline`'s flags, apart from its code (./commands/baseline.ts), which is loaded only when it runs. */
import type { Command } from 'commander';
import { DEFAULTS, type RawOptions } from './options.ts';

export interface RawBaselineOptions extends RawOptions {
  readonly version?: string;
  readonly yes?: boolean;
  readonly dryRun?: boolean;
}

export function addBaselineOptions(command: Command): Command {
  return command
    .requiredOption('--version <version>', 'record every migration up to and including this one as applied')
    .requiredOption(
      '--reason <text>',
      'why (the database was built without a tool, restored from a dump…); recorded',
    )
    .option('--yes', 'confirm without a prompt (CI, scripts): the migrations are recorded, never run')
    .option('--dry-run', 'check and report what would be recorded; write nothing')
    .option('--dir <path>', 'migrations directory', DEFAULTS.dir)
    .option('--database-url <url>', 'postgres:// URL (env: DATABASE_URL); default: the embedded PostgreSQL')
    .option('--release <label>', 'who baselines, recorded in applied_by (default: "cli@<hostname>")')
    .option('--history-table <schema.table>', "lockstep's history table", DEFAULTS.historyTable)
    .option('--lock-wait <seconds>', "how long to wait for a migration run's lock", DEFAULTS.lockWaitSeconds)
    .option('--json', 'print one JSON document');
}
