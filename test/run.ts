/**
 * `npm test`: starts one embedded PostgreSQL for the whole run, then node's test runner over every
 * `*.test.ts` file (each file makes its own fresh database on it), then stops the server.
 * Usage: tsx test/run.ts [files or directories…]. Without arguments: all of test/ but test/reliability/,
 * the minutes-long suite `npm run test:reliability` runs on its own.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { startEmbeddedPostgres } from '../cli/embedded-postgres.ts';
import { localCertificate } from '../rehearsal/tls.ts';

function testFiles(path: string): string[] {
  if (statSync(path).isFile()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory()
        ? testFiles(join(path, e.name))
        : e.name.endsWith('.test.ts')
          ? [join(path, e.name)]
          : [],
    )
    .sort();
}

const RELIABILITY = join('test', 'reliability');
const roots = process.argv.slice(2);
const files = (roots.length > 0 ? roots : ['test'])
  .flatMap(testFiles)
  .map((f) => relative(process.cwd(), f))
  .filter((f) => roots.length > 0 || !f.startsWith(`${RELIABILITY}/`));

// Under the temp dir, not the checkout: as root, PostgreSQL runs as another user that must reach it.
const scratch = mkdtempSync(join(tmpdir(), 'lockstep-test-'));
chmodSync(scratch, 0o755);
const dataDir = join(scratch, 'pg');
// TLS with a certificate made for this run, so the functions' tests connect with full verification.
const certificate = await localCertificate(join(scratch, 'tls'));
const caFile = certificate.caFile;

const log: string[] = [];
const server = await startEmbeddedPostgres({
  tls: certificate,
  dataDir,
  persistent: false,
  settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '300' },
  onLog: (line) => log.push(line),
});

let code = 1;
try {
  code = await new Promise<number>((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--import', './test/setup.ts', '--test', '--test-timeout=300000', ...files],
      {
        stdio: 'inherit',
        env: {
          ...process.env,
          LOCKSTEP_TEST_DATABASE_URL: server.url,
          LOCKSTEP_TEST_CA_FILE: caFile,
          // The installed command's code cache (bin/code-cache.cjs): shared by the run's tests, not the user's.
          XDG_CACHE_HOME: join(scratch, 'cache'),
        },
      },
    );
    child.on('exit', (status, signal) => resolve(status ?? (signal ? 1 : 0)));
  });
} finally {
  await server.stop();
  rmSync(scratch, { recursive: true, force: true });
}
if (code !== 0 && process.env.LOCKSTEP_TEST_SERVER_LOG) console.error(log.join(''));
process.exit(code);
