/**
 * Migrations bundled into the migrate function are checked and split at synth, as `lockstep publish` does for S3: every
 * file validated with PostgreSQL's parser (engine/prepare.ts), then the files and the manifest holding their statements
 * written to a directory the function's bundling copies. The function runs from that manifest and never parses SQL. A
 * file that cannot run as written fails the synth with InvalidMigrationError naming file, line and column.
 *
 * Run as a script (`<node with a TypeScript loader> bundled-migrations.ts <source> <out>`) it does the same and prints
 * the outcome as JSON: how the construct, which cannot await, runs the parser (see {@link bundleMigrationsSync}).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidInputError, InvalidMigrationError, type MigrationFileProblem } from '../../engine/errors.ts';
import { refuseForeignLayout } from '../../engine/layouts/read.ts';
import { MANIFEST_FILE } from '../../engine/manifest.ts';
import { readMigrationDirectory } from '../../engine/migration.ts';
import { prepareManifest } from '../../engine/prepare.ts';

/** Checks the `.sql` files of `sourceDir` and writes them, with their manifest, to `outDir`. */
export async function bundleMigrations(
  sourceDir: string,
  outDir: string,
): Promise<{ readonly files: number }> {
  refuseForeignLayout(sourceDir, 'MigrationsSource.bundled');
  const files = readMigrationDirectory(sourceDir);
  const manifest = await prepareManifest(files);
  mkdirSync(outDir, { recursive: true });
  for (const [name, bytes] of files) writeFileSync(join(outDir, name), bytes);
  writeFileSync(join(outDir, MANIFEST_FILE), `${JSON.stringify(manifest)}\n`);
  return { files: files.length };
}

type Outcome =
  | { readonly ok: true; readonly files: number }
  | { readonly ok: false; readonly problems: readonly MigrationFileProblem[] }
  | { readonly ok: false; readonly input: { readonly field: string; readonly problem: string } };

/**
 * {@link bundleMigrations}, synchronously: in a child process of this Node with the same module loader (the one that
 * runs this TypeScript file), since the parser loads asynchronously and a construct cannot wait. Throws the same typed
 * errors as the asynchronous form.
 */
export function bundleMigrationsSync(sourceDir: string, outDir: string): { readonly files: number } {
  const child = spawnSync(
    process.execPath,
    [...loaderFlags(process.execArgv), fileURLToPath(import.meta.url), sourceDir, outDir],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  let outcome: Outcome | undefined;
  try {
    outcome = JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '');
  } catch {}
  if (outcome?.ok) return { files: outcome.files };
  if (outcome && 'problems' in outcome) throw new InvalidMigrationError(outcome.problems);
  if (outcome && 'input' in outcome) throw new InvalidInputError(outcome.input.field, outcome.input.problem);
  throw new Error(
    `checking the bundled migrations in ${sourceDir} failed (${child.error?.message ?? `exit ${child.status ?? child.signal}`}): ${child.stderr}`,
  );
}

/** The flags that load modules (a TypeScript loader such as tsx); not `--eval`, `--test` and the like. */
function loaderFlags(execArgv: readonly string[]): string[] {
  const flags: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i] as string;
    if (/^--(import|require|loader|experimental-loader)=/.test(arg)) flags.push(arg);
    else if (/^(--import|--require|-r|--loader|--experimental-loader)$/.test(arg) && i + 1 < execArgv.length)
      flags.push(arg, execArgv[++i] as string);
  }
  return flags;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [sourceDir, outDir] = process.argv.slice(2);
  const print = (outcome: Outcome) => process.stdout.write(`${JSON.stringify(outcome)}\n`);
  bundleMigrations(sourceDir ?? '', outDir ?? '').then(
    (done) => print({ ok: true, ...done }),
    (err: unknown) => {
      if (err instanceof InvalidMigrationError) print({ ok: false, problems: err.problems });
      else if (err instanceof InvalidInputError)
        print({ ok: false, input: { field: err.field, problem: err.problem } });
      else {
        console.error(err);
        process.exitCode = 1;
      }
    },
  );
}
