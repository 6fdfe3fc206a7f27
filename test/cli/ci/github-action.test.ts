/**
 * The GitHub Action's step as a runner runs it: `node dist/github-action.cjs` with inputs as `INPUT_*` variables,
 * GITHUB_WORKSPACE, GITHUB_STEP_SUMMARY and GITHUB_OUTPUT files, against a real PostgreSQL.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from '../../support/cli-process.ts';
import { freshDatabase, type TestDatabase } from '../../support/database.ts';

const ACTION = join(repoRoot, 'dist', 'github-action.cjs');

const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  await Promise.all(cleanups.map((c) => c()));
});

async function database(): Promise<TestDatabase> {
  const db = await freshDatabase();
  cleanups.push(() => db.drop());
  return db;
}

/** A workspace with an app in `app/` and its migrations in `app/db/migrations`. */
async function workspace(files: Record<string, string>) {
  const root = await mkdtemp(join(tmpdir(), 'lockstep-action-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const dir = join(root, 'app', 'db', 'migrations');
  await mkdir(dir, { recursive: true });
  await Promise.all(Object.entries(files).map(([name, sql]) => writeFile(join(dir, name), sql)));
  const summary = join(root, 'summary.md');
  const output = join(root, 'output.txt');
  await writeFile(summary, '');
  await writeFile(output, '');
  return { root, summary, output };
}

interface StepRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly summary: string;
  readonly outputs: Record<string, string>;
}

/** Parses GITHUB_OUTPUT's `name<<delimiter` blocks. */
function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const match = /^([\w-]+)<<(.+)$/.exec(lines[i] ?? '');
    if (!match?.[1] || !match[2]) continue;
    const end = lines.indexOf(match[2], i + 1);
    assert.ok(end > i, `output ${match[1]} has no closing delimiter`);
    outputs[match[1]] = lines.slice(i + 1, end).join('\n');
    i = end;
  }
  return outputs;
}

