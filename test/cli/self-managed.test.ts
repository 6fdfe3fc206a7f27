/**
 * A Prisma file that runs its own transaction, and the runner killed (SIGKILL, a real process) between the "started"
 * and "finished" history rows: the next run refuses to guess, plan says why, and `repair --resolve` settles it.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCli, spawnCli, waitFor } from '../support/cli-process.ts';
import { freshDatabase } from '../support/database.ts';
import { layoutDir } from '../support/layout-dirs.ts';

const SLOW = 'BEGIN;\nCREATE TABLE t2 (id int);\nSELECT pg_sleep(60);\nCOMMIT;\n';

test('a runner killed inside a self-managed migration leaves it in doubt; the next run refuses until it is resolved', async () => {
  const db = await freshDatabase();
  const d = await layoutDir({
    'migration_lock.toml': 'provider = "postgresql"\n',
    '20240101000000_one/migration.sql': 'CREATE TABLE t1 (id int);\n',
    '20240102000000_two/migration.sql': SLOW,
  });
  const check = await db.connect();
  try {
    const run = spawnCli(['migrate', '--dir', d.dir], { databaseUrl: db.url });
    await waitFor(
      'the started row and the file running',
      async () => {
        const { rows } = await check
          .query(
            `SELECT (SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid())::int AS running,
             (SELECT count(*) FROM lockstep.schema_history WHERE version = 20240102000000 AND NOT success AND failed_statement = 0)::int AS started`,
          )
          .catch(() => ({ rows: [{ running: 0, started: 0 }] }));
        return rows[0].running === 1 && rows[0].started === 1 ? true : undefined;
      },
      30_000,
    );
    run.child.kill('SIGKILL');
    await run.done;
    await waitFor('the killed run’s backend to end', async () => {
      const { rows } = await check.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()",
      );
      return rows[0].n === 0 ? true : undefined;
    });

    const again = await runCli(['migrate', '--dir', d.dir], { databaseUrl: db.url });
    assert.equal(again.code, 5, again.stderr);
    assert.match(again.stderr, /InDoubtMigrationError/);
    assert.match(again.stderr, /20240102000000_two\/migration\.sql/);
    assert.match(again.stderr, /lockstep repair --resolve/);
    const plan = await runCli(['plan', '--dir', d.dir, '--json'], { databaseUrl: db.url });
    assert.equal(plan.code, 5);
    const planned = JSON.parse(plan.stdout);
    assert.equal(planned.layout.name, 'prisma');
    assert.equal(planned.inDoubt[0].version, '20240102000000');
    assert.equal(planned.error.name, 'InDoubtMigrationError');

    // The server rolled the killed transaction back: nothing of it committed.
    const { rows } = await check.query("SELECT to_regclass('t2') IS NULL AS absent");
    assert.equal(rows[0].absent, true);
    const resolve = await runCli(
      [
        'repair',
        '--dir',
        d.dir,
        '--resolve',
        '20240102000000',
        '--rolled-back',
        '--reason',
        'killed; t2 absent',
      ],
      { databaseUrl: db.url },
    );
    assert.equal(resolve.code, 0, resolve.stderr);
    const audit = await check.query('SELECT action, reason FROM lockstep.schema_history_repairs');
    assert.deepEqual(audit.rows, [{ action: 'resolve-rolled-back', reason: 'killed; t2 absent' }]);

    await writeFile(join(d.dir, '20240102000000_two/migration.sql'), SLOW.replace('60', '0'));
    const done = await runCli(['migrate', '--dir', d.dir], { databaseUrl: db.url });
    assert.equal(done.code, 0, done.stderr);
    const history = await check.query(
      'SELECT version::text, success, failed_statement FROM lockstep.schema_history ORDER BY version',
    );
    assert.deepEqual(history.rows, [
      { version: '20240101000000', success: true, failed_statement: null },
      { version: '20240102000000', success: true, failed_statement: null },
    ]);
  } finally {
    await check.end();
    await d.cleanup();
    await db.drop();
  }
});
