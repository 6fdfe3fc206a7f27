import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidInputError, InvalidMigrationError } from '../../../engine/errors.ts';
import { flywayVersion } from '../../../engine/layouts/flyway.ts';
import { LAYOUT_NAMES, type LayoutName, refuseForeignLayout } from '../../../engine/layouts/read.ts';
import { loadProject } from '../../../engine/migration-files.ts';
import { layoutDir, PROJECTS } from '../../support/layout-dirs.ts';

async function read(files: Record<string, string>, layout?: LayoutName) {
  const d = await layoutDir(files);
  try {
    return await loadProject(d.dir, layout);
  } finally {
    await d.cleanup();
  }
}

async function refused(files: Record<string, string>, pattern: RegExp, layout?: LayoutName) {
  await assert.rejects(read(files, layout), (err: unknown) => {
    assert.ok(err instanceof InvalidMigrationError, String(err));
    assert.match(err.message, pattern);
    return true;
  });
}

describe('layouts', () => {
  for (const layout of LAYOUT_NAMES) {
    test(`${layout}: detected, three migrations in the tool's order, the second outside a transaction where the tool says so`, async () => {
      const project = await read(PROJECTS[layout]);
      assert.equal(project.layout, layout);
      assert.equal(project.detected, true);
      assert.equal(project.migrations.length, 3);
      assert.deepEqual(
        project.migrations.map((m) => m.sql.match(/CREATE TABLE (t\d)/)?.[1]),
        ['t1', 't2', 't3'],
      );
      for (const m of project.migrations) assert.doesNotMatch(m.sql, /DROP TABLE/, 'down sections never run');
      const second = project.migrations[1];
      const toolSaysNoTransaction = !['golang-migrate', 'node-pg-migrate', 'prisma'].includes(layout);
      assert.equal(second?.noTransaction, toolSaysNoTransaction);
    });
  }

  test('--layout forces a layout over detection', async () => {
    const project = await read(PROJECTS.lockstep, 'sqlx');
    assert.equal(project.layout, 'sqlx');
    assert.equal(project.detected, false);
  });

  test('flyway: repeatable migrations are refused by name, undo files ignored, dotted versions ordered as Flyway orders them', async () => {
    await refused(
      { 'V1__a.sql': 'SELECT 1;', 'R__views.sql': 'SELECT 1;' },
      /R__views\.sql: is a Flyway repeatable/,
    );
    const project = await read({
      'V1.1__b.sql': 'SELECT 2;',
      'V1.0.1__a.sql': 'SELECT 1;',
      'V1_2__c.sql': 'SELECT 3;',
    });
    assert.deepEqual(
      project.migrations.map((m) => m.file),
      ['V1.0.1__a.sql', 'V1.1__b.sql', 'V1_2__c.sql'],
    );
    assert.deepEqual(
      project.migrations.map((m) => m.toolId),
      ['1.0.1', '1.1', '1.2'],
    );
    assert.equal(flywayVersion('1.2.3'), 1_000_002_000_003n);
    assert.equal(flywayVersion('7'), 7n);
    // V2 after V1.1: 2 < 1000001000000 would reorder them, so it is refused rather than run out of Flyway's order.
    await refused({ 'V1.1__a.sql': 'SELECT 1;', 'V2__b.sql': 'SELECT 1;' }, /its version 2 is lower/);
  });

  test('diesel: a metadata.toml without run_in_transaction reads as false, as diesel reads it; an unparsable one is refused', async () => {
    const project = await read({ '1_a/up.sql': 'SELECT 1;', '1_a/metadata.toml': 'other = 1\n' });
    assert.equal(project.migrations[0]?.noTransaction, true);
    await refused(
      { '1_a/up.sql': 'SELECT 1;', '1_a/metadata.toml': 'run_in_transaction = \n' },
      /not valid TOML/,
    );
  });

  test('prisma: a lock file for another provider, and a directory name without a leading number, are refused', async () => {
    await refused(
      { 'migration_lock.toml': 'provider = "mysql"\n', '1_a/migration.sql': 'SELECT 1;' },
      /provider "mysql"/,
    );
    await refused({ 'migration_lock.toml': '', 'init/migration.sql': 'SELECT 1;' }, /must start with digits/);
  });

  test('dbmate: SQL before the up line, and a file with no up line, are refused', async () => {
    await refused(
      { '1_a.sql': 'SELECT 0;\n-- migrate:up\nSELECT 1;' },
      /SQL before "-- migrate:up"|no "-- migrate:up"/,
      'dbmate',
    );
    await refused({ '1_a.sql': 'SELECT 1;' }, /no "-- migrate:up" line/, 'dbmate');
  });

  test('node-pg-migrate: JavaScript migrations are refused; a file without markers runs whole', async () => {
    await refused(
      { '1_a.js': 'exports.up = () => {};', '2_b.sql': 'SELECT 1;' },
      /SQL migrations only/,
      'node-pg-migrate',
    );
    const project = await read({ '1_a.sql': 'SELECT 1;' }, 'node-pg-migrate');
    assert.equal(project.migrations[0]?.sql, 'SELECT 1;');
  });

  test('prisma: a file with its own BEGIN/COMMIT is accepted and known to manage its transactions', async () => {
    const project = await read(PROJECTS.prisma);
    const analysis = await project.migrations[1]?.analyze();
    assert.deepEqual(analysis?.problems, []);
    assert.equal(analysis?.selfManaged, true);
    assert.equal((await project.migrations[0]?.analyze())?.selfManaged, undefined);
  });

  test("publish and the bundler refuse another tool's layout by name, and accept lockstep's", async () => {
    const prisma = await layoutDir(PROJECTS.prisma);
    const own = await layoutDir(PROJECTS.lockstep);
    try {
      assert.throws(
        () => refuseForeignLayout(prisma.dir, 'lockstep publish'),
        (err: unknown) => {
          assert.ok(err instanceof InvalidInputError);
          assert.match(
            err.message,
            /laid out for prisma: lockstep publish carries lockstep's own layout only/,
          );
          return true;
        },
      );
      refuseForeignLayout(own.dir, 'lockstep publish');
    } finally {
      await prisma.cleanup();
      await own.cleanup();
    }
  });
});