async function runStep(
  ws: Awaited<ReturnType<typeof workspace>>,
  inputs: Record<string, string>,
): Promise<StepRun> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: ws.root,
    GITHUB_STEP_SUMMARY: ws.summary,
    GITHUB_OUTPUT: ws.output,
    INPUT_WORKING_DIRECTORY: 'app',
    INPUT_DIR: 'db/migrations',
    INPUT_RELEASE: 'v1.2.3',
    ...Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k}`, v])),
  };
  const child = spawn(process.execPath, [ACTION], { cwd: ws.root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  // A hung step fails its test, never the suite.
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const code = await new Promise<number | null>((done) => child.on('close', done)).finally(() =>
    clearTimeout(timer),
  );
  return {
    code,
    stdout,
    stderr,
    summary: await readFile(ws.summary, 'utf8'),
    outputs: parseOutputs(await readFile(ws.output, 'utf8')),
  };
}

describe('the GitHub Action step', () => {
  it('migrates, then annotates the failing file at its line and column, and fails with lockstep’s exit code', async () => {
    const db = await database();
    const ws = await workspace({
      '001_users.sql': 'CREATE TABLE users (id int PRIMARY KEY);\n',
      '002_broken.sql': '-- a comment\nCREATE TABLE orders (id int);\nSELECT 1 / 0;\n',
    });

    const run = await runStep(ws, { COMMAND: 'migrate', DATABASE_URL: db.url });

    assert.equal(run.code, 3, run.stderr);
    const annotation = run.stdout.split('\n').find((l) => l.startsWith('::error '));
    assert.ok(annotation, run.stdout);
    assert.match(
      annotation,
      /^::error file=app\/db\/migrations\/002_broken\.sql,line=3,col=1,title=MigrationFailedError \[SQLSTATE 22012\]::division by zero$/,
    );
    assert.match(run.summary, /❌ `lockstep migrate` failed: MigrationFailedError/);
    assert.match(run.summary, /\*\*Applied before the failure\*\* \(stay applied\): `1`/);
    assert.match(run.summary, /\*\*Error\*\*/);
    assert.deepEqual(run.outputs, {
      'pending-count': '',
      'applied-count': '1',
      'exit-code': '3',
      'error-name': 'MigrationFailedError',
      'finding-count': '0',
    });
    assert.ok(
      !run.stdout.includes(db.url) && !run.summary.includes(db.url),
      'the database URL is never printed',
    );
    const applied = await (await db.connect()).query(
      'SELECT version FROM lockstep.schema_history ORDER BY version',
    );
    assert.deepEqual(
      applied.rows.map((r) => r.version),
      ['1'],
      'what ran before the failure stays applied',
    );
  });

  it('reports what a migrate applied, with durations, and sets the counts a later job reads', async () => {
    const db = await database();
    const ws = await workspace({
      '001_users.sql': 'CREATE TABLE users (id int PRIMARY KEY);\n',
      '002_email.sql': 'ALTER TABLE users ADD COLUMN email text;\n',
    });

    const plan = await runStep(ws, { COMMAND: 'plan', DATABASE_URL: db.url });
    const migrate = await runStep(ws, { COMMAND: 'migrate', DATABASE_URL: db.url });

    assert.equal(plan.code, 0, plan.stderr);
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.match(migrate.summary, /✅ `lockstep plan`: 2 pending migrations/);
    assert.match(migrate.summary, /- `001_users\.sql`\n- `002_email\.sql`/);
    assert.match(migrate.summary, /✅ `lockstep migrate` applied 2 migrations in /);
    assert.match(migrate.summary, /\| `002_email\.sql` \| \d+ ms \|/);
    assert.equal(migrate.outputs['applied-count'], '2');
    assert.equal(migrate.outputs['pending-count'], '0');
    assert.equal(migrate.outputs['exit-code'], '0');
    assert.equal(migrate.outputs['error-name'], '');
    assert.doesNotMatch(migrate.stdout, /^::error/m);
  });

  it('annotates an edited applied migration when plan refuses', async () => {
    const db = await database();
    const ws = await workspace({ '001_users.sql': 'CREATE TABLE users (id int PRIMARY KEY);\n' });
    assert.equal((await runStep(ws, { COMMAND: 'migrate', DATABASE_URL: db.url })).code, 0);
    await writeFile(
      join(ws.root, 'app', 'db', 'migrations', '001_users.sql'),
      'CREATE TABLE users (id bigint);\n',
    );

    const run = await runStep(ws, { COMMAND: 'plan', DATABASE_URL: db.url });

    assert.equal(run.code, 5, run.stderr);
    assert.match(
      run.stdout,
      /^::error file=app\/db\/migrations\/001_users\.sql,line=1,title=ChecksumMismatchError::/m,
    );
    assert.match(run.summary, /edited after it was applied: `001_users\.sql`/);
    assert.equal(run.outputs['error-name'], 'ChecksumMismatchError');
  });

  it('lints against the database: a finding becomes an annotation at its statement and fails the step', async () => {
    const db = await database();
    const ws = await workspace({ '001_users.sql': 'CREATE TABLE users (id int PRIMARY KEY, email text);\n' });
    assert.equal((await runStep(ws, { COMMAND: 'migrate', DATABASE_URL: db.url })).code, 0);
    await writeFile(
      join(ws.root, 'app', 'db', 'migrations', '002_drop_email.sql'),
      '-- the app stopped reading it\nALTER TABLE users DROP COLUMN email;\n',
    );

    const run = await runStep(ws, { COMMAND: 'lint', DATABASE_URL: db.url });

    assert.equal(run.code, 9, run.stderr);
    assert.match(
      run.stdout,
      /^::error file=app\/db\/migrations\/002_drop_email\.sql,line=2,col=1,title=lockstep lint%3A drop-column::ALTER TABLE users DROP COLUMN email%0Adrops a column/m,
    );
    assert.match(run.summary, /❌ `lockstep lint`: 1 finding, failing at error/);
    assert.match(run.summary, /\| error \| `drop-column` \| `002_drop_email\.sql:2:1` \|/);
    assert.equal(run.outputs['finding-count'], '1');
    assert.equal(run.outputs['pending-count'], '1');
    assert.equal(run.outputs['exit-code'], '9');
  });

  it('refuses a command it does not know before running anything', async () => {
    const ws = await workspace({});

    const run = await runStep(ws, { COMMAND: 'drop-database' });

    assert.equal(run.code, 2);
    assert.match(
      run.stdout,
      /^::error title=lockstep action::input command: must be one of plan, migrate, status, lint/m,
    );
    assert.deepEqual(run.outputs, {});
  });

  it('refuses a database URL smuggled into args, where it would show in the process list', async () => {
    const ws = await workspace({});

    const run = await runStep(ws, { COMMAND: 'plan', ARGS: '--database-url postgres://u:p@h/db' });

    assert.equal(run.code, 2);
    assert.match(run.stdout, /pass the URL as the database-url input/);
  });
});
