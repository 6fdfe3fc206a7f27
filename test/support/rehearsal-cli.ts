/**
 * The `lockstep` command as the rehearsal tests run it: from source (as `npm start` does) or installed
 * (bin/lockstep.cjs), in a directory of the test's, bounded in time and killed past it.
 */
import { spawnCli } from './cli-process.ts';

export /** Runs `lockstep <args>` in `cwd`: from source, as `npm start` does, or as installed (bin/lockstep.cjs). */
function lockstep(
  cwd: string,
  args: string[],
  options: { installed?: boolean } = {},
): Promise<{ code: number | null; out: string }> {
  return started(cwd, args, options).done;
}

/** Starts `lockstep <args>` (killed if it outlives its bound); `output()` is what it printed so far. */
export function started(
  cwd: string,
  args: string[],
  options: { installed?: boolean } = {},
): { output: () => string; done: Promise<{ code: number | null; out: string }> } {
  let out = '';
  const { child, done } = spawnCli(args, { cwd, timeoutMs: 240_000, installed: options.installed ?? false });
  child.stdout?.on('data', (chunk: string) => {
    out += chunk;
  });
  child.stderr?.on('data', (chunk: string) => {
    out += chunk;
  });
  return { output: () => out, done: done.then(({ code }) => ({ code, out })) };
}
