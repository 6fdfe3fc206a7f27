import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { migrationsFromManifest, uncoveredSql } from '../../engine/manifest.ts';
import { type MigrationFile, parseMigrationFiles } from '../../engine/migration-files.ts';
import { prepareManifest } from '../../engine/prepare.ts';

/** A file's statements as the runner uses them. */
const statementsOf = async (m: MigrationFile) =>
  (await m.analyze()).statements.map(({ text, start, line, column }) => ({ text, start, line, column }));

const bytes = (entries: Record<string, string>) =>
  Object.entries(entries).map(([name, text]) => [name, Buffer.from(text)] as const);

/** Files whose statements are easy to get wrong without PostgreSQL's parser. */
const TRICKY = bytes({
  '0001_bom_crlf.sql':
    '\ufeff-- a comment; not a statement\r\nCREATE TABLE t (x int);\r\n\r\nINSERT INTO t VALUES (1);\r\n',
  '0002_bodies.sql':
    "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END $body$;\n/* outer /* nested; */ still; */\nSELECT E'a\\';b', 'c;d' AS \"x;y\";\n",
  '0003_unicode.sql': "SELECT 'é🎉;' AS a;\vSELECT 2 AS b -- trailing, no semicolon",
  '0004_concurrently.sql':
    '-- lockstep:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS i;\n  CREATE INDEX CONCURRENTLY i ON t (x);\n',
});

describe('the manifest', () => {
  test('carries what the parser found, so files verified against it give the CLI’s statements and checksums', async () => {
    const manifest = await prepareManifest(TRICKY);
    const { migrations, problems } = migrationsFromManifest(manifest, TRICKY);
    assert.deepEqual(problems, []);
    const parsed = parseMigrationFiles(TRICKY);
    assert.equal(migrations?.length, parsed.length);
    for (const [i, cli] of parsed.entries()) {
      const fromManifest: MigrationFile | undefined = migrations?.[i];
      assert.equal(
        fromManifest?.checksum,
        cli.checksum,
        `${cli.file}: the history row records the same checksum`,
      );
      assert.equal(fromManifest?.noTransaction, cli.noTransaction);
      assert.deepEqual(fromManifest && (await statementsOf(fromManifest)), await statementsOf(cli), cli.file);
    }
  });

  test('made twice from the same files, it is the same: a bundle made at synth changes only when the files do', async () => {
    assert.deepEqual(await prepareManifest(TRICKY), await prepareManifest(TRICKY));
  });

  test('statements must cover the SQL: anything outside them, out of order or past the end is found', () => {
    const sql = '-- c\nSELECT 1;\n/* x */ SELECT 2 ;\n';
    const both = [
      [5, 13],
      [23, 31],
    ] as const;
    assert.equal(uncoveredSql(sql, both), undefined);
    assert.equal(uncoveredSql(sql, [[5, 13]]), 23, 'the second statement is left out');
    assert.equal(uncoveredSql(sql, [[5, 10], both[1]]), 10, 'the first is cut short');
    assert.equal(uncoveredSql(sql, [both[1], both[0]]), 5, 'out of order: SQL before the first one');
    assert.equal(uncoveredSql(sql, [both[0], both[0]]), 13, 'the same one twice');
    assert.equal(uncoveredSql(sql, [[4, 13], both[1]]), 4, 'a statement that starts with whitespace');
    assert.equal(uncoveredSql(sql, [both[0], [23, 99]]), 13, 'past the end');
    assert.equal(uncoveredSql(sql, []), 0, 'a file needs a statement');
  });
});
