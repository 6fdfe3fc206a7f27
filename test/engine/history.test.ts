import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
import { InvalidInputError } from '../../engine/errors.ts';
import { HistoryTable, quoteLiteral } from '../../engine/history.ts';

function refusal(name: string): string {
  try {
    new HistoryTable(name);
  } catch (err) {
    assert.ok(err instanceof InvalidInputError, String(err));
    return err.problem;
  }
  assert.fail(`expected ${name} to be refused`);
}

describe('HistoryTable names', () => {
  it('every spelling of one table is that table, with one lock key', () => {
    const spellings = [
      'lockstep.schema_history',
      '"lockstep".schema_history',
      'lockstep."schema_history"',
      '"lockstep"."schema_history"',
    ].map((name) => new HistoryTable(name));

    for (const t of spellings) {
      assert.deepEqual(
        [t.schema, t.table, t.qualified, t.display, t.lockKey],
        [
          'lockstep',
          'schema_history',
          '"lockstep"."schema_history"',
          'lockstep.schema_history',
          new HistoryTable().lockKey,
        ],
      );
    }
  });

  it('keeps the lock key earlier versions derived, so an old and a new runner still exclude each other', () => {
    // sha256("lockstep.schema_history"), first four bytes, top bit cleared: what every earlier version used.
    assert.deepEqual(new HistoryTable().lockKey, [0x6c6b7370, 0x4dc77ddc & 0x7fffffff]);
  });

  it('a quoted part is exact: a mixed-case table is its own table, keyed as before', () => {
    const t = new HistoryTable('lockstep."Schema_History"');

    assert.deepEqual(
      [t.schema, t.table, t.qualified],
      ['lockstep', 'Schema_History', '"lockstep"."Schema_History"'],
    );
    assert.notDeepEqual(t.lockKey, new HistoryTable().lockKey);
  });

  it('names that need quoting cannot collide with plain ones or each other', () => {
    const a = new HistoryTable('"a.b".c');
    const b = new HistoryTable('a."b.c"');

    assert.deepEqual([a.schema, a.table, b.schema, b.table], ['a.b', 'c', 'a', 'b.c']);
    assert.notDeepEqual(a.lockKey, b.lockKey);
    assert.equal(new HistoryTable('"say ""hi"""."t"').schema, 'say "hi"');
  });

  it('refuses what PostgreSQL would fold, cut short, or keep in a system schema, saying why', () => {
    assert.match(
      refusal('lockstep.Schema_History'),
      /Schema_History unquoted: PostgreSQL folds that to schema_history/,
    );
    assert.match(refusal('LOCKSTEP.schema_history'), /LOCKSTEP unquoted/);
    assert.match(refusal(`lockstep.${'h'.repeat(64)}`), /longer than 63 bytes/);
    assert.match(refusal(`lockstep."${'é'.repeat(32)}"`), /longer than 63 bytes/);
    for (const schema of ['pg_catalog', 'information_schema', 'pg_toast', 'pg_temp', 'pg_temp_3']) {
      assert.match(refusal(`${schema}.history`), new RegExp(`system schema ${schema}`));
    }
    for (const name of [
      'history',
      'a.b.c',
      'a.',
      '.b',
      'a."b',
      'a.""',
      '"a"b.c',
      '1a.b',
      'a.b-c',
      'x; DROP TABLE y',
    ]) {
      assert.match(refusal(name), /expected <schema>\.<table>/, name);
    }
  });
});

describe('quoting without node-postgres', () => {
  it('writes literals and identifiers exactly as node-postgres does', () => {
    const text = fc.string({ unit: fc.constantFrom("'", '\\', '"', 'a', 'é', '日', '\n', ' ', '.', '😀') });
    fc.assert(
      fc.property(fc.oneof(text, fc.string({ unit: 'binary' })), (s) => {
        assert.equal(quoteLiteral(s), pg.escapeLiteral(s));
      }),
      { numRuns: 500 },
    );
    for (const table of ['a"b', 'x', 'Mixed Case', '日本', '"']) {
      assert.equal(
        new HistoryTable(`"s"."${table.replace(/"/g, '""')}"`).qualified,
        `${pg.escapeIdentifier('s')}.${pg.escapeIdentifier(table)}`,
      );
    }
  });
});
