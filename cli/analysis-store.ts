/**
 * Where the installed `lockstep` keeps the analyses of files it checked (engine/analysis-cache.ts): the user's cache
 * directory, beside the code cache (bin/code-cache.cjs), under lockstep/analysis/<build>, one small file per analysis.
 *
 * - `<build>` is the SHA-1 of the running bundle: a new lockstep never reads what another one decided.
 * - Read only when the file could only have come from this user (owned by them, writable by no one else), as the code
 *   cache is; written to a temporary file and renamed, so a reader sees a whole file or none.
 * - Anything that fails (no home directory, a read-only disk, a full one) is a miss, or no store at all: the file is
 *   parsed as without a cache, and the command runs as it would.
 * - Other builds' directories are removed once not written for a week, when a new build's directory is made.
 * - `LOCKSTEP_NO_CACHE` (any value) turns it off, with the code cache; from source (tsx) there is no build to key by,
 *   so it is off there too.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { lockstepCacheDirectory } from '../bin/cache-directory.cjs';
import type { AnalysisStore } from '../engine/analysis-cache.ts';

/** Set to true by the bundler when it builds dist/cli.cjs. */
declare const LOCKSTEP_BUNDLED: boolean;

const STALE_MS = 7 * 24 * 60 * 60 * 1000;
const KEY = /^[0-9a-f]{64}$/;

/** The store of the installed command, or undefined when it is off (from source, or `LOCKSTEP_NO_CACHE`). */
export function installedAnalysisStore(
  env: Readonly<Record<string, string | undefined>>,
): AnalysisStore | undefined {
  if (typeof LOCKSTEP_BUNDLED === 'undefined' || !LOCKSTEP_BUNDLED || env.LOCKSTEP_NO_CACHE !== undefined)
    return undefined;
  const directory = lockstepCacheDirectory(env);
  if (directory === undefined) return undefined;
  // The bundle's own file: dist/cli.cjs.
  return new FileAnalysisStore(join(directory, 'analysis'), () =>
    createHash('sha1').update(readFileSync(__filename)).digest('hex'),
  );
}

/** Analyses as files under `directory`/`build()`; `build` is asked once, on first use. */
export class FileAnalysisStore implements AnalysisStore {
  #dir: string | undefined;
  #made = false;
  /** A write failed (a read-only or full disk): the rest of this run does not try again, file after file. */
  #unwritable = false;

  constructor(
    private readonly directory: string,
    private readonly build: () => string,
  ) {}

  read(key: string): string | undefined {
    if (!KEY.test(key)) return undefined;
    let fd: number | undefined;
    try {
      fd = openSync(join(this.#buildDirectory(), key), 'r');
      const stat = fstatSync(fd);
      if (
        typeof process.getuid === 'function' &&
        (stat.uid !== process.getuid() || (stat.mode & 0o022) !== 0)
      )
        return undefined;
      return readFileSync(fd, 'utf8');
    } catch {
      return undefined;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  write(key: string, value: string): void {
    if (!KEY.test(key) || this.#unwritable) return;
    let temporary: string | undefined;
    try {
      const dir = this.#buildDirectory();
      if (!this.#made) {
        const created = mkdirSync(dir, { recursive: true, mode: 0o700 });
        this.#made = true;
        if (created !== undefined) this.#removeStale();
      }
      const path = join(dir, key);
      temporary = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
      const fd = openSync(temporary, 'wx', 0o600);
      try {
        writeSync(fd, value);
      } finally {
        closeSync(fd);
      }
      renameSync(temporary, path);
    } catch {
      this.#unwritable = true;
      if (temporary !== undefined)
        try {
          unlinkSync(temporary);
        } catch {}
    }
  }

  #buildDirectory(): string {
    this.#dir ??= join(this.directory, this.build());
    return this.#dir;
  }

  /** Other builds' directories, not written for a week. */
  #removeStale(): void {
    try {
      const old = Date.now() - STALE_MS;
      const current = this.#buildDirectory();
      for (const name of readdirSync(this.directory)) {
        const path = join(this.directory, name);
        if (path !== current && statSync(path).mtimeMs < old) rmSync(path, { recursive: true, force: true });
      }
    } catch {}
  }
}
