/**
 * `adopt` against each tool's history table, created with the tool's own DDL (engine/adopt/tool-histories.ts cites
 * each) and filled as the tool fills it after applying the first two of three migrations; node-pg-migrate's is made by
 * node-pg-migrate itself. Then migrate applies only the third; a second adopt writes nothing; an edited file, and a
 * failed, dirty or rolled-back record, are refused by name.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type pg from 'pg';
import { adopt } from '../../engine/adopt/adopt.ts';
import { flywayChecksum, HISTORY_DDL } from '../../engine/adopt/tool-histories.ts';
import { AdoptRefusedError, ForeignHistoryError } from '../../engine/errors.ts';
import { ADOPTABLE_TOOLS, type AdoptableTool, DEFAULT_TABLES } from '../../engine/foreign-history.ts';
import { loadProject } from '../../engine/migration-files.ts';
import { migrate, plan } from '../../engine/runner.ts';
import { pgSession } from '../../engine/session.ts';
import { freshDatabase } from '../support/database.ts';
import { layoutDir, PROJECTS } from '../support/layout-dirs.ts';

const options = { appliedBy: 'adopt-test', lockRetryDelayMs: 20 };

/** Records the first two migrations as `tool` records them (node-pg-migrate runs itself). */
async function recordAsTool(tool: AdoptableTool, client: pg.Client, dir: string, url: string): Promise<void> {
  const project = await loadProject(dir, tool);
  const [one, two] = project.migrations;
  if (!one || !two) throw new Error('fixture has fewer than two migrations');
  if (tool === 'node-pg-migrate') {
    const { runner } = await import('node-pg-migrate');
    await runner({
      databaseUrl: url,
      dir,
      direction: 'up',
      migrationsTable: 'pgmigrations',
      count: 2,
      log: () => {},
    });
    return;
  }
  for (const m of [one, two]) await client.query(m.sql.replace(/CONCURRENTLY /g, ''));
  await client.query(HISTORY_DDL[tool](DEFAULT_TABLES[tool]));
  for (const [i, m] of [one, two].entries()) {
    const source = m.source ?? '';
    switch (tool) {
      case 'prisma':
        await client.query(
          'INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, started_at, applied_steps_count) VALUES ($1, $2, now(), $3, now(), 1)',
          [randomUUID(), createHash('sha256').update(source).digest('hex'), m.toolId],
        );
        break;
      case 'flyway':
        await client.query(
          `INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) VALUES ($1, $2, $3, 'SQL', $4, $5, 'test', 3, true)`,
          [i + 1, m.toolId, m.description, m.file, flywayChecksum(source)],
        );
        break;
      case 'golang-migrate':
        // One row: the version golang-migrate is at.
        await client.query('TRUNCATE schema_migrations');
        await client.query('INSERT INTO schema_migrations (version, dirty) VALUES ($1, false)', [m.toolId]);
        break;
      case 'dbmate':
      case 'diesel':
        await client.query(`INSERT INTO ${DEFAULT_TABLES[tool]} (version) VALUES ($1)`, [m.toolId]);
        break;
      case 'sqlx':
        await client.query(
          `INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES ($1, $2, true, decode($3, 'hex'), 100)`,
          [m.toolId, m.description, createHash('sha384').update(source).digest('hex')],
        );
        break;
    }
  }
}

