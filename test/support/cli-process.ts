import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, where `cli/main.ts` lives. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const mainTs = join(repoRoot, 'cli', 'main.ts');
// Absolute, so the CLI also starts from a working directory with no node_modules.
const tsxLoader = import.meta.resolve('tsx');

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  /** DATABASE_URL for the child; omitted: unset (the parent's never leaks in). */
  readonly databaseUrl?: string;
  readonly cwd?: string;
  /** Run the installed entry point (bin/lockstep.cjs, the esbuild bundle) instead of the TypeScript source. */
  readonly installed?: boolean;
  /** More environment for the child, over the parent's. */
  readonly env?: Readonly<Record<string, string>>;
  /** Killed (SIGKILL) after this long, and the run fails: a hung command must fail its test, never hang the suite. @default 120_000 */
  readonly timeoutMs?: number;
}

function childEnv(options: CliOptions): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  delete env.LOCKSTEP_TEST_DATABASE_URL;
  if (options.databaseUrl !== undefined) env.DATABASE_URL = options.databaseUrl;
  return { ...env, ...options.env };
}

/** Starts `lockstep <args>` as a child process, output collected. */
export function spawnCli(
  args: readonly string[],
  options: CliOptions = {},
): { child: ChildProcess; done: Promise<CliRun> } {
  const entry = options.installed ? [join(repoRoot, 'bin', 'lockstep.cjs')] : ['--import', tsxLoader, mainTs];
  const child = spawn(process.execPath, [...entry, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: childEnv(options),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const timeoutMs = options.timeoutMs ?? 120_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const done = new Promise<CliRun>((resolve, reject) => {
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut)
        reject(
          new Error(
            `lockstep ${args.join(' ')} did not finish within ${timeoutMs} ms and was killed\n${stderr}`,
          ),
        );
      else resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, done };
}

/** Runs `lockstep <args>` to completion. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
  return spawnCli(args, options).done;
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
