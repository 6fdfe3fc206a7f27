import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lintFile } from '../../../engine/lint/lint-file.ts';
import { RULES } from '../../../engine/lint/rules.ts';
import { LINT_CORPUS } from '../../fixtures/lint-corpus.ts';

const rulesOf = async (sql: string) =>
  (await lintFile({ file: '0001_x.sql', sql })).findings.map((f) => f.rule);

describe('static lint rules, on the corpus', () => {
  for (const c of LINT_CORPUS) {
    it(`${c.rule}: fires on each dangerous case, not on its safe look-alikes`, async () => {
      for (const sql of c.fires)
        assert.ok((await rulesOf(sql)).includes(c.rule), `${c.rule} did not fire on: ${sql}`);
      for (const sql of c.safe) assert.deepEqual(await rulesOf(sql), [], `something fired on: ${sql}`);
    });
  }

  it('every static rule has a case in the corpus', () => {
    const live = ['blocking-session', 'long-transaction', 'invalid-suppression', 'unused-suppression'];
    const covered = new Set(LINT_CORPUS.map((c) => c.rule));
    assert.deepEqual(
      Object.keys(RULES).filter((r) => !covered.has(r) && !live.includes(r)),
      [],
    );
  });

  it('places a finding on the column, constraint or table it is about, by line and column', async () => {
    const sql = 'SELECT 1;\nALTER TABLE orders\n  ADD COLUMN é text,\n  ADD COLUMN region text NOT NULL;\n';
    const [f] = (await lintFile({ file: '0002_x.sql', sql })).findings;
    assert.deepEqual([f?.rule, f?.line, f?.column], ['not-null-without-default', 4, 14]);
    assert.deepEqual(f?.object, { name: 'orders' });
  });

  it('records the tables a file locks, each once in its strongest mode, and what it creates', async () => {
    const lint = await lintFile({
      file: '0003_x.sql',
      sql: 'CREATE INDEX a ON orders (x);\nALTER TABLE orders ADD COLUMN y int;\nCREATE TABLE carts (id int);\nALTER TABLE carts ADD COLUMN z int;\nALTER TABLE s.orders ADD CONSTRAINT f FOREIGN KEY (c) REFERENCES customers (id) NOT VALID;',
    });
    assert.deepEqual(
      lint.locks.map((l) => [l.object.schema ?? '', l.object.name, l.mode, l.line]),
      [
        ['', 'orders', 'AccessExclusiveLock', 2],
        ['', 'customers', 'ShareRowExclusiveLock', 5],
        ['s', 'orders', 'ShareRowExclusiveLock', 5],
      ],
    );
    assert.deepEqual(
      lint.events.map((e) => e.type === 'created' && e.object.name),
      ['a', 'carts'],
    );
  });
});

describe('-- lockstep:allow', () => {
  it('suppresses the rule it names on the next statement, keeping the reason', async () => {
    const sql =
      '-- lockstep:allow index-not-concurrent orders has 40 rows in every environment\nCREATE INDEX a ON orders (x);\nCREATE INDEX b ON orders (y);';
    const findings = (await lintFile({ file: '0001_x.sql', sql })).findings;
    assert.deepEqual(
      findings.map((f) => [f.rule, f.line, f.suppressed]),
      [
        ['index-not-concurrent', 2, 'orders has 40 rows in every environment'],
        ['index-not-concurrent', 3, undefined],
      ],
    );
  });

  it('without a reason, or naming no rule, is an invalid suppression and suppresses nothing', async () => {
    const sql =
      '-- lockstep:allow index-not-concurrent\nCREATE INDEX a ON orders (x);\n-- lockstep:allow no-such-rule because\nSELECT 1;';
    const findings = (await lintFile({ file: '0001_x.sql', sql })).findings;
    assert.deepEqual(
      findings.map((f) => [f.rule, f.line, f.suppressed]),
      [
        ['index-not-concurrent', 2, undefined],
        ['invalid-suppression', 1, undefined],
        ['invalid-suppression', 3, undefined],
      ],
    );
  });

  it('on a statement that does not break the rule, or after the last one, is reported unused', async () => {
    const sql = '-- lockstep:allow drop-table old\nSELECT 1;\n-- lockstep:allow drop-table trailing\n';
    const findings = (await lintFile({ file: '0001_x.sql', sql })).findings;
    assert.deepEqual(
      findings.map((f) => [f.rule, f.line]),
      [
        ['unused-suppression', 1],
        ['unused-suppression', 3],
      ],
    );
  });
});
