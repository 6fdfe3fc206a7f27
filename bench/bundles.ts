/**
 * The Lambda bundles, built as infra/constructs/release-flow.ts has NodejsFunction build them (esbuild: bundle,
 * minify, keepNames, target node22, platform node, CJS, `@aws-sdk/*` external; one file each: the migrate function
 * has no SQL parser, its statements come split in the manifest), with a metafile to say what each is made of; and what
 * loading each costs a fresh `node` process, against `node -e ""`.
 */
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { type Command, median, timed } from './stats.ts';

export const FUNCTION_NAMES = ['preflight', 'snapshot', 'migrate', 'deploy'] as const;
export type FunctionName = (typeof FUNCTION_NAMES)[number];

/** What each handler's configuration requires, as the construct sets it (placeholder values). */
const FUNCTION_ENV: Readonly<Record<FunctionName, Record<string, string>>> = {
  preflight: { MIGRATIONS_SOURCE: 'bundled', DB_IDENTIFIER: 'app-db', LOCK_TABLE: 'lockstep-locks' },
  snapshot: {
    DB_KIND: 'instance',
    DB_IDENTIFIER: 'app-db',
    SNAPSHOT_PREFIX: 'lockstep',
    SNAPSHOTS_TO_KEEP: '10',
    SNAPSHOT_TIMEOUT_SECONDS: '7200',
  },
  migrate: {
    DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf',
    DB_HOST: 'app-db.example.eu-west-1.rds.amazonaws.com',
    DB_PORT: '5432',
    LOCK_WAIT_SECONDS: '60',
  },
  deploy: {
    ECS_CLUSTER: 'app',
    ECS_SERVICE: 'app',
    CONTAINER_NAME: 'app',
    DEPLOY_TIMEOUT_SECONDS: '1800',
  },
};

export interface BundleReport {
  readonly name: FunctionName;
  readonly dir: string;
  /** index.js, bytes: the whole function (the migrate function's package adds the bundled migrations). */
  readonly jsBytes: number;
  /** Bytes of index.js by where they came from: a package name, or `lockstep (<folder>)` for our own code. */
  readonly contributors: readonly Contributor[];
  /** The largest package's bytes by folder inside it (where in it the size comes from). */
  readonly largest: { readonly source: string; readonly parts: readonly Contributor[] } | undefined;
  /** The AWS SDK packages it leaves to the runtime. */
  readonly externals: readonly string[];
  readonly warnings: readonly string[];
}

export interface Contributor {
  readonly source: string;
  readonly bytes: number;
}

const OPTIONS: BuildOptions & { metafile: true } = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  minify: true,
  keepNames: true,
  external: ['@aws-sdk/*'],
  metafile: true,
  logLevel: 'silent',
};

/** zod bundled the same way on its own (`require('zod')`, everything it exports): a reference for init time. */
export async function buildZodAlone(repoRoot: string, outRoot: string): Promise<string> {
  const outfile = join(outRoot, 'zod-alone', 'index.js');
  await build({
    ...OPTIONS,
    absWorkingDir: repoRoot,
    stdin: { contents: "module.exports = require('zod/mini');", resolveDir: repoRoot, loader: 'js' },
    outfile,
  });
  return outfile;
}

/** Builds the four bundles into `outRoot/<name>/index.js`. */
export async function buildBundles(repoRoot: string, outRoot: string): Promise<BundleReport[]> {
  const reports: BundleReport[] = [];
  for (const name of FUNCTION_NAMES) {
    const dir = join(outRoot, name);
    mkdirSync(dir, { recursive: true });
    const outfile = join(dir, 'index.js');
    const result = await build({
      ...OPTIONS,
      absWorkingDir: repoRoot,
      entryPoints: [join('functions', name, 'handler.ts')],
      outfile,
    });
    const parts = contributors(result.metafile);
    const top = parts[0];
    reports.push({
      name,
      dir,
      jsBytes: statSync(outfile).size,
      contributors: parts,
      largest: top && { source: top.source, parts: insidePackage(result.metafile, top.source) },
      externals: [
        ...new Set(
          Object.values(result.metafile.outputs).flatMap((o) =>
            o.imports.filter((i) => i.external && i.path.startsWith('@aws-sdk/')).map((i) => i.path),
          ),
        ),
      ],
      warnings: result.warnings.map((w) => `${w.location?.file ?? ''}: ${w.text}`),
    });
  }
  return reports;
}

