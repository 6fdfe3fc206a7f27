import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { databaseUrl, startEmbeddedPostgres } from '../../cli/embedded-postgres.ts';
import { localCertificate } from '../../rehearsal/tls.ts';
import { repoRoot } from '../support/cli-process.ts';
import { lockstep, started } from '../support/rehearsal-cli.ts';

describe('lockstep release --local (npm start)', () => {
  let cwd: string;
  before(() => {
    // Under the temp dir, world-traversable: as root, PostgreSQL runs as another user that must reach it.
    cwd = mkdtempSync(join(tmpdir(), 'lockstep-rehearsal-'));
    chmodSync(cwd, 0o755);
    cpSync(join(repoRoot, 'migrations'), join(cwd, 'migrations'), { recursive: true });
  });
  after(() => rmSync(cwd, { recursive: true, force: true }));

  test('npm start runs this command', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
    assert.equal(pkg.scripts.start, 'tsx cli/main.ts release --local');
  });

  test('a first release snapshots, migrates and deploys, then starts the app with --run', async () => {
    const run = await lockstep(cwd, [
      'release',
      '--local',
      '--release',
      'first',
      '--run',
      'node -e "console.log(\'app sees\', !!process.env.DATABASE_URL, process.env.LOCKSTEP_IMAGE)"',
    ]);
    assert.equal(run.code, 0, run.out);
    for (const state of [
      'Preflight',
      'Plan',
      'Create snapshot',
      'Snapshot status',
      'Migrate',
      'Start deploy',
      'Rollout status',
      'Prune snapshots',
      'Released',
    ]) {
      assert.match(run.out, new RegExp(`✓ ${state}`), state);
    }
    assert.match(run.out, /migrations 7 applied/);
    assert.match(run.out, /snapshot {3}lockstep-app-\d{14}-first/);
    assert.match(run.out, /the service now runs local\/app:first/);
    assert.match(run.out, /app sees true local\/app:first/);
  });

  test('a second release has nothing pending: no snapshot, the deploy still runs', async () => {
    const run = await lockstep(cwd, ['release', '--local', '--release', 'second']);
    assert.equal(run.code, 0, run.out);
    assert.doesNotMatch(run.out, /Create snapshot/);
    assert.match(run.out, /✓ Start deploy/);
    assert.match(run.out, /migrations 0 applied/);
    assert.match(run.out, /the service now runs local\/app:second/);
  });

  test('--fail-at migrate alerts, stops before deploy, exits non-zero, and leaves the database unchanged', async () => {
    const run = await lockstep(cwd, ['release', '--local', '--release', 'third', '--fail-at', 'migrate']);
    assert.equal(run.code, 8, run.out);
    assert.match(run.out, /ALERT {2}lockstep: release failed at migrate/);
    assert.match(run.out, /FAILED at step Migrate/);
    assert.match(run.out, /Snapshot to restore from: lockstep-app-\d{14}-third/);
    assert.doesNotMatch(run.out, /Start deploy/);
    assert.match(run.out, /the service now runs local\/app:second/);

    const certificate = await localCertificate(join(cwd, '.lockstep', 'tls'));
    const server = await startEmbeddedPostgres({ dataDir: join(cwd, '.lockstep', 'pg'), tls: certificate });
    const client = new pg.Client({ connectionString: databaseUrl(server.url, 'app') });
    await client.connect();
    try {
      const { rows } = await client.query(
        "SELECT to_regclass('rehearsed_failure') AS t, (SELECT count(*)::int FROM lockstep.schema_history) AS n",
      );
      assert.deepEqual(rows[0], { t: null, n: 7 });
    } finally {
      await client.end();
      await server.stop();
    }
  });

  test('--fail-at snapshot: the summary says no snapshot was taken and offers no older release’s as this one’s', async () => {
    const run = await lockstep(cwd, ['release', '--local', '--release', 'fourth', '--fail-at', 'snapshot']);

    assert.equal(run.code, 8, run.out);
    assert.match(
      run.out,
      /^snapshot {3}none taken by this release \(the newest, older one: lockstep-app-\d{14}-third, /m,
    );
    assert.doesNotMatch(run.out, /restore: lockstep restore --local/);
  });

  test('a second rehearsal in the same directory while one runs is refused, naming the one that runs', async () => {
    // The first one's app (--run) runs until the test says so: the rehearsal holds its lock until then.
    const first = started(cwd, [
      'release',
      '--local',
      '--release',
      'fifth',
      '--run',
      `node -e "setInterval(() => require('node:fs').existsSync('app-may-stop') && process.exit(0), 50)"`,
    ]);
    const deadline = Date.now() + 120_000;
    while (!/the release succeeded: starting/.test(first.output()) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    const second = await lockstep(cwd, ['release', '--local', '--release', 'sixth']);
    const restore = await lockstep(cwd, ['restore', '--local', 'lockstep-app-anything']);
    writeFileSync(join(cwd, 'app-may-stop'), '');
    const firstRun = await first.done;

    assert.equal(second.code, 4, second.out);
    assert.match(
      second.out,
      /RehearsalInProgressError: another rehearsal is running on this embedded PostgreSQL: lockstep release --local fifth \(pid \d+\) \(server pid \d+, since /,
    );
    assert.doesNotMatch(second.out, /Preflight/);
    assert.equal(restore.code, 4, restore.out);
    assert.equal(firstRun.code, 0, firstRun.out);
    assert.match(firstRun.out, /the service now runs local\/app:fifth/);
  });

  test('restore --local of an unknown snapshot is a usage error naming it and listing those that exist', async () => {
    const run = await lockstep(cwd, ['restore', '--local', 'lockstep-app-nope'], { installed: true });

    assert.equal(run.code, 2, run.out);
    assert.match(
      run.out,
      /InvalidInputError: snapshot: there is no local snapshot "lockstep-app-nope" of the database app; the local snapshots are, newest first: lockstep-app-\d{14}-third, lockstep-app-\d{14}-first/,
    );
  });

  test('snapshots --local lists the snapshots and restore --local brings one back', async () => {
    const listed = await lockstep(cwd, ['snapshots', '--local'], { installed: true });
    assert.equal(listed.code, 0, listed.out);
    const ids = [...listed.out.matchAll(/^(lockstep-app-\S+)/gm)].map((m) => m[1] as string);
    assert.ok(ids.length >= 2, listed.out);
    const restored = await lockstep(cwd, ['restore', '--local', ids.at(-1) as string], { installed: true });
    assert.equal(restored.code, 0, restored.out);
    assert.match(restored.out, /restored database "app" from lockstep-app-/);
  });

  test('the installed command rehearses from any directory, its migrations named by --dir', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'lockstep-elsewhere-'));
    chmodSync(elsewhere, 0o755);
    try {
      const run = await lockstep(
        elsewhere,
        ['release', '--local', '--dir', join(cwd, 'migrations'), '--release', 'installed'],
        {
          installed: true,
        },
      );
      assert.equal(run.code, 0, run.out);
      assert.match(run.out, /^result {5}SUCCEEDED$/m);
      assert.match(run.out, /^migrations 7 applied$/m, 'its own .lockstep/, a database of its own');
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  test('a missing migrations directory is a usage error before anything starts', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'lockstep-nodir-'));
    try {
      const started = Date.now();
      const run = await lockstep(empty, ['release', '--local'], { installed: true });
      assert.equal(run.code, 2, run.out);
      assert.match(run.out, /InvalidInputError: migrations directory: .*migrations: no such directory/);
      assert.ok(Date.now() - started < 15_000, 'refused up front, not after a rehearsal');
      assert.ok(!existsSync(join(empty, '.lockstep')), 'no database was started');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
