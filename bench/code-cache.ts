/**
 * What V8's code cache for the CLI (bin/code-cache.cjs) buys on this Node: each command run with the cache and
 * without it (`NODE_DISABLE_COMPILE_CACHE=1`), alternating, many times; wall time and the child's own CPU time
 * (user + system, reported by the child at exit through a preloaded script). CPU is the better guide on a shared
 * machine: waiting for another process's turn on a core inflates wall time, not CPU.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Command, median, timed } from './stats.ts';

export interface CacheSample {
  readonly name: string;
  readonly cached: { readonly wallMs: number; readonly cpuMs: number };
  readonly uncached: { readonly wallMs: number; readonly cpuMs: number };
}

/** Runs each command `runs` times with and without the cache, alternating; medians. The cache is warm (one run first). */
export function codeCacheCase(
  commands: ReadonlyArray<{ name: string; command: Command }>,
  runs: number,
): CacheSample[] {
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-bench-cpu-'));
  const report = join(dir, 'cpu');
  const preload = join(dir, 'report-cpu.cjs');
  writeFileSync(
    preload,
    `process.on('exit', () => { const u = process.cpuUsage(); require('node:fs').writeFileSync(process.env.BENCH_CPU_FILE, String((u.user + u.system) / 1000)); });\n`,
  );
  const once = (command: Command, cache: boolean) => {
    const env: NodeJS.ProcessEnv = { ...(command.env ?? process.env), BENCH_CPU_FILE: report };
    if (cache) delete env.NODE_DISABLE_COMPILE_CACHE;
    else env.NODE_DISABLE_COMPILE_CACHE = '1';
    const wallMs = timed({ ...command, args: ['-r', preload, ...command.args], env });
    return { wallMs, cpuMs: Number(readFileSync(report, 'utf8')) };
  };
  try {
    return commands.map(({ name, command }) => {
      once(command, true);
      const cached: Array<{ wallMs: number; cpuMs: number }> = [];
      const uncached: Array<{ wallMs: number; cpuMs: number }> = [];
      for (let r = 0; r < runs; r++) {
        if (r % 2 === 0) {
          cached.push(once(command, true));
          uncached.push(once(command, false));
        } else {
          uncached.push(once(command, false));
          cached.push(once(command, true));
        }
      }
      const summary = (xs: typeof cached) => ({
        wallMs: median(xs.map((x) => x.wallMs)),
        cpuMs: median(xs.map((x) => x.cpuMs)),
      });
      return { name, cached: summary(cached), uncached: summary(uncached) };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
