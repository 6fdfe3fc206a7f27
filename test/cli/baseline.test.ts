/**
 * `lockstep baseline` from the installed CLI: it asks before recording anything (`--yes` where there is no terminal),
 * `--version` after the command is the command's flag (not the program's version), and the run is reported.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { runCli } from '../support/cli-process.ts';
import { freshDatabase, migrationsDir, type TestDatabase } from '../support/database.ts';

const cleanups: Array<() => Promise<unknown>> = [];
after(() => Promise.all(cleanups.map((c) => c())));

async function setup() {
  const db: TestDatabase = await freshDatabase();
  const dir = await migrationsDir({
    '0001_users.sql': 'CREATE TABLE users (id int);\n',
    '0002_orders.sql': 'CREATE TABLE orders (id int);\n',
  });
  cleanups.push(() => db.drop(), dir.cleanup);
  return { db, dir: dir.dir };
}

describe('lockstep baseline', () => {
  test('without a terminal it records nothing unless --yes confirms', async () => {
    const { db, dir } = await setup();
    const args = ['baseline', '--version', '1', '--reason', 'built by hand', '--dir', dir];

    const refused = await runCli(args, { installed: true, databaseUrl: db.url });
    const done = await runCli([...args, '--yes', '--json'], { installed: true, databaseUrl: db.url });

    assert.equal(refused.code, 2, refused.stderr);
    assert.match(
      refused.stderr,
      /InvalidInputError: --yes: baseline records migrations as applied without running them/,
    );
    assert.equal(done.code, 0, done.stderr);
    const doc = JSON.parse(done.stdout) as { marked: Array<{ file: string }>; pending: string[] };
    assert.deepEqual(
      doc.marked.map((m) => m.file),
      ['0001_users.sql'],
    );
    assert.deepEqual(doc.pending, ['0002_orders.sql']);
    const version = await runCli(['--version'], { installed: true });
    assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/, 'the program keeps its own --version');
  });
});
