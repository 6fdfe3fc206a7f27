/**
 * `npm run bench`: lockstep against baselines measured in the same run, alternating, several runs each;
 * prints medians and ratios. Numbers are printed, never asserted.
 *
 *   apply N   whole process: `lockstep migrate` vs `psql` applying the same files, one transaction each,
 *             in one psql process; a fresh database for every run
 *   no-op N   whole process: `lockstep migrate` with everything applied, vs a bare `node -e ''`
 *   in-process no-op N   what a warm Lambda pays: engine `migrate()` on an open connection
 *
 * Options: BENCH_SIZES=100,1000 BENCH_RUNS=5
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { databaseUrl, startEmbeddedPostgres } from '../cli/embedded-postgres.ts';
import { loadMigrations } from '../engine/migration-files.ts';
import { migrate } from '../engine/runner.ts';
import { pgSession } from '../engine/session.ts';

const sizes = (process.env.BENCH_SIZES ?? '100,1000').split(',').map(Number);
const runs = Number(process.env.BENCH_RUNS ?? 5);

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** N small migrations of the kinds real schemas accumulate. */
function generate(dir: string, n: number): void {
  mkdirSync(dir, { recursive: true });
  for (let i = 1; i <= n; i++) {
    const t = `t${Math.ceil(i / 4)}`;
    const sql = [
      () => `CREATE TABLE ${t} (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now());`,
      () => `ALTER TABLE ${t} ADD COLUMN name_${i} text;`,
      () => `CREATE INDEX ${t}_idx_${i} ON ${t} (created_at);`,
      () => `INSERT INTO ${t} (name_${i - 2}) SELECT 'row ' || g FROM generate_series(1, 10) g;`,
    ][(i - 1) % 4]?.();
    writeFileSync(join(dir, `${String(i).padStart(5, '0')}_step_${i}.sql`), `${sql}\n`);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return ms;
}

const scratch = mkdtempSync(join(tmpdir(), 'lockstep-bench-'));
chmodSync(scratch, 0o755);
const server = await startEmbeddedPostgres({
  dataDir: join(scratch, 'pg'),
  persistent: false,
  settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
});
const admin = new pg.Client({ connectionString: server.url });
await admin.connect();
const freshDb = async () => {
  const name = `b_${randomBytes(5).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  return databaseUrl(server.url, name);
};

execFileSync('npm', ['run', '--silent', 'build:cli'], { stdio: 'inherit' });
const psql = which('psql');
const cli = ['bin/lockstep.cjs', 'migrate', '--release', 'bench'];
const rows: string[][] = [];
const fmt = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

try {
  for (const n of sizes) {
    const dir = join(scratch, `m${n}`);
    generate(dir, n);
    // psql: one process, each file in its own transaction, stop at the first error.
    const driver = join(scratch, `psql-${n}.sql`);
    const files = (await loadMigrations(dir)).map((m) => join(dir, m.file));
    writeFileSync(driver, files.map((f) => `BEGIN;\n\\i ${f}\nCOMMIT;\n`).join(''));

    const lockstepMs: number[] = [];
    const psqlMs: number[] = [];
    let appliedUrl = '';
    for (let r = 0; r < runs; r++) {
      const a = await freshDb();
      lockstepMs.push(timed(process.execPath, [...cli, '--dir', dir, '--database-url', a]));
      appliedUrl = a;
      if (psql)
        psqlMs.push(timed(psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', driver, await freshDb()]));
    }
    const l = median(lockstepMs);
    const p = psql ? median(psqlMs) : Number.NaN;
    rows.push([
      `apply ${n}`,
      fmt(l),
      psql ? `psql ${fmt(p)}` : 'psql not installed',
      psql ? `${(l / p).toFixed(2)}×` : '-',
    ]);

    const noopMs: number[] = [];
    const nodeMs: number[] = [];
    for (let r = 0; r < runs; r++) {
      noopMs.push(timed(process.execPath, [...cli, '--dir', dir, '--database-url', appliedUrl]));
      nodeMs.push(timed(process.execPath, ['-e', '']));
    }
    rows.push([
      `no-op ${n}`,
      fmt(median(noopMs)),
      `bare node ${fmt(median(nodeMs))}`,
      `${(median(noopMs) / median(nodeMs)).toFixed(2)}×`,
    ]);

    const client = new pg.Client({ connectionString: appliedUrl });
    await client.connect();
    const migrations = await loadMigrations(dir);
    const inProcess: number[] = [];
    for (let r = 0; r < runs * 4; r++) {
      const started = process.hrtime.bigint();
      await migrate({ session: pgSession(client) }, migrations, { appliedBy: 'bench' });
      inProcess.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    await client.end();
    rows.push([`in-process no-op ${n}`, `${median(inProcess).toFixed(2)} ms`, '', '']);
  }
} finally {
  await admin.end();
  await server.stop();
  rmSync(scratch, { recursive: true, force: true });
}

console.log(
  `\nlockstep benchmarks — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}, ${runs} runs, medians`,
);
console.log('PostgreSQL: embedded, loopback, fsync off (measures the tools, not the disk)\n');
const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => (r[i] ?? '').length), 8));
const head = ['case', 'lockstep', 'baseline', 'ratio'];
console.log(head.map((h, i) => h.padEnd(widths[i] as number)).join('  '));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i] as number)).join('  '));
