import type { Command } from 'commander';

export interface RawStartOptions {
  readonly stateMachine?: string;
  readonly image?: string;
  readonly release?: string;
  readonly migrations?: string;
  readonly skipSnapshot?: boolean;
  readonly dryRun?: boolean;
  readonly follow?: boolean;
  readonly json?: boolean;
}

export function addStartOptions(command: Command): Command {
  return command
    .requiredOption('--state-machine <arn>', 'the release state machine’s ARN (stack output)')
    .requiredOption('--image <uri>', 'the image to release, with a tag or digest')
    .option(
      '--release <label>',
      'release label; also the execution name, so a release starts once (default: the image tag)',
    )
    .option('--migrations <source>', 'bundled or s3 (default: the stack’s)')
    .option('--skip-snapshot', 'migrate without taking a snapshot first')
    .option('--dry-run', 'plan only: change nothing, deploy nothing')
    .option('--follow', 'print each state as the release runs; exit with its result')
    .option('--json', 'print one JSON document');
}
