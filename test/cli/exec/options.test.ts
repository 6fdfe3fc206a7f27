import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration, parseExecOptions } from '../../../cli/exec/options.ts';
import { InvalidInputError } from '../../../engine/errors.ts';

const context = { env: {}, hostname: 'runner-7', now: 0 };

describe('parseExecOptions', () => {
  it('applies the defaults: the lock of migrate, lock_timeout through PGOPTIONS, no timeout, 10 s of grace', () => {
    const options = parseExecOptions({}, context);

    assert.deepEqual(options, {
      databaseUrl: undefined,
      release: 'cli@runner-7',
      json: false,
      historyTable: 'lockstep.schema_history',
      lockWaitMs: 300_000,
      pgOptions: '-c lock_timeout=5000',
      timeoutMs: undefined,
      graceMs: 10_000,
    });
  });

  it('takes --lock-timeout into the default PGOPTIONS, and --pgoptions over it, even empty', () => {
    assert.equal(parseExecOptions({ lockTimeout: '750' }, context).pgOptions, '-c lock_timeout=750');
    assert.equal(
      parseExecOptions({ pgoptions: '-c lock_timeout=1s' }, context).pgOptions,
      '-c lock_timeout=1s',
    );
    assert.equal(parseExecOptions({ pgoptions: '' }, context).pgOptions, '');
  });

  it('refuses a bad flag by name', () => {
    for (const [raw, flag] of [
      [{ timeout: '0' }, '--timeout'],
      [{ timeout: 'soon' }, '--timeout'],
      [{ gracePeriod: '-1' }, '--grace-period'],
      [{ lockWait: 'x' }, '--lock-wait'],
      [{ historyTable: 'public.Runs' }, '--history-table'],
    ] as const) {
      assert.throws(
        () => parseExecOptions(raw, context),
        (err: unknown) => err instanceof InvalidInputError && err.field === flag,
        flag,
      );
    }
  });
});

describe('parseDuration', () => {
  it('reads seconds, or a number with ms, s, m or h', () => {
    assert.deepEqual(
      ['90', '90s', '1.5m', '2h', '500ms', ' 3 '].map((v) => parseDuration('--timeout', v)),
      [90_000, 90_000, 90_000, 7_200_000, 500, 3_000],
    );
  });

  it('refuses zero, negatives, other units and more than setTimeout can wait', () => {
    for (const value of ['0', '0s', '-5', '1d', '1h30m', '', '25d', '600h']) {
      assert.throws(() => parseDuration('--timeout', value), InvalidInputError, value);
    }
  });
});
