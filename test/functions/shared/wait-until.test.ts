import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isPastWaitUntil, waitUntilAfter, waitUntilSchema } from '../../../functions/shared/wait-until.ts';

const NOW = new Date('2024-05-06T07:08:09.123Z');

describe('waitUntilAfter', () => {
  test('adds the seconds to the clock and returns UTC ISO 8601', () => {
    assert.equal(waitUntilAfter(NOW, 7200), '2024-05-06T09:08:09.123Z');
    assert.equal(waitUntilAfter(new Date('2024-12-31T23:30:00.000Z'), 1800), '2025-01-01T00:00:00.000Z');
  });
});

describe('isPastWaitUntil', () => {
  test('is true only strictly after the deadline, and never without one', () => {
    assert.equal(isPastWaitUntil('2024-05-06T07:08:08.123Z', NOW), true);
    assert.equal(isPastWaitUntil(NOW.toISOString(), NOW), false);
    assert.equal(isPastWaitUntil('2024-05-06T07:08:10.123Z', NOW), false);
    assert.equal(isPastWaitUntil(undefined, NOW), false);
  });

  test('compares instants, whatever the offset', () => {
    assert.equal(isPastWaitUntil('2024-05-06T09:08:08.123+02:00', NOW), true);
    assert.equal(isPastWaitUntil('2024-05-06T09:08:10+02:00', NOW), false);
  });
});

describe('waitUntilSchema', () => {
  test('accepts what waitUntilAfter returns and rejects what is not a date and time', () => {
    assert.ok(waitUntilSchema.safeParse(waitUntilAfter(NOW, 60)).success);
    for (const bad of ['2024-05-06', 'tomorrow', '', 1714979289123])
      assert.ok(!waitUntilSchema.safeParse(bad).success, String(bad));
  });
});
