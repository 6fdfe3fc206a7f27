import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli-process.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const FILES: Record<string, string> = {
  '0001_orders.sql': 'CREATE TABLE orders (id int, total int);\n',
  '0002_carts.sql': 'CREATE TABLE carts (id int);\n',
  '0003_index.sql':
    'CREATE INDEX carts_id ON carts (id);\n-- lockstep:allow rename-column the old version never reads total\nALTER TABLE orders RENAME COLUMN total TO amount;\nALTER TABLE orders ADD COLUMN region text NOT NULL;\n',
};

describe('lockstep lint (installed)', () => {
  let cwd: string;
  let db: TestDatabase;
  before(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'lockstep-lint-'));
    mkdirSync(join(cwd, 'migrations'));
    for (const [name, sql] of Object.entries(FILES)) writeFileSync(join(cwd, 'migrations', name), sql);
    db = await freshDatabase();
  });
  after(async () => {
    rmSync(cwd, { recursive: true, force: true });
    await db?.drop();
  });

  test('without a database: every file pending, so what they create is new; exit 0 below --fail-on', async () => {
    const run = await runCli(['lint'], { cwd, installed: true });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'lint: no findings; static only: no database; fails on error: passed');
  });

  test('--since: earlier files count as applied; a finding at --fail-on exits 9, with file:line:col, effect, safe form and what was allowed', async () => {
    const run = await runCli(['lint', '--since', '3'], { cwd, installed: true });
    assert.equal(run.code, 9, run.stderr);
    assert.match(run.stdout, /^0003_index\.sql:1:26: warning index-not-concurrent \(carts\)$/m);
    assert.match(run.stdout, /^0003_index\.sql:4:31: error not-null-without-default \(orders\)$/m);
    assert.match(run.stdout, /^ {2}safe: add the column with a constant DEFAULT/m);
    assert.match(run.stdout, /^ {2}allowed: the old version never reads total$/m);
    assert.match(run.stdout, /fails on error: 1 failing$/m);
  });

  test('--format github writes workflow annotations under --dir; allowed findings are left out', async () => {
    const run = await runCli(['lint', '--since', '3', '--format', 'github', '--fail-on', 'info'], {
      cwd,
      installed: true,
    });
    assert.equal(run.code, 9);
    const annotations = run.stdout.split('\n').filter((l) => l.startsWith('::'));
    assert.deepEqual(
      annotations.map((l) => l.slice(0, l.indexOf('::', 2))),
      [
        '::warning file=migrations/0003_index.sql,line=1,col=26,title=lockstep index-not-concurrent',
        '::error file=migrations/0003_index.sql,line=4,col=31,title=lockstep not-null-without-default',
      ],
    );
    assert.ok(annotations.every((l) => !l.slice(2).includes('\n') && l.includes('%0Asafe: ')));
  });

  test('--json: one document with every finding, its severity and suppression', async () => {
    const run = await runCli(['lint', '--since', '3', '--json'], { cwd, installed: true });
    assert.equal(run.code, 9);
    const doc = JSON.parse(run.stdout);
    assert.deepEqual(
      [doc.command, doc.ok, doc.exitCode, doc.failOn, doc.failing, doc.live],
      ['lint', false, 9, 'error', 1, false],
    );
    assert.deepEqual(
      doc.findings.map((f: { rule: string; suppressed?: string }) => [f.rule, f.suppressed ?? null]),
      [
        ['index-not-concurrent', null],
        ['rename-column', 'the old version never reads total'],
        ['not-null-without-default', null],
      ],
    );
  });

  test('with a database: only pending files, sizes from it; plan shows the same findings and still exits 0', async () => {
    const migrate = await runCli(['migrate', '--dir', 'migrations'], {
      cwd,
      installed: true,
      databaseUrl: db.url,
    });
    assert.equal(migrate.code, 0, migrate.stderr);
    writeFileSync(join(cwd, 'migrations', '0004_more.sql'), 'CREATE INDEX orders_id ON orders (id);\n');
    const lint = await runCli(['lint', '--json'], { cwd, installed: true, databaseUrl: db.url });
    const doc = JSON.parse(lint.stdout);
    assert.equal(lint.code, 0, lint.stderr);
    assert.deepEqual(
      doc.findings.map((f: { rule: string; severity: string; tableBytes?: number }) => [
        f.rule,
        f.severity,
        typeof f.tableBytes,
      ]),
      [['index-not-concurrent', 'info', 'number']],
    );
    assert.equal(doc.live, true);

    const plan = await runCli(['plan'], { cwd, installed: true, databaseUrl: db.url });
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /^0004_more\.sql:1:27: info index-not-concurrent \(orders\)$/m);
    assert.match(plan.stdout, /sizes and sessions from the database/);
  });

  test('usage errors exit 2; a file lockstep would refuse exits 5', async () => {
    const bad = await runCli(['lint', '--fail-on', 'fatal'], { cwd, installed: true });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--fail-on: must be info, warning, error or never/);
    writeFileSync(join(cwd, 'migrations', '0005_broken.sql'), 'CREATE TABLE (;\n');
    const broken = await runCli(['lint'], { cwd, installed: true });
    assert.equal(broken.code, 5);
    assert.match(broken.stderr, /0005_broken\.sql:1:14/);
  });
});
