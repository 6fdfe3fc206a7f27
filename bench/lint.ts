/**
 * The migration lint, measured: what it adds to the parse every run already does, the whole `lockstep lint` process,
 * and squawk (squawk-cli, not a dependency: `npm install --no-save squawk-cli@2.66.0`, whose platform binary comes
 * as an optional npm package, no download) on the same corpus: its rules that fire on each of lockstep's dangerous
 * and safe cases (test/fixtures/lint-corpus.ts), and its time on the same files.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { analyzeMigration } from '../engine/analyze.ts';
import { lintFile } from '../engine/lint/lint-file.ts';
import { parseMigrationFiles } from '../engine/migration-files.ts';
import { LINT_CORPUS } from '../test/fixtures/lint-corpus.ts';
import { elapsedMs, median, timed } from './stats.ts';

/** Rules of squawk's that fire on nearly everything and say nothing about a case. */
const SQUAWK_NOISE = new Set(['prefer-robust-stmts', 'require-statement-timeout', 'require-lock-timeout']);

export interface LintCaseResult {
  readonly files: number;
  readonly statements: number;
  /** In process: the validation parse alone, and with the lint after it. */
  readonly parseMs: number;
  readonly parseAndLintMs: number;
  /** Whole processes over the same directory. */
  readonly cliMs: number;
  readonly squawkMs: number | undefined;
  /** For each lockstep rule: squawk's rules on its dangerous cases, and on its safe ones. */
  readonly coverage: ReadonlyArray<{ rule: string; fires: string[]; safe: string[] }> | undefined;
  readonly squawkVersion: string | undefined;
}

function squawkBinary(): string | undefined {
  if (process.env.SQUAWK_BIN) return process.env.SQUAWK_BIN;
  try {
    return createRequire(import.meta.url)('squawk-cli').getBinaryPath() as string;
  } catch {
    return undefined;
  }
}

function squawkRules(bin: string, file: string): string[] {
  let out: string;
  try {
    out = execFileSync(bin, ['--reporter', 'json', '--assume-in-transaction', file], { encoding: 'utf8' });
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? '[]');
  }
  const found = (JSON.parse(out || '[]') as Array<{ rule_name: string }>).map((v) => v.rule_name);
  return [...new Set(found.filter((r) => !SQUAWK_NOISE.has(r)))].sort();
}

/** `copies` copies of the corpus as migration files in `dir`, one case per file. */
function writeCorpus(dir: string, copies: number): { files: number; statements: number } {
  mkdirSync(dir, { recursive: true });
  let n = 0;
  let statements = 0;
  for (let copy = 0; copy < copies; copy++)
    for (const c of LINT_CORPUS)
      for (const sql of [...c.fires, ...c.safe]) {
        n++;
        statements += sql.split(';').length - 1;
        writeFileSync(
          join(dir, `${String(n).padStart(6, '0')}_${c.rule.replace(/-/g, '_')}.sql`),
          `${sql}\n`,
        );
      }
  return { files: n, statements };
}

export async function lintCase(
  scratch: string,
  cli: string,
  runs: number,
  copies = 10,
): Promise<LintCaseResult> {
  const dir = join(scratch, 'lint-corpus');
  const { files, statements } = writeCorpus(dir, copies);
  const migrations = parseMigrationFiles(
    LINT_CORPUS.flatMap((c) => [...c.fires, ...c.safe]).map(
      (sql, i) => [`${i + 1}_x.sql`, Buffer.from(sql)] as const,
    ),
  );
  const parse: number[] = [];
  const both: number[] = [];
  for (let r = 0; r < runs; r++) {
    let started = process.hrtime.bigint();
    for (let k = 0; k < copies; k++) for (const m of migrations) await analyzeMigration(m);
    parse.push(elapsedMs(started));
    started = process.hrtime.bigint();
    for (let k = 0; k < copies; k++)
      for (const m of migrations) await lintFile(m, (await analyzeMigration(m)).statements);
    both.push(elapsedMs(started));
  }
  const bin = squawkBinary();
  const cliRuns: number[] = [];
  const squawkRuns: number[] = [];
  for (let r = 0; r < runs; r++) {
    cliRuns.push(timed({ cmd: process.execPath, args: [cli, 'lint', '--dir', dir, '--fail-on', 'never'] }));
    if (bin)
      squawkRuns.push(
        timed({
          cmd: 'sh',
          args: ['-c', `"${bin}" --assume-in-transaction "${dir}"/*.sql > /dev/null || true`],
        }),
      );
  }
  let coverage: LintCaseResult['coverage'];
  if (bin) {
    const one = join(scratch, 'lint-one');
    mkdirSync(one, { recursive: true });
    coverage = LINT_CORPUS.map((c) => {
      const rulesOn = (sql: string) => {
        const file = join(one, `${c.rule}.sql`);
        writeFileSync(file, `${sql}\n`);
        return squawkRules(bin, file);
      };
      const union = (xs: string[][]) => [...new Set(xs.flat())].sort();
      return { rule: c.rule, fires: union(c.fires.map(rulesOn)), safe: union(c.safe.map(rulesOn)) };
    });
  }
  return {
    files,
    statements,
    parseMs: median(parse),
    parseAndLintMs: median(both),
    cliMs: median(cliRuns),
    squawkMs: bin ? median(squawkRuns) : undefined,
    coverage,
    squawkVersion: bin ? execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim() : undefined,
  };
}
