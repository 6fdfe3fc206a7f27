/** `lockstep new <description>`: writes the next migration file into `--dir` (created if missing). */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { InvalidInputError } from '../../engine/errors.ts';
import { newMigration } from '../../engine/new-migration.ts';
import { type Outcome, outcomeOf, succeeded } from '../report.ts';

export interface RawNewOptions {
  readonly dir: string;
  readonly noTransaction?: boolean;
  readonly afterDeploy?: boolean;
  readonly sequence?: boolean;
  readonly timestamp?: boolean;
  readonly json?: boolean;
}

export function run(
  description: string,
  raw: RawNewOptions,
  deps: { cwd: string; now: () => Date },
): Promise<Outcome> {
  return outcomeOf(async () => {
    if (raw.sequence && raw.timestamp)
      throw new InvalidInputError('--sequence', 'cannot be combined with --timestamp');
    const dir = resolve(deps.cwd, raw.dir);
    const existing = existsSync(dir) ? readdirSync(dir) : [];
    const next = newMigration(description, {
      existing,
      now: deps.now(),
      noTransaction: raw.noTransaction ?? false,
      afterDeploy: raw.afterDeploy ?? false,
      ...(raw.sequence
        ? { numbering: 'sequence' as const }
        : raw.timestamp
          ? { numbering: 'timestamp' as const }
          : {}),
    });
    mkdirSync(dir, { recursive: true });
    const path = join(dir, next.file);
    // `wx`: never overwrite, even if a file of that name appeared since the directory was read.
    writeFileSync(path, next.content, { flag: 'wx' });
    return succeeded(relative(deps.cwd, path) || path, { file: path, version: next.version });
  });
}
