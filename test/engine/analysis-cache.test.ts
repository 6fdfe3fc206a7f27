import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type AnalysisStore, analysisKey, cachedAnalyzer } from '../../engine/analysis-cache.ts';
import { analyzeMigration } from '../../engine/analyze.ts';
import { migrationChecksum } from '../../engine/checksum.ts';
import { readHeader } from '../../engine/directives.ts';
import type { Analyzer, FileAnalysis, MigrationText } from '../../engine/migration.ts';

/** A store in memory, with what was read and written. */
function memoryStore(): AnalysisStore & { readonly map: Map<string, string>; writes: number } {
  const map = new Map<string, string>();
  return {
    map,
    writes: 0,
    read: (key) => map.get(key),
    write(key, value) {
      this.writes++;
      map.set(key, value);
    },
  };
}

/** The parser's analysis, counted. */
function countingParser(): { analyze: Analyzer; calls: () => number } {
  let calls = 0;
  return {
    analyze: (m) => {
      calls++;
      return analyzeMigration(m);
    },
    calls: () => calls,
  };
}

function text(sql: string, more: Partial<MigrationText> = {}): MigrationText {
  return {
    version: 1n,
    file: '1_test.sql',
    description: 'test',
    checksum: migrationChecksum(sql),
    noTransaction: readHeader(sql).noTransaction,
    sql,
    ...more,
  };
}

/** Statements as the runner reads them (the parser's carry more, which nothing that runs a file uses). */
const asRun = (a: FileAnalysis) => ({
  statements: a.statements.map(({ text, start, line, column }) => ({ text, start, line, column })),
  problems: a.problems,
  selfManaged: a.selfManaged === true,
});

const TRICKY =
  "\ufeff-- a comment; not a statement\r\nCREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $b$ BEGIN RETURN 1; END $b$;\r\n/* outer /* nested; */ still; */\nSELECT E'a\\';b', 'é🎉;' AS \"x;y\";\vSELECT 2 -- no semicolon";

describe('the analysis cache', () => {
  test('a file checked once is not parsed again, and runs the same statements at the same lines', async () => {
    const store = memoryStore();
    const parser = countingParser();
    const analyze = cachedAnalyzer(parser.analyze, store);
    const m = text(TRICKY.slice(1));
    const first = await analyze(m);
    const second = await analyze(m);
    assert.equal(parser.calls(), 1);
    assert.equal(store.writes, 1);
    assert.deepEqual(asRun(second), asRun(first));
    assert.equal(first.statements.length, 3);
    assert.deepEqual(
      second.statements.map((s) => [s.line, s.column]),
      [
        [2, 1],
        [4, 1],
        [4, 34],
      ],
    );
  });

  test('a file that runs its own transactions is restored as one', async () => {
    const store = memoryStore();
    const parser = countingParser();
    const analyze = cachedAnalyzer(parser.analyze, store);
    const m = text('BEGIN;\nCREATE TABLE t (x int);\nCOMMIT;\n', { ownTransactions: true });
    const first = await analyze(m);
    assert.equal(first.selfManaged, true);
    const second = await analyze(m);
    assert.equal(parser.calls(), 1);
    assert.deepEqual(asRun(second), asRun(first));
  });

  test('a file with problems is never kept: its problems are always the parser’s', async () => {
    const store = memoryStore();
    const parser = countingParser();
    const analyze = cachedAnalyzer(parser.analyze, store);
    const m = text('CREATE INDEX CONCURRENTLY i ON t (x);\n');
    assert.equal((await analyze(m)).problems.length, 1);
    assert.equal((await analyze(m)).problems.length, 1);
    assert.equal(parser.calls(), 2);
    assert.equal(store.writes, 0);
  });

  test('the key holds everything the analysis reads: the text, its directives, its tool’s transactions', () => {
    const sql = 'BEGIN;\nCREATE TABLE t (x int);\nCOMMIT;\n';
    const keys = new Set([
      analysisKey(text(sql)),
      analysisKey(text(`${sql} `)),
      analysisKey(text(sql, { ownTransactions: true })),
      analysisKey(text(sql, { noTransaction: true })),
      analysisKey(text(sql, { afterDeploy: true })),
    ]);
    assert.equal(keys.size, 5);
    // Its name, version and description are not read by the analysis of a file without problems.
    assert.equal(analysisKey(text(sql, { file: '2_other.sql', version: 2n })), analysisKey(text(sql)));
  });

  test('the same text with a different directive is parsed again, and judged by its own directive', async () => {
    const store = memoryStore();
    const analyze = cachedAnalyzer(analyzeMigration, store);
    const sql = 'CREATE INDEX CONCURRENTLY i ON t (x);\n';
    const clean = await analyze(text(`-- lockstep:no-transaction\n${sql}`));
    assert.deepEqual(clean.problems, []);
    const without = await analyze(text(sql));
    assert.equal(without.problems.length, 1);
  });

  for (const [what, value] of [
    ['not JSON', '{"statements": [[0, 22]'],
    ['no statements', '{"statements": []}'],
    ['spans that are not pairs of integers', '{"statements": [[0, 22.5], [36, 58]]}'],
    ['spans out of order', '{"statements": [[0, 22], [36, 58], [0, 22]]}'],
    ['a span that ends past the text', '{"statements": [[0, 22], [36, 5000]]}'],
    ['a span that starts in a comment', '{"statements": [[0, 22], [25, 58]]}'],
    ['text left outside every span', '{"statements": [[0, 22]]}'],
    ['null', 'null'],
  ] as const)
    test(`a kept analysis with ${what} is not used: the file is parsed, and the analysis kept anew`, async () => {
      const store = memoryStore();
      const parser = countingParser();
      const analyze = cachedAnalyzer(parser.analyze, store);
      // Statements at [0, 22) and [36, 58); a comment from 25.
      const m = text('CREATE TABLE a (x int);\n\n-- between\nCREATE TABLE b (y int);\n');
      store.map.set(analysisKey(m), value);
      const analysis = await analyze(m);
      assert.equal(parser.calls(), 1);
      assert.deepEqual(
        analysis.statements.map((s) => s.text),
        ['CREATE TABLE a (x int)', 'CREATE TABLE b (y int)'],
      );
      assert.equal(store.writes, 1);
      assert.deepEqual(JSON.parse(store.map.get(analysisKey(m)) ?? ''), {
        statements: [
          [0, 22],
          [36, 58],
        ],
      });
    });
});
