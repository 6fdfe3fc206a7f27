import { readdirSync, readlinkSync } from 'node:fs';

/** Processes whose working directory is `dir` (Linux: /proc/<pid>/cwd). */
export function processesIn(dir: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/cwd`) === dir;
      } catch {
        return false;
      }
    })
    .map(Number);
}
