import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { analyzeMigration } from '../../../engine/analyze.ts';
import { classifyMigration, RULE_COMPATIBILITY } from '../../../engine/lint/compatibility.ts';
import { RULES } from '../../../engine/lint/rules.ts';

const classify = (sql: string) => classifyMigration({ file: '0002_change.sql', sql });
const text = (sql: string) => ({
  version: 2n,
  file: '0002_change.sql',
  description: 'change',
  checksum: '',
  noTransaction: false,
  sql,
});

describe('backward compatibility of a migration', () => {
  test('creates, indexes, nullable columns, defaults and data changes are compatible', async () => {
    const sql = [
      'CREATE TABLE audit (id bigint PRIMARY KEY, at timestamptz);',
      'CREATE INDEX CONCURRENTLY users_email ON users (email);',
      'ALTER TABLE users ADD COLUMN nickname text;',
      "ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free';",
      "ALTER TABLE users ALTER COLUMN plan SET DEFAULT 'basic';",
      'ALTER TABLE users ALTER COLUMN nickname DROP NOT NULL;',
      "UPDATE users SET nickname = 'x' WHERE nickname IS NULL;",
      "ALTER TYPE mood ADD VALUE 'meh';",
      'GRANT SELECT ON audit TO reporting;',
      'DROP INDEX CONCURRENTLY IF EXISTS users_old;',
    ].join('\n');
    assert.deepEqual(await classify(sql), { compatible: true, incompatible: [] });
  });

  test("each incompatible rule and shape is named at its line, whatever the lint's allow says", async () => {
    const result = await classify(
      [
        'ALTER TABLE users DROP COLUMN legacy;',
        'ALTER TABLE users RENAME COLUMN name TO full_name;',
        'ALTER TABLE users ALTER COLUMN age TYPE bigint;',
        '-- lockstep:allow set-not-null the table has 10 rows',
        'ALTER TABLE users ALTER COLUMN email SET NOT NULL;',
        'ALTER TABLE users ADD COLUMN tenant int NOT NULL;',
        'DROP FUNCTION price(int);',
        'CREATE OR REPLACE VIEW active AS SELECT 1 AS id;',
        'ALTER TABLE users ALTER COLUMN plan DROP DEFAULT;',
        'CREATE INDEX users_age ON users (age);',
      ].join('\n'),
    );
    assert.equal(result.compatible, false);
    assert.deepEqual(
      result.incompatible.map((i) => `${i.line}: ${i.why.split(':')[0]}`),
      [
        '1: drops a column the older version may read or write',
        '2: renames a column',
        '3: changes a column type',
        '5: makes an existing column NOT NULL',
        '6: adds a NOT NULL column without a default',
        '7: DropStmt',
        '8: ViewStmt',
        '9: ALTER TABLE … ColumnDefault',
      ],
    );
  });

  test('the author declares a file compatible with -- lockstep:backward-compatible and a reason', async () => {
    const sql =
      '-- lockstep:backward-compatible v1.3 and later never read legacy\nALTER TABLE users DROP COLUMN legacy;\n';
    assert.deepEqual(await classify(sql), {
      compatible: true,
      declared: 'v1.3 and later never read legacy',
      incompatible: [],
    });
    assert.deepEqual((await analyzeMigration(text(sql))).problems, []);
  });

  test('the declaration without a reason declares nothing, and validation says so', async () => {
    const sql = 'ALTER TABLE users DROP COLUMN legacy;\n-- lockstep:backward-compatible\n';
    assert.equal((await classify(sql)).compatible, false);
    const [problem] = (await analyzeMigration(text(sql))).problems;
    assert.match(problem?.problem ?? '', /backward-compatible needs a reason/);
    assert.equal(problem?.line, 2);
  });

  test('every lint rule is classified, and the ones about locks only are compatible', () => {
    assert.deepEqual(Object.keys(RULE_COMPATIBILITY).sort(), Object.keys(RULES).sort());
    assert.equal(RULE_COMPATIBILITY['index-not-concurrent'], null);
    assert.match(RULE_COMPATIBILITY['drop-table'] ?? '', /drops a table/);
  });
});
