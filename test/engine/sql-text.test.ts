import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { codePointLength, excerpt, TextIndex } from '../../engine/sql-text.ts';

describe('TextIndex', () => {
  test('maps byte and character offsets to the same place', () => {
    const index = new TextIndex('a🎉b\ncé');
    assert.equal(index.fromByteOffset(5), 3); // 'a' 1 byte + emoji 4 bytes → UTF-16 index 3
    assert.equal(index.fromCharOffset(2), 3); // 'a', emoji → index 3
    assert.deepEqual(index.lineColumn(3), { line: 1, column: 3 });
    assert.deepEqual(index.lineColumn(6), { line: 2, column: 2 });
    assert.equal(index.byteOffset(3), 5);
    assert.equal(index.charOffset(3), 2);
  });

  test('converts the same far into a long text as near its start', () => {
    const unit = 'aé🎉\n'; // 1 + 2 + 4 + 1 bytes, 4 code points, 5 UTF-16 units
    const text = unit.repeat(10_000);
    const index = new TextIndex(text);
    for (const k of [0, 1, 999, 5_000, 9_999]) {
      assert.equal(index.fromByteOffset(8 * k + 3), 5 * k + 2);
      assert.equal(index.fromCharOffset(4 * k + 3), 5 * k + 4);
      assert.equal(index.byteOffset(5 * k + 4), 8 * k + 7);
      assert.equal(index.charOffset(5 * k + 4), 4 * k + 3);
      assert.deepEqual(index.lineColumn(5 * k + 4), { line: k + 1, column: 4 });
    }
    assert.equal(index.fromByteOffset(10 ** 9), text.length);
  });

  test('codePointLength counts characters as PostgreSQL does', () => {
    assert.equal(codePointLength('a🎉é\n日'), 5);
    assert.equal(codePointLength(''), 0);
    assert.equal(codePointLength('\ud83c'), 1); // a lone surrogate is one
    assert.equal(codePointLength('\udf89\ud83c'), 2); // so is a low one before a high one
    assert.equal(codePointLength('plain ASCII; é 日'), 16);
    assert.equal(codePointLength(`${'x'.repeat(5000)}🎉`), 5001);
  });
});

test('excerpt folds whitespace and truncates', () => {
  assert.equal(excerpt('SELECT\n   1,\n  2'), 'SELECT 1, 2');
  assert.equal(excerpt('x'.repeat(300)).length, 240);
});
