import type { Command } from 'commander';

export interface RawPublishOptions {
  readonly dir?: string;
  readonly bucket?: string;
  readonly prefix?: string;
  readonly release?: string;
  readonly json?: boolean;
}

export function addPublishOptions(command: Command): Command {
  return command
    .option('--dir <path>', 'migrations directory', './migrations')
    .requiredOption('--bucket <name>', 'S3 bucket the stack reads migrations from')
    .option('--prefix <prefix>', 'key prefix inside the bucket', '')
    .requiredOption(
      '--release <label>',
      'release label: the tag, commit or pipeline id the release will carry',
    )
    .option('--json', 'print one JSON document');
}
