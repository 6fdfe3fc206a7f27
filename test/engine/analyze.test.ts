import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { InvalidMigrationError } from '../../engine/errors.ts';
import { type MigrationFile, parseMigrationFiles } from '../../engine/migration-files.ts';
import { migrate } from '../../engine/runner.ts';
import { pgSession, type SqlSession } from '../../engine/session.ts';
import { freshDatabase, type TestDatabase } from '../support/database.ts';

const migrations = (entries: Record<string, string>): MigrationFile[] =>
  parseMigrationFiles(Object.entries(entries).map(([name, sql]) => [name, Buffer.from(sql)] as const));

/** What validation refused: `file:line:column: problem` for each problem. */
async function refused(session: SqlSession, files: Record<string, string>): Promise<string[]> {
  try {
    await migrate({ session }, migrations(files), { appliedBy: 'test' });
  } catch (err) {
    if (err instanceof InvalidMigrationError)
      return err.problems.map((p) => `${p.file}:${p.line ?? '?'}:${p.column ?? '?'}: ${p.problem}`);
    throw err;
  }
  assert.fail('the migrations were applied, not refused');
}

/** Validation changes nothing: no history table, no table the files would have made. */
async function assertUntouched(client: pg.Client): Promise<void> {
  const { rows } = await client.query(
    "SELECT count(*)::int AS n FROM pg_class WHERE relnamespace IN (SELECT oid FROM pg_namespace WHERE nspname IN ('public', 'lockstep'))",
  );
  assert.equal(rows[0].n, 0, 'validation created something');
}

describe('validation of pending migrations, against PostgreSQL', () => {
  let db: TestDatabase;
  let client: pg.Client;
  let session: SqlSession;
  before(async () => {
    db = await freshDatabase();
    client = await db.connect();
    session = pgSession(client);
  });
  after(() => db.drop());

  test('a syntax error after multi-byte text is placed at its line and column in characters', async () => {
    const problems = await refused(session, {
      '0001_a.sql': 'CREATE TABLE a (id int);',
      '0002_b.sql': "SELECT '日本語の説明 🎉';\nSELEC 1;",
    });
    assert.deepEqual(problems, ['0002_b.sql:2:1: syntax error: syntax error at or near "SELEC"']);
    await assertUntouched(client);
  });
});
