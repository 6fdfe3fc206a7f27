import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadModule, parseSync } from 'libpg-query';
import { SqlSyntaxError, splitStatements } from '../../engine/sql-parser.ts';
import { TextIndex } from '../../engine/sql-text.ts';

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

  test('a text of only whitespace, semicolons and comments has no statements, and an empty one neither', async () => {
    for (const sql of ['', ' \n\t', '-- TODO\n/* later; */ ;\n', ';;'])
      assert.deepEqual(await splitStatements(sql), [], JSON.stringify(sql));
  });

  test('whitespace around a statement is what PostgreSQL skips: a vertical tab is, a no-break space is not', async () => {
    const statements = await splitStatements('\vSELECT 1 AS x\u00a0;\v\f\nSELECT 2\v;');
    assert.deepEqual(
      statements.map((st) => [st.text, st.start]),
      [
        ['SELECT 1 AS x\u00a0', 1],
        ['SELECT 2', 19],
      ],
    );
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

/**
 * A large file of the constructs that make splitting hard, in a varying order, so that the chunk boundaries of
 * {@link splitStatements} fall inside each of them: multi-line strings and comments holding semicolons, dollar
 * quotes, BEGIN ATOMIC bodies, and multi-byte and astral-plane characters.
 */
function trickySql(targetChars: number): string {
  const kinds = [
    (i: number) => `INSERT INTO t VALUES (${i}, 'héllo; wörld 🎉\n;still the string ${i}');`,
    (i: number) => `/* a comment ; /* nested ; */ ${i} ; */ SELECT ${i} AS "ü;${i}";`,
    (i: number) =>
      `CREATE FUNCTION f${i}() RETURNS int AS $body$\nBEGIN\n  RETURN ${i}; -- ; 日本\nEND;\n$body$ LANGUAGE plpgsql;`,
    (i: number) =>
      `CREATE FUNCTION g${i}() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT ${i};\nEND;`,
    (i: number) => `-- line comment ; 🎉\nSELECT E'it\\'s; ${i}', $$ ; $$;;`,
    (i: number) => `SELECT ${'x, '.repeat(i % 300)}${i};`,
  ];
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < targetChars; i++) {
    const part = `${(kinds[(i * 7) % kinds.length] as (i: number) => string)(i)}${i % 3 === 0 ? ' ' : '\n'}`;
    parts.push(part);
    length += part.length;
  }
  return parts.join('');
}

/** Statement starts as one parse of the whole text reports them (UTF-8 byte offsets), as UTF-16 indexes. */
function wholeFileStarts(sql: string): Array<{ start: number; kind: string }> {
  const utf16At = new Int32Array(Buffer.byteLength(sql) + 1);
  let bytes = 0;
  for (let i = 0; i < sql.length; ) {
    const cp = sql.codePointAt(i) as number;
    const n = Buffer.byteLength(String.fromCodePoint(cp));
    for (let b = 0; b < n; b++) utf16At[bytes + b] = i;
    bytes += n;
    i += cp > 0xffff ? 2 : 1;
  }
  utf16At[bytes] = sql.length;
  return (parseSync(sql).stmts ?? []).map((raw) => ({
    start: utf16At[raw.stmt_location ?? 0] as number,
    kind: Object.keys(raw.stmt ?? {})[0] ?? '',
  }));
}

describe('splitStatements on large files', () => {
  test('splits a file of many chunks exactly as one parse of the whole file does', async () => {
    await loadModule();
    const sql = trickySql(1_200_000);
    const statements = await splitStatements(sql);
    const expected = wholeFileStarts(sql);
    assert.equal(statements.length, expected.length);
    let line = 1;
    let lineStart = 0;
    let scanned = 0;
    statements.forEach((st, i) => {
      const want = expected[i] as { start: number; kind: string };
      assert.equal(st.kind, want.kind, `statement ${i + 1}`);
      // The engine's start skips the whitespace and comments the parser's location includes.
      assert.ok(st.start >= want.start, `statement ${i + 1}`);
      assert.equal(sql.slice(st.start, st.start + 12), st.text.slice(0, 12));
      for (; scanned < st.start; scanned++) {
        if (sql[scanned] === '\n') {
          line++;
          lineStart = scanned + 1;
        }
      }
      assert.deepEqual(
        [st.line, st.column],
        [line, [...sql.slice(lineStart, st.start)].length + 1],
        `statement ${i + 1}`,
      );
    });
  });

  test('a syntax error far into a large file, inside a statement split across chunks, is placed exactly', async () => {
    const head = trickySql(700_000);
    const sql = `${head}CREATE FUNCTION broken() RETURNS int AS $$ ; $$ LANGUAGE sql;\nSELECT '🎉' FROM FROM t;\nSELECT 1;`;
    await assert.rejects(splitStatements(sql), (err: unknown) => {
      assert.ok(err instanceof SqlSyntaxError);
      assert.equal(err.index, sql.lastIndexOf('FROM t'));
      return true;
    });
  });

  test('lets the event loop run while it parses, so a signal is handled during a long parse', async () => {
    const sql = "INSERT INTO t VALUES (1, 'a row of a large data migration');\n".repeat(40_000);
    let turns = 0;
    let counting = true;
    const count = () => {
      if (!counting) return;
      turns++;
      setImmediate(count);
    };
    setImmediate(count);
    const statements = await splitStatements(sql);
    counting = false;
    assert.equal(statements.length, 40_000);
    assert.ok(turns >= 10, `the event loop ran ${turns} times during a 2.4 MB parse`);
  });
});
