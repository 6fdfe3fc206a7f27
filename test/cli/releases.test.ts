/**
 * `lockstep releases` and `releases show` from the installed command (bin/lockstep.cjs, the esbuild bundle; run
 * `npm run build:cli` first): after two rehearsals in one directory, one of them failing at migrate, the records
 * are listed newest first and each shows what it holds; on AWS a table must be named.
 */
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot, runCli } from '../support/cli-process.ts';

describe('lockstep releases (installed)', () => {
  let cwd: string;
  const lockstep = (args: string[], timeoutMs = 60_000) => runCli(args, { cwd, installed: true, timeoutMs });

  before(async () => {
    // Under the temp dir, world-traversable: as root, PostgreSQL runs as another user that must reach it.
    cwd = mkdtempSync(join(tmpdir(), 'lockstep-releases-'));
    chmodSync(cwd, 0o755);
    cpSync(join(repoRoot, 'migrations'), join(cwd, 'migrations'), { recursive: true });
    const first = await lockstep(['release', '--local', '--release', 'r1'], 240_000);
    assert.equal(first.code, 0, first.stderr);
    const second = await lockstep(['release', '--local', '--release', 'r2', '--fail-at', 'migrate'], 240_000);
    assert.equal(second.code, 8, second.stderr);
    assert.match(second.stderr, /Release record: .*#r2 \(lockstep releases show r2\)/);
    assert.match(second.stderr, /record {5}lockstep releases show r2 --local/);
  });
  after(() => rmSync(cwd, { recursive: true, force: true }));

  test('lists the rehearsals’ records newest first: the failed one, then the one that succeeded', async () => {
    const run = await lockstep(['releases', '--local']);

    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0] ?? '', /r2 +FAILED +at Migrate {2}local\/app:r2/);
    assert.match(lines[1] ?? '', /r1 +SUCCEEDED +local\/app:r1 {2}snapshot lockstep-/);
  });

  test('--json and --limit', async () => {
    const run = await lockstep(['releases', '--local', '--limit', '1', '--json']);

    assert.equal(run.code, 0, run.stderr);
    const doc = JSON.parse(run.stdout) as { ok: boolean; records: { release: string; outcome: string }[] };
    assert.deepEqual(
      doc.records.map((r) => [r.release, r.outcome]),
      [['r2', 'FAILED']],
    );
  });

  test('show: the successful release’s image, revisions, migrations with checksums, snapshot', async () => {
    const run = await lockstep(['releases', 'show', 'r1', '--local']);

    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^release {6}r1$/m);
    assert.match(run.stdout, /^outcome {6}SUCCEEDED$/m);
    assert.match(run.stdout, /^revision {5}before \S+:1\n {13}after {2}\S+:2$/m);
    assert.match(run.stdout, /^migrations {3}\d+ before the deploy \(applied\)$/m);
    assert.match(run.stdout, /^ {2}0001_\S+\.sql {2}[0-9a-f]{64}$/m);
    assert.match(run.stdout, /^snapshot {5}lockstep-\S+ \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)$/m);
  });

  test('show --json: the failed release names its step and error, its migrations partly applied', async () => {
    const run = await lockstep(['releases', 'show', 'r2', '--local', '--json']);

    assert.equal(run.code, 0, run.stderr);
    const { record } = JSON.parse(run.stdout) as {
      record: { outcome: string; failure: { step: string; error: string }; migrationsState: string };
    };
    assert.deepEqual(
      [record.outcome, record.failure.step, record.failure.error, record.migrationsState],
      ['FAILED', 'Migrate', 'MigrationFailedError', 'partly applied'],
    );
  });

  test('an unknown release, or no table on AWS, is a usage error saying what to do', async () => {
    const unknown = await lockstep(['releases', 'show', 'r9', '--local']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no release record for "r9"/);
    const noTable = await runCli(['releases'], { cwd, installed: true, env: { LOCKSTEP_RECORDS_TABLE: '' } });
    assert.equal(noTable.code, 2);
    assert.match(noTable.stderr, /--table: name the release-records table/);
  });
});
