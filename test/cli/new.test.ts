import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli-process.ts';

describe('lockstep new (installed)', () => {
  let cwd: string;
  before(() => {
    cwd = mkdtempSync(join(tmpdir(), 'lockstep-new-'));
  });
  after(() => rmSync(cwd, { recursive: true, force: true }));

  test('writes the next file into --dir, creating it, and prints its path', async () => {
    const first = await runCli(['new', 'create users', '--dir', 'db/migrations'], { cwd, installed: true });
    assert.equal(first.code, 0, first.stderr);
    const [file] = readdirSync(join(cwd, 'db', 'migrations'));
    assert.match(file ?? '', /^\d{14}_create_users\.sql$/);
    assert.equal(first.stdout.trim(), join('db', 'migrations', file ?? ''));
    assert.equal(readFileSync(join(cwd, 'db', 'migrations', file ?? ''), 'utf8'), '-- create users\n\n');

    const second = await runCli(
      ['new', 'add index', '--dir', 'db/migrations', '--no-transaction', '--json'],
      {
        cwd,
        installed: true,
      },
    );
    assert.equal(second.code, 0, second.stderr);
    const doc = JSON.parse(second.stdout);
    assert.equal(doc.command, 'new');
    assert.ok(BigInt(doc.version) > BigInt((file ?? '').split('_')[0] ?? '0'));
    assert.ok(readFileSync(doc.file, 'utf8').startsWith('-- lockstep:no-transaction\n'));
  });

  test('a description with nothing to name the file by is a usage error', async () => {
    const run = await runCli(['new', '!!!', '--dir', 'm'], { cwd, installed: true });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /InvalidInputError: description/);
  });
});
