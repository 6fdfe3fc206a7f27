/**
 * `--summary` and `--codequality` on the installed CLI: the Markdown a CI job keeps, and the GitLab Code Quality
 * report that puts a problem on the merge request's changes at file:line, paths from the repository root.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../../support/cli-process.ts';
import { freshDatabase, type TestDatabase } from '../../support/database.ts';

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  await Promise.all(cleanups.map((c) => c()));
});

async function project(files: Record<string, string>) {
  const root = await mkdtemp(join(tmpdir(), 'lockstep-ci-files-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, 'db', 'migrations'), { recursive: true });
  await Promise.all(
    Object.entries(files).map(([n, sql]) => writeFile(join(root, 'db', 'migrations', n), sql)),
  );
  return root;
}

async function database(): Promise<TestDatabase> {
  const db = await freshDatabase();
  cleanups.push(() => db.drop());
  return db;
}

describe('--summary and --codequality', () => {
  it('report a failed migration at its file and line, from the repository root', async () => {
    const db = await database();
    const root = await project({
      '001_users.sql': 'CREATE TABLE users (id int);\n',
      '002_bad.sql': '\nALTER TABLE users ADD COLUMN email text;\nALTER TABLE nope ADD COLUMN x int;\n',
    });

    const run = await runCli(
      ['migrate', '--dir', 'db/migrations', '--summary', 'report.md', '--codequality', 'cq.json'],
      { installed: true, cwd: root, databaseUrl: db.url, env: { CI_PROJECT_DIR: root } },
    );

    assert.equal(run.code, 3, run.stderr);
    const issues = JSON.parse(await readFile(join(root, 'cq.json'), 'utf8')) as Array<
      Record<string, unknown>
    >;
    assert.equal(issues.length, 1);
    assert.deepEqual(issues[0]?.location, { path: 'db/migrations/002_bad.sql', lines: { begin: 3 } });
    assert.equal(issues[0]?.severity, 'major');
    assert.equal(issues[0]?.check_name, 'lockstep/MigrationFailedError [SQLSTATE 42P01]');
    assert.match(String(issues[0]?.description), /relation "nope" does not exist/);
    assert.match(String(issues[0]?.fingerprint), /^[0-9a-f]{32}$/);
    const summary = await readFile(join(root, 'report.md'), 'utf8');
    assert.match(summary, /❌ `lockstep migrate` failed: MigrationFailedError/);
    assert.match(summary, /Applied before the failure\*\* \(stay applied\): `1`/);
  });

  it('append a clean run’s summary to what earlier steps wrote, and write an empty report', async () => {
    const db = await database();
    const root = await project({ '001_users.sql': 'CREATE TABLE users (id int);\n' });
    await writeFile(join(root, 'report.md'), '# earlier step\n');

    const run = await runCli(
      ['plan', '--dir', 'db/migrations', '--summary', 'report.md', '--codequality', 'cq.json'],
      {
        installed: true,
        cwd: root,
        databaseUrl: db.url,
      },
    );

    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(await readFile(join(root, 'cq.json'), 'utf8')), []);
    const summary = await readFile(join(root, 'report.md'), 'utf8');
    assert.match(summary, /^# earlier step\n### ✅ `lockstep plan`: 1 pending migration\n/);
    assert.match(summary, /\*\*Drift\*\*: none/);
  });

  it('warn when a report cannot be written, and keep the command’s own exit code', async () => {
    const db = await database();
    const root = await project({ '001_users.sql': 'CREATE TABLE users (id int);\n' });

    const run = await runCli(['status', '--dir', 'db/migrations', '--summary', 'no/such/dir/report.md'], {
      installed: true,
      cwd: root,
      databaseUrl: db.url,
    });

    assert.equal(run.code, 0);
    assert.match(run.stderr, /warning: could not write --summary no\/such\/dir\/report\.md: ENOENT/);
  });
});