describe('adopt', () => {
  for (const tool of ADOPTABLE_TOOLS) {
    test(`${tool}: migrate refuses before adopting; adopt takes over what ${tool} applied, once; migrate applies the rest`, async () => {
      const db = await freshDatabase();
      const d = await layoutDir(PROJECTS[tool]);
      const client = await db.connect();
      try {
        await recordAsTool(tool, client, d.dir, db.url);
        const session = pgSession(client);
        const { migrations } = await loadProject(d.dir);
        await assert.rejects(migrate({ session }, migrations, options), (err: unknown) => {
          assert.ok(err instanceof ForeignHistoryError, String(err));
          assert.match(err.message, new RegExp(`lockstep adopt --from ${tool}`));
          return true;
        });
        await assert.rejects(plan({ session }, migrations), ForeignHistoryError);

        const dry = await adopt({ session }, migrations, { tool, adoptedBy: 'ci', dryRun: true });
        assert.equal(dry.adopted.length, 2);
        const nothing = await client.query("SELECT to_regclass('lockstep.schema_history') IS NULL AS absent");
        assert.equal(nothing.rows[0].absent, true, 'a dry run writes nothing');

        const done = await adopt({ session }, migrations, { tool, adoptedBy: 'ci' });
        assert.deepEqual(
          done.adopted.map((a) => a.file),
          migrations.slice(0, 2).map((m) => m.file),
        );
        assert.deepEqual(done.pending, [migrations[2]?.file]);
        const again = await adopt({ session }, migrations, { tool, adoptedBy: 'ci' });
        assert.equal(again.adopted.length, 0);
        assert.equal(again.alreadyAdopted, 2);
        const rows = await client.query('SELECT applied_by FROM lockstep.schema_history ORDER BY version');
        assert.deepEqual(
          rows.rows.map((r) => r.applied_by),
          [`adopted from ${tool} by ci`, `adopted from ${tool} by ci`],
        );

        const result = await migrate({ session }, migrations, options);
        assert.deepEqual(
          result.applied.map((a) => a.file),
          [migrations[2]?.file],
        );
      } finally {
        await client.end();
        await d.cleanup();
        await db.drop();
      }
    });
  }

  const failures: Array<[AdoptableTool, string, RegExp]> = [
    [
      'prisma',
      'UPDATE _prisma_migrations SET finished_at = NULL WHERE migration_name = (SELECT min(migration_name) FROM _prisma_migrations)',
      /20240101000000_one failed or never finished/,
    ],
    ['prisma', 'UPDATE _prisma_migrations SET rolled_back_at = now()', /rolled back/],
    ['flyway', 'UPDATE flyway_schema_history SET success = false WHERE installed_rank = 2', /^ {2}2 failed/m],
    ['golang-migrate', 'UPDATE schema_migrations SET dirty = true', /2 is dirty/],
    [
      'sqlx',
      'UPDATE _sqlx_migrations SET success = false WHERE version = 20240102000000',
      /20240102000000 failed/,
    ],
  ];
  for (const [tool, breakIt, expected] of failures) {
    test(`${tool}: a failed, dirty or rolled-back record is refused, naming it (${breakIt.slice(0, 40)}…)`, async () => {
      const db = await freshDatabase();
      const d = await layoutDir(PROJECTS[tool]);
      const client = await db.connect();
      try {
        await recordAsTool(tool, client, d.dir, db.url);
        await client.query(breakIt);
        const { migrations } = await loadProject(d.dir);
        await assert.rejects(
          adopt({ session: pgSession(client) }, migrations, { tool, adoptedBy: 'ci' }),
          (err: unknown) => {
            assert.ok(err instanceof AdoptRefusedError, String(err));
            assert.match(err.message, expected);
            return true;
          },
        );
      } finally {
        await client.end();
        await d.cleanup();
        await db.drop();
      }
    });
  }

  for (const tool of ['prisma', 'flyway', 'sqlx'] as const) {
    test(`${tool}: a file edited after ${tool} applied it is refused against ${tool}'s own checksum`, async () => {
      const db = await freshDatabase();
      const d = await layoutDir(PROJECTS[tool]);
      const client = await db.connect();
      try {
        await recordAsTool(tool, client, d.dir, db.url);
        const first = (await loadProject(d.dir)).migrations[0];
        await writeFile(join(d.dir, first?.file ?? ''), `${first?.source}\n-- edited\n`);
        const { migrations } = await loadProject(d.dir);
        await assert.rejects(
          adopt({ session: pgSession(client) }, migrations, { tool, adoptedBy: 'ci' }),
          (err: unknown) => {
            assert.ok(err instanceof AdoptRefusedError, String(err));
            assert.match(err.message, new RegExp(`${first?.file}.*was edited after ${tool} applied it`));
            return true;
          },
        );
        const none = await client.query("SELECT to_regclass('lockstep.schema_history') IS NULL AS absent");
        assert.equal(none.rows[0].absent, true);
      } finally {
        await client.end();
        await d.cleanup();
        await db.drop();
      }
    });
  }
});
