/** Timing, medians and the tables `npm run bench` prints. */
import { spawn, spawnSync } from 'node:child_process';

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Milliseconds since `started` (a `process.hrtime.bigint()`). */
export const elapsedMs = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e6;

export interface Command {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/** Runs a command to completion and returns its wall time in ms; a non-zero exit is an error. */
export function timed({ cmd, args, env, cwd }: Command): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env: env ?? process.env, cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  const ms = elapsedMs(started);
  if (r.status !== 0) {
    const out = `${r.stderr ?? ''}${r.stdout ?? ''}`.trim().split('\n').slice(-10).join('\n');
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${out}`);
  }
  return ms;
}

/**
 * Runs a command to completion without blocking this process's event loop (for a client whose traffic passes
 * through something this process serves, such as the counting proxy); a non-zero exit is an error.
 */
export function run({ cmd, args, env, cwd }: Command): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: env ?? process.env, cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = `${stderr}${chunk}`.slice(-4000);
    });
    child.once('error', reject);
    child.once('close', (code, signal) =>
      code === 0
        ? resolve()
        : reject(new Error(`${cmd} ${args.join(' ')} failed (${code ?? signal}): ${stderr.trim()}`)),
    );
  });
}

/** Finds an executable on PATH. */
export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(3)} s`;
export const millis = (ms: number) => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;
export const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : '-');
export const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

/** A plain-text table: a header row, then the rows, columns padded to fit. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}
