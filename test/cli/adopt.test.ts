/**
 * Adopting from the installed CLI, end to end: a dbmate project that dbmate half applied (its table made with dbmate's
 * own DDL), refused by `migrate` until adopted, adopted (a dry run first), then `migrate` applies only the rest.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { HISTORY_DDL } from '../../engine/adopt/tool-histories.ts';
import { runCli } from '../support/cli-process.ts';
import { freshDatabase } from '../support/database.ts';
import { layoutDir, PROJECTS } from '../support/layout-dirs.ts';

const cleanups: Array<() => Promise<unknown>> = [];
after(() => Promise.all(cleanups.map((c) => c())));

describe('lockstep adopt (installed)', () => {
  test('migrate refuses, adopt takes the history over, then migrate applies only what dbmate had not', async () => {
    const db = await freshDatabase();
    const project = await layoutDir(PROJECTS.dbmate);
    cleanups.push(() => db.drop(), project.cleanup);
    const client = await db.connect();
    // What dbmate leaves after applying the first two files.
    await client.query('CREATE TABLE t1 (id int); CREATE INDEX t1_id ON t1 (id); CREATE TABLE t2 (id int)');
    await client.query(HISTORY_DDL.dbmate('schema_migrations'));
    await client.query("INSERT INTO schema_migrations VALUES ('20240101000000'), ('20240102000000')");
    const lockstep = (args: string[]) =>
      runCli([...args, '--dir', project.dir], { installed: true, databaseUrl: db.url });

    const refused = await lockstep(['migrate']);
    const dry = await lockstep(['adopt', '--from', 'dbmate', '--dry-run', '--json']);
    const adopted = await lockstep(['adopt', '--from', 'dbmate', '--release', 'switch-1']);
    const migrated = await lockstep(['migrate', '--json']);

    assert.equal(refused.code, 5, refused.stderr);
    assert.match(refused.stderr, /ForeignHistoryError: .*public\.schema_migrations \(dbmate\) holds 2 rows/);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(JSON.parse(dry.stdout).pending, ['20240103000000_three.sql']);
    assert.equal(adopted.code, 0, adopted.stderr);
    assert.match(adopted.stdout, /^adopted 2 migrations from dbmate \(public\.schema_migrations\)/);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.deepEqual(
      JSON.parse(migrated.stdout).applied.map((a: { file: string }) => a.file),
      ['20240103000000_three.sql'],
    );
    const { rows } = await client.query('SELECT applied_by FROM lockstep.schema_history ORDER BY version');
    assert.deepEqual(
      rows.slice(0, 2).map((r) => r.applied_by),
      ['adopted from dbmate by switch-1', 'adopted from dbmate by switch-1'],
    );
    assert.match(String(rows[2]?.applied_by), /^cli@/, 'the third ran now');
  });
});
