/**
 * What `npm pack` puts in lockstep's package, the one `npm install --global <tarball or git URL>` installs into an
 * image or a CI job: the built bundles the bin loads (dist/ is git-ignored, and npm leaves git-ignored files out
 * unless `files` names them), and the sources the rehearsal synthesizes; no tests, benchmarks or local state.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { repoRoot } from '../support/cli-process.ts';

function packedFiles(): string[] {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const out = execFileSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: repoRoot,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const [pack] = JSON.parse(out) as Array<{ files: Array<{ path: string }> }>;
  assert.ok(pack);
  return pack.files.map((f) => f.path);
}

describe('the package', () => {
  it('carries the bundles the installed command loads, and the sources its rehearsal synthesizes', () => {
    const files = packedFiles();
    for (const file of [
      'bin/lockstep.cjs',
      'dist/cli.cjs',
      'dist/rehearsal.cjs',
      'dist/github-action.cjs',
      'action.yml',
      'infra/app.ts',
      'functions/migrate/handler.ts',
      'rehearsal/commands.ts',
      'cdk.json',
      'package.json',
    ]) {
      assert.ok(files.includes(file), `${file} is not in the package`);
    }
    const stray = files.filter((f) =>
      /^(test|bench|scripts|node_modules|\.lockstep|cdk\.out)\/|compile-cache/.test(f),
    );
    assert.deepEqual(stray, []);
  });
});
