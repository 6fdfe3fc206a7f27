/**
 * `lockstep release --local --approval` from the installed command (bin/lockstep.cjs; run `npm run build:cli`
 * first): the synthesized gate pauses the rehearsal after the snapshot; `--approve` lets it migrate and deploy, and
 * the record names who approved; `--reject "<reason>"` fails it with the reason, migrating nothing; without a terminal
 * and without either flag, `--approval` is a usage error before anything starts.
 */
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot, runCli } from '../support/cli-process.ts';

describe('lockstep release --local --approval (installed)', () => {
  let cwd: string;
  const lockstep = (args: string[], timeoutMs = 240_000) => runCli(args, { cwd, installed: true, timeoutMs });

  before(() => {
    // Under the temp dir, world-traversable: as root, PostgreSQL runs as another user that must reach it.
    cwd = mkdtempSync(join(tmpdir(), 'lockstep-approval-'));
    chmodSync(cwd, 0o755);
    cpSync(join(repoRoot, 'migrations'), join(cwd, 'migrations'), { recursive: true });
  });
  after(() => rmSync(cwd, { recursive: true, force: true }));

  test('bad flags are usage errors before anything starts', async () => {
    const cases: Array<[string[], RegExp]> = [
      // The test runs the command without a terminal.
      [['--approval'], /--approval: there is no terminal to ask on: give --approve, or --reject "<reason>"/],
      [['--approve'], /--approve: needs --approval/],
      [['--reject', 'no'], /--reject: needs --approval/],
      [['--approval', '--approve', '--reject', 'no'], /--reject: cannot be given with --approve/],
      [['--approval', '--reject', '  '], /--reject: say why/],
    ];
    for (const [flags, message] of cases) {
      const run = await lockstep(['release', '--local', ...flags], 60_000);
      assert.equal(run.code, 2, `${flags.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, message);
      assert.doesNotMatch(run.stderr, /embedded PostgreSQL/, 'refused before the database starts');
    }
  });

  test('--approve: it pauses after the snapshot, then migrates and deploys; the record names who approved', async () => {
    const run = await lockstep(['release', '--local', '--approval', '--approve', '--release', 'a1']);

    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /NOTIFICATION {2}lockstep: release a1 awaits approval/);
    assert.match(run.stderr, /lockstep approve arn:aws:states:\S+:execution:\S+:a1 --lock-table \S+/);
    assert.match(
      run.stderr,
      /✓ Snapshot available\?.*\n(.*\n)* {2}approved by arn:aws:iam::123456789012:user\/\S+\n {2}✓ Await approval.*\n {2}✓ Clear approval token.*\n {2}✓ Migrate/,
    );
    assert.match(run.stderr, /result {5}SUCCEEDED/);
    const show = await lockstep(['releases', 'show', 'a1', '--local'], 60_000);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /^approved {5}by arn:aws:iam::123456789012:user\/\S+ at \S+Z$/m);
  });

  test('--reject: it fails with the reason and who, migrating and deploying nothing', async () => {
    writeFileSync(
      join(cwd, 'migrations', '0100_create_rejected.sql'),
      'CREATE TABLE rejected_change (id int);\n',
    );

    const run = await lockstep([
      'release',
      '--local',
      '--approval',
      '--reject',
      'not during the sale',
      '--release',
      'a2',
    ]);

    assert.equal(run.code, 8, run.stderr);
    assert.match(run.stderr, /rejected by arn:aws:iam::123456789012:user\/\S+: not during the sale/);
    assert.match(run.stderr, /✗ Await approval +ReleaseRejectedError/);
    assert.match(run.stderr, /ALERT {2}lockstep: release failed at await approval/);
    assert.match(
      run.stderr,
      /Cause: rejected by arn:aws:iam::123456789012:user\/\S+ at \S+: not during the sale/,
    );
    assert.doesNotMatch(run.stderr, /✓ Migrate/);
    assert.match(run.stderr, /the service now runs local\/app:a1/);
    const show = await lockstep(['releases', 'show', 'a2', '--local'], 60_000);
    assert.match(show.stdout, /^outcome {6}FAILED at Await approval: ReleaseRejectedError$/m);
    assert.match(show.stdout, /^migrations {3}1 before the deploy \(none applied\)$/m);
  });
});
