/**
 * One large migration file, as a data migration or a baseline from a dump is: `CREATE TABLE` and then INSERTs,
 * 1, 4 and 16 MB. Whole processes on a fresh database each run, alternating: `lockstep plan` (reads history and
 * parses the file: all lockstep does before it would apply), `lockstep migrate`, and psql running the same file in
 * one transaction (`-1`), the floor. In process: the engine's split alone. And how long the CLI takes to exit after
 * a SIGTERM sent while it parses the largest file.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitStatements } from '../engine/sql-parser.ts';
import { dropDatabase, freshDatabase, type Server } from './database-cases.ts';
import { type Command, elapsedMs, median, timed, which } from './stats.ts';

export interface LargeFile {
  readonly mb: number;
  readonly statements: number;
  /** Whole-process medians, ms; psql's is NaN without psql. */
  readonly planMs: number;
  readonly migrateMs: number;
  readonly psqlMs: number;
  /** The engine's split of the file in process, parser warm, median ms. */
  readonly splitMs: number;
}

/** `CREATE TABLE` and INSERTs of about `mb` MB, with some non-ASCII text, in a migrations directory of its own. */
function writeLargeFile(root: string, mb: number): { dir: string; file: string; statements: number } {
  const dir = join(root, `large-${mb}`);
  mkdirSync(dir, { recursive: true });
  const parts = ['CREATE TABLE big (id bigint PRIMARY KEY, name text NOT NULL, note text);\n'];
  let bytes = 0;
  let i = 0;
  for (; bytes < mb * 2 ** 20; i++) {
    const row = `INSERT INTO big (id, name, note) VALUES (${i}, 'item ${i}', 'a note about item ${i}: déjà vu');\n`;
    parts.push(row);
    bytes += Buffer.byteLength(row);
  }
  const file = join(dir, '00001_load_big.sql');
  writeFileSync(file, parts.join(''));
  return { dir, file, statements: i + 1 };
}

export async function largeFileCase(
  repoRoot: string,
  server: Server,
  scratch: string,
  sizes: readonly number[],
  runs: number,
  progress: (line: string) => void,
): Promise<LargeFile[]> {
  const psql = which('psql');
  const out: LargeFile[] = [];
  for (const mb of sizes) {
    const { dir, file, statements } = writeLargeFile(scratch, mb);
    const lockstep = (command: string, url: string): Command => ({
      cmd: process.execPath,
      args: ['bin/lockstep.cjs', command, '--release', 'bench', '--dir', dir, '--database-url', url],
      cwd: repoRoot,
    });
    const cases: Array<[string, (url: string) => Command]> = [
      ['plan', (url) => lockstep('plan', url)],
      ['migrate', (url) => lockstep('migrate', url)],
      ...(psql
        ? [
            [
              'psql',
              (url: string) => ({
                cmd: psql,
                args: ['-X', '-q', '-1', '-v', 'ON_ERROR_STOP=1', '-f', file, url],
              }),
            ] as [string, (url: string) => Command],
          ]
        : []),
    ];
    const ms = new Map<string, number[]>(cases.map(([name]) => [name, []]));
    progress(`one large file, ${mb} MB: ${cases.map(([n]) => n).join(', ')}; ${runs} runs`);
    for (let r = 0; r < runs; r++) {
      for (const [name, command] of cases.map(
        (_, k) => cases[(k + r) % cases.length] as (typeof cases)[number],
      )) {
        const url = await freshDatabase(server);
        ms.get(name)?.push(timed(command(url)));
        await dropDatabase(server, url);
      }
    }
    const sql = readFileSync(file, 'utf8');
    await splitStatements('SELECT 1');
    const split: number[] = [];
    for (let r = 0; r < runs; r++) {
      const started = process.hrtime.bigint();
      await splitStatements(sql);
      split.push(elapsedMs(started));
    }
    out.push({
      mb,
      statements,
      planMs: median(ms.get('plan') ?? []),
      migrateMs: median(ms.get('migrate') ?? []),
      psqlMs: median(ms.get('psql') ?? []),
      splitMs: median(split),
    });
  }
  return out;
}

/**
 * `lockstep plan` on the file of `mb` MB, sent SIGTERM `afterMs` after it starts (while it parses): how long until it
 * exits, and with what code.
 */
export async function sigtermDuringParse(
  repoRoot: string,
  server: Server,
  scratch: string,
  mb: number,
  afterMs: number,
): Promise<{ exitMs: number; code: number | null; signal: string | null }> {
  const { dir } = writeLargeFile(scratch, mb);
  const url = await freshDatabase(server);
  try {
    return await new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ['bin/lockstep.cjs', 'plan', '--release', 'bench', '--dir', dir, '--database-url', url],
        { cwd: repoRoot, stdio: 'ignore' },
      );
      let sent: bigint | undefined;
      const timer = setTimeout(() => {
        sent = process.hrtime.bigint();
        child.kill('SIGTERM');
      }, afterMs);
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({ exitMs: sent === undefined ? Number.NaN : elapsedMs(sent), code, signal });
      });
    });
  } finally {
    await dropDatabase(server, url);
  }
}
