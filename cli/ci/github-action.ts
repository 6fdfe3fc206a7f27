/**
 * The GitHub Action's step (action.yml at the repository root runs the bundle of this file, dist/github-action.cjs,
 * beside dist/cli.cjs). It runs one `lockstep` command with `--json`, then turns the document into a job summary,
 * annotations at file:line and step outputs, and exits with the command's exit code, so the step fails exactly when
 * the command does. Inputs come as `INPUT_*` variables (action.yml passes them; a composite action's steps do not
 * get them by themselves).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { join, resolve } from 'node:path';
import { commandWords } from '../../infra/command-words.ts';
import { repositoryPath } from './files.ts';
import { appendOutputs, appendSummary, workflowCommand } from './github.ts';
import { ciReport } from './report.ts';

/** The commands the action runs: the ones whose document it knows how to report. */
const COMMANDS = ['plan', 'migrate', 'status', 'lint'] as const;
type ActionCommand = (typeof COMMANDS)[number];

export interface ActionInputs {
  readonly command: ActionCommand;
  readonly dir: string;
  readonly databaseUrl: string | undefined;
  readonly release: string | undefined;
  readonly historyTable: string | undefined;
  readonly args: readonly string[];
  readonly workingDirectory: string;
}

/** A bad input, reported as an `::error::` before anything runs. */
export class ActionInputError extends Error {
  override readonly name = 'ActionInputError';
}

const input = (env: NodeJS.ProcessEnv, name: string): string | undefined => {
  const value = env[`INPUT_${name}`]?.trim();
  return value ? value : undefined;
};

export function readInputs(env: NodeJS.ProcessEnv): ActionInputs {
  const command = input(env, 'COMMAND') ?? '';
  if (!(COMMANDS as readonly string[]).includes(command))
    throw new ActionInputError(`input command: must be one of ${COMMANDS.join(', ')}; got "${command}"`);
  const extra = input(env, 'ARGS');
  let args: string[] = [];
  try {
    args = extra ? commandWords(extra, 'input args') : [];
  } catch (err) {
    throw new ActionInputError((err as Error).message);
  }
  if (args.includes('--database-url'))
    throw new ActionInputError(
      'input args: pass the URL as the database-url input (from a secret), not in args',
    );
  return {
    command: command as ActionCommand,
    dir: input(env, 'DIR') ?? 'migrations',
    databaseUrl: input(env, 'DATABASE_URL'),
    release: input(env, 'RELEASE'),
    historyTable: input(env, 'HISTORY_TABLE'),
    args,
    workingDirectory: input(env, 'WORKING_DIRECTORY') ?? '.',
  };
}

/** The `lockstep` arguments for these inputs; the database URL goes in the environment, never on a command line. */
export function lockstepArguments(inputs: ActionInputs): string[] {
  return [
    inputs.command,
    '--json',
    '--dir',
    inputs.dir,
    // `lint` records nothing, so it takes no release label.
    ...(inputs.release && inputs.command !== 'lint' ? ['--release', inputs.release] : []),
    ...(inputs.historyTable ? ['--history-table', inputs.historyTable] : []),
    ...inputs.args,
  ];
}

function runLockstep(cli: string, args: string[], cwd: string, env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number; stdout: string }>((done, fail) => {
    // stderr (progress, notices) goes straight to the job log; stdout is the JSON document.
    const child = spawn(process.execPath, [cli, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.on('error', fail);
    child.on('close', (code, signal) =>
      done({ code: code ?? 128 + (signal ? constants.signals[signal] : 0), stdout }),
    );
  });
}

/** Runs the step; returns its exit code. */
export async function runAction(
  env: NodeJS.ProcessEnv,
  write: (line: string) => void,
  cli: string,
): Promise<number> {
  let inputs: ActionInputs;
  try {
    inputs = readInputs(env);
  } catch (err) {
    write(`::error title=lockstep action::${(err as Error).message}`);
    return 2;
  }
  const cwd = resolve(env.GITHUB_WORKSPACE ?? process.cwd(), inputs.workingDirectory);
  const childEnv: NodeJS.ProcessEnv = { ...env };
  for (const name of Object.keys(childEnv)) if (name.startsWith('INPUT_')) delete childEnv[name];
  if (inputs.databaseUrl) childEnv.DATABASE_URL = inputs.databaseUrl;
  const { code, stdout } = await runLockstep(cli, lockstepArguments(inputs), cwd, childEnv);

  let document: unknown;
  try {
    document = JSON.parse(stdout);
  } catch {
    write(`::error title=lockstep action::lockstep ${inputs.command} exited ${code} without a JSON result`);
    return code === 0 ? 1 : code;
  }
  const report = ciReport(document);
  const path = repositoryPath({ cwd, dir: inputs.dir, root: env.GITHUB_WORKSPACE ?? process.cwd() });
  for (const annotation of report.annotations) write(workflowCommand(annotation, path));
  if (env.GITHUB_STEP_SUMMARY) appendSummary(env.GITHUB_STEP_SUMMARY, report.summary);
  else write(report.summary);
  if (env.GITHUB_OUTPUT) appendOutputs(env.GITHUB_OUTPUT, report.outputs);
  return code;
}

declare const LOCKSTEP_BUNDLED: boolean | undefined;

if (typeof LOCKSTEP_BUNDLED !== 'undefined') {
  const cli = join(__dirname, 'cli.cjs');
  if (!existsSync(cli)) {
    process.stdout.write(
      `::error title=lockstep action::${cli} is missing: the action's install step did not build it\n`,
    );
    process.exitCode = 1;
  } else {
    runAction(process.env, (line) => process.stdout.write(`${line}\n`), cli).then(
      (code) => {
        process.exitCode = code;
      },
      (err: unknown) => {
        process.stdout.write(
          `::error title=lockstep action::${err instanceof Error ? err.message : String(err)}\n`,
        );
        process.exitCode = 1;
      },
    );
  }
}
