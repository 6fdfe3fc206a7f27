/**
 * The installed `lockstep`'s rehearsal in an app's own directory with the app's migration tool as the release
 * command (`release --local --command`), and `lockstep diagram`. Apart from ./release.test.ts so that each file
 * stays well inside the runner's per-file timeout.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot } from '../support/cli-process.ts';
import { processesIn } from '../support/processes.ts';
import { lockstep } from '../support/rehearsal-cli.ts';

describe('lockstep diagram (installed)', () => {
  test('prints the synthesized state machine from any directory', async () => {
    const run = await lockstep(tmpdir(), ['diagram'], { installed: true });
    assert.equal(run.code, 0, run.out);
    assert.match(run.out, /^flowchart TD$/m);
    assert.match(run.out, /Preflight/);
  });
});

describe('lockstep release --local --command (installed, in an app’s own directory)', () => {
  let app: string;
  before(() => {
    app = mkdtempSync(join(tmpdir(), 'lockstep-command-app-'));
    chmodSync(app, 0o755);
    mkdirSync(join(app, 'migrations'));
    // The app's own node_modules: knex and pg, as its `npm ci` would install them.
    symlinkSync(join(repoRoot, 'node_modules'), join(app, 'node_modules'));
    writeFileSync(
      join(app, 'knexfile.js'),
      "module.exports = { client: 'pg', connection: process.env.DATABASE_URL, migrations: { directory: './migrations' } };\n",
    );
    writeFileSync(
      join(app, 'migrations', '20260101000000_create_accounts.js'),
      "exports.up = (knex) => knex.raw('CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL)');\nexports.down = () => {};\n",
    );
    // What the released app sees: the columns of accounts.
    writeFileSync(
      join(app, 'columns.js'),
      `const c = new (require('pg').Client)({ connectionString: process.env.DATABASE_URL });
c.connect()
  .then(() => c.query("SELECT string_agg(column_name, ',' ORDER BY ordinal_position) AS s FROM information_schema.columns WHERE table_name = 'accounts'"))
  .then((r) => console.log('accounts:', r.rows[0].s))
  .finally(() => c.end());
`,
    );
  });
  after(() => rmSync(app, { recursive: true, force: true }));

  /** The installed `lockstep release --local` in the app, with knex (the app's own bin) as the command. */
  const releaseWithKnex = (args: string[]) =>
    lockstep(app, ['release', '--local', '--command', 'node_modules/.bin/knex migrate:latest', ...args], {
      installed: true,
    });

  test('bad flags are usage errors before anything starts', async () => {
    for (const [args, message] of [
      [['--command', '  '], /InvalidInputError: --command: is empty/],
      [['--command', 'knex migrate:latest && echo done'], /--command: has the shell operator "&"/],
      [
        ['--command', 'knex migrate:latest', '--dir', 'migrations'],
        /InvalidInputError: --dir: names SQL migrations/,
      ],
      [['--migration-timeout', '5m'], /InvalidInputError: --migration-timeout: applies to --command only/],
      [['--command', 'knex', '--migration-timeout', 'soon'], /--migration-timeout: must be a duration/],
      [
        ['--pending-check', 'node pending.js'],
        /InvalidInputError: --pending-check: applies to --command only/,
      ],
      [
        ['--command', 'knex migrate:latest', '--pending-check', 'npx knex migrate:status'],
        /--pending-check: is a status command that exits 0 whether or not migrations are pending/,
      ],
    ] as const) {
      const run = await lockstep(app, ['release', '--local', ...args], { installed: true });
      assert.equal(run.code, 2, run.out);
      assert.match(run.out, message);
    }
    assert.ok(!existsSync(join(app, '.lockstep')), 'no database was started');
  });

  test('the tool migrates in the working directory, then the release deploys; --run sees the new schema', async () => {
    writeFileSync(
      join(app, 'migrations', '20260102000000_add_account_name.js'),
      "exports.up = (knex) => knex.raw('ALTER TABLE accounts ADD COLUMN name text');\nexports.down = () => {};\n",
    );
    const run = await releaseWithKnex(['--release', 'first', '--run', 'node columns.js']);
    assert.equal(run.code, 0, run.out);
    for (const state of [
      'Register revision',
      'Create snapshot',
      'Run migration task',
      'Check migration task',
      'Start deploy',
    ])
      assert.match(run.out, new RegExp(`✓ ${state}`), state);
    assert.match(run.out, /^ {2}│ Batch 1 run: 2 migrations$/m, 'the tool’s output, as the task’s logs');
    assert.match(run.out, /the service now runs local\/app:first/);
    assert.match(run.out, /^accounts: id,email,name$/m);
  });

  test('--pending-check: nothing pending skips the snapshot and the migration and deploys; pending migrates', async () => {
    // The app's own check: exit 1 when knex has a pending migration, 0 when it has none.
    writeFileSync(
      join(app, 'pending.js'),
      `const knex = require('knex')(require('./knexfile.js'));
knex.migrate.list()
  .then(([, pending]) => { console.log('pending:', pending.length); process.exitCode = pending.length > 0 ? 1 : 0; })
  .finally(() => knex.destroy());
`,
    );
    const nothing = await releaseWithKnex(['--pending-check', 'node pending.js', '--release', 'checked']);
    assert.equal(nothing.code, 0, nothing.out);
    assert.match(nothing.out, /✓ Run pending check/);
    assert.match(nothing.out, /^ {2}│ pending: 0$/m);
    assert.doesNotMatch(nothing.out, /Create snapshot|Run migration task/);
    assert.match(nothing.out, /the service now runs local\/app:checked/);

    writeFileSync(
      join(app, 'migrations', '20260102120000_add_account_plan.js'),
      "exports.up = (knex) => knex.raw('ALTER TABLE accounts ADD COLUMN plan text');\nexports.down = () => {};\n",
    );
    const pending = await releaseWithKnex(['--pending-check', 'node pending.js', '--release', 'first']);
    assert.equal(pending.code, 0, pending.out);
    assert.match(pending.out, /^ {2}│ pending: 1$/m);
    assert.match(pending.out, /✓ Create snapshot/);
    assert.match(pending.out, /✓ Run migration task/);
    assert.match(pending.out, /the service now runs local\/app:first/);
  });

  test('a command that hangs is stopped at --migration-timeout: alert, exit 8, nothing deployed, no process left', async () => {
    writeFileSync(
      join(app, 'migrations', '20260103000000_stuck.js'),
      "exports.up = (knex) => knex.raw('SELECT pg_sleep(600)');\nexports.down = () => {};\n",
    );
    try {
      const run = await releaseWithKnex(['--migration-timeout', '3s', '--release', 'second']);
      assert.equal(run.code, 8, run.out);
      assert.match(run.out, /ALERT {2}lockstep: release failed at check migration task/);
      assert.match(
        run.out,
        /Error: MigrationTaskTimeoutError\nCause: the migration command did not finish within 3 s/,
      );
      assert.match(run.out, /was stopped \(StopTask\)/);
      assert.match(run.out, /the service now runs local\/app:first/);
      assert.deepEqual(processesIn(app), [], 'no process of the command is left');
    } finally {
      rmSync(join(app, 'migrations', '20260103000000_stuck.js'));
    }
  });
});