/** Sums a metafile's output bytes by `keyOf(input path)`, skipping inputs it maps to undefined; largest first. */
function groupBytes(metafile: Metafile, keyOf: (path: string) => string | undefined): Contributor[] {
  const totals = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
      const key = keyOf(path);
      if (key !== undefined) totals.set(key, (totals.get(key) ?? 0) + bytesInOutput);
    }
  }
  return [...totals].map(([source, bytes]) => ({ source, bytes })).sort((a, b) => b.bytes - a.bytes);
}

/** By package, or our own top-level folder. */
export const contributors = (metafile: Metafile) => groupBytes(metafile, sourceOf);

/** Inside one package, by its first two folder levels (`zod/v4/locales`). */
function insidePackage(metafile: Metafile, pkg: string): Contributor[] {
  const prefix = `node_modules/${pkg}/`;
  return groupBytes(metafile, (path) => {
    const at = path.lastIndexOf(prefix);
    if (at < 0) return undefined;
    const rest = path.slice(at + prefix.length).split('/');
    return [pkg, ...rest.slice(0, Math.min(2, rest.length - 1))].join('/');
  });
}

function sourceOf(path: string): string {
  const at = path.lastIndexOf('node_modules/');
  if (at < 0) return `lockstep (${path.split('/')[0]}/)`;
  const parts = path.slice(at + 'node_modules/'.length).split('/');
  return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? path);
}

export interface InitTiming {
  /** A function, `<function>: AWS SDK alone`, `zod alone`, or `bare node`. */
  readonly name: string;
  readonly ms: number;
}

/**
 * Module initialisation: a fresh `node` requiring each bundle (with the environment its configuration
 * validation needs, and the repository's node_modules on NODE_PATH for the external AWS SDK, which the Lambda
 * runtime provides), against a bare `node -e ""`; alternating, `runs` times each, medians.
 */
export function measureInit(
  repoRoot: string,
  bundles: readonly BundleReport[],
  zodAlone: string,
  runs: number,
): InitTiming[] {
  const env = (name: FunctionName, dir: string): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    NODE_PATH: join(repoRoot, 'node_modules'),
    AWS_REGION: 'eu-west-1',
    AWS_LAMBDA_FUNCTION_NAME: `lockstep-${name}`,
    LAMBDA_TASK_ROOT: dir,
    POWERTOOLS_LOG_LEVEL: 'INFO',
    ...FUNCTION_ENV[name],
  });
  // The handler must come out as a function: a bundle whose config validation threw would exit non-zero.
  const load = (b: BundleReport) => ({
    cmd: process.execPath,
    args: [
      '-e',
      `if (typeof require(${JSON.stringify(join(b.dir, 'index.js'))}).handler !== 'function') process.exit(3)`,
    ],
    env: env(b.name, b.dir),
    cwd: b.dir,
  });
  /** Only the AWS SDK clients the bundle requires: how much of its init is the SDK's. */
  const sdkAlone = (b: BundleReport) => ({
    cmd: process.execPath,
    args: ['-e', b.externals.map((p) => `require(${JSON.stringify(p)});`).join('')],
    env: { PATH: process.env.PATH, NODE_PATH: join(repoRoot, 'node_modules'), AWS_REGION: 'eu-west-1' },
  });
  const bare = { cmd: process.execPath, args: ['-e', ''], env: { PATH: process.env.PATH } };
  const cases: Array<{ name: string; command: Command }> = [
    { name: 'bare node', command: bare },
    ...bundles.map((b) => ({ name: b.name, command: load(b) })),
    ...bundles.map((b) => ({ name: `${b.name}: AWS SDK alone`, command: sdkAlone(b) })),
    {
      name: 'zod alone',
      command: { cmd: process.execPath, args: ['-e', `require(${JSON.stringify(zodAlone)})`], env: bare.env },
    },
  ];
  // One untimed round: the first load of a file pays for the page cache.
  for (const c of cases) timed(c.command);
  const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let r = 0; r < runs; r++) for (const c of cases) samples.get(c.name)?.push(timed(c.command));
  return cases.map((c) => ({ name: c.name, ms: median(samples.get(c.name) ?? []) }));
}
