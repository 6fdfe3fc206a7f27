import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { excerpt, SqlSyntaxError, splitStatements, TextIndex } from '../../engine/sql-text.ts';

describe('splitStatements', () => {
  test('splits as PostgreSQL does: quotes, dollar quotes, nested comments, E strings, BEGIN ATOMIC', async () => {
    const sql = [
      '-- lockstep:no-transaction',
      `CREATE TABLE "a;b" (x text DEFAULT 'it''s;');`,
      '/* outer ; /* nested ; */ still a comment ; */',
      `SELECT E'it\\'s; fine', $$ ; $$, $tag$ $$ ; $tag$;`,
      'CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql;',
      'CREATE FUNCTION g() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;',
      'CREATE INDEX CONCURRENTLY i ON t (x)',
      ';;',
      "SELECT 'last' -- no semicolon",
    ].join('\n');
    const statements = await splitStatements(sql);
    assert.deepEqual(
      statements.map((s) => [s.line, s.column, s.kind]),
      [
        [2, 1, 'CreateStmt'],
        [4, 1, 'SelectStmt'],
        [5, 1, 'CreateFunctionStmt'],
        [6, 1, 'CreateFunctionStmt'],
        [7, 1, 'IndexStmt'],
        [9, 1, 'SelectStmt'],
      ],
    );
    assert.equal(statements[1]?.text, `SELECT E'it\\'s; fine', $$ ; $$, $tag$ $$ ; $tag$`);
    assert.equal(statements[4]?.needsNoTransaction, 'CREATE INDEX CONCURRENTLY');
    assert.equal(statements[5]?.text, "SELECT 'last' -- no semicolon");
  });

  test('flags transaction control and statements that cannot run in a transaction', async () => {
    const statements = await splitStatements(
      'BEGIN; SAVEPOINT s; ROLLBACK TO s; COMMIT; VACUUM t; DROP INDEX CONCURRENTLY i; REINDEX TABLE CONCURRENTLY t;',
    );
    assert.deepEqual(
      statements.map((s) => s.controlsTransaction ?? s.needsNoTransaction ?? null),
      ['BEGIN', null, null, 'COMMIT', 'VACUUM', 'DROP INDEX CONCURRENTLY', 'REINDEX CONCURRENTLY'],
    );
  });

  test('positions count characters, not bytes, after multi-byte text', async () => {
    const sql = "INSERT INTO t VALUES ('héllo wörld 🎉');\n  SELECT 'ü';";
    const [, second] = await splitStatements(sql);
    assert.equal(second?.line, 2);
    assert.equal(second?.column, 3);
    assert.equal(second?.text, "SELECT 'ü'");
  });

  test('a syntax error reports where it is', async () => {
    const sql = 'SELECT 1;\nCREATE TABLE x (a int,, b int);';
    await assert.rejects(splitStatements(sql), (err: unknown) => {
      assert.ok(err instanceof SqlSyntaxError);
      assert.match(err.message, /syntax error at or near ","/);
      assert.deepEqual(new TextIndex(sql).lineColumn(err.index), { line: 2, column: 23 });
      return true;
    });
  });

  test('a syntax error after multi-byte and astral-plane text is placed by characters, not bytes', async () => {
    // Each case: the SQL, and the text the error must point at (its last occurrence).
    const cases: Array<[string, string]> = [
      ["SELECT '日本語の説明';\nSELEC 1;", 'SELEC'],
      ["SELECT '🎉🎉 é';\n  SELEC 1;", 'SELEC'],
      ["SELECT '🎉' AS \"ü\", 'é', FROM t;", 'FROM'],
    ];
    for (const [sql, at] of cases) {
      await assert.rejects(splitStatements(sql), (err: unknown) => {
        assert.ok(err instanceof SqlSyntaxError);
        assert.equal(err.index, sql.lastIndexOf(at), sql);
        return true;
      });
    }
  });
});

describe('TextIndex', () => {
  test('maps byte and character offsets to the same place', () => {
    const index = new TextIndex('a🎉b\ncé');
    assert.equal(index.fromByteOffset(5), 3); // 'a' 1 byte + emoji 4 bytes → UTF-16 index 3
    assert.equal(index.fromCharOffset(2), 3); // 'a', emoji → index 3
    assert.deepEqual(index.lineColumn(3), { line: 1, column: 3 });
    assert.deepEqual(index.lineColumn(6), { line: 2, column: 2 });
  });
});

test('excerpt folds whitespace and truncates', () => {
  assert.equal(excerpt('SELECT\n   1,\n  2'), 'SELECT 1, 2');
  assert.equal(excerpt('x'.repeat(300)).length, 240);
});
