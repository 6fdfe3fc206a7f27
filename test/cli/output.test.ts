import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatPlan, Output } from '../../cli/output.ts';

function captured() {
  const out: string[] = [];
  const err: string[] = [];
  const output = new Output({ write: (s: string) => out.push(s) }, { write: (s: string) => err.push(s) });
  return { output, out, err };
}

describe('Output', () => {
  it('never prints a secret, raw or URL-encoded, on either stream', () => {
    const { output, out, err } = captured();
    const url = 'postgres://app:s3cret/pw@db:5432/app';
    output.addSecret(url);
    output.addSecret('s3cret/pw');

    output.note(`failed to reach ${url}`);
    output.result('password s3cret/pw, encoded s3cret%2Fpw');
    output.json({ message: `at ${url}` });

    const printed = [...out, ...err].join('');
    assert.doesNotMatch(printed, /s3cret/);
    assert.match(err.join(''), /failed to reach \*\*\*/);
  });
});

describe('formatPlan', () => {
  it('lists pending migrations and every kind of drift', () => {
    const text = formatPlan({
      phase: 'all',
      deferred: [],
      pending: [
        { version: '3', file: '0003_c.sql', noTransaction: false, phase: 'before-deploy' },
        {
          version: '4',
          file: '0004_d.sql',
          noTransaction: true,
          phase: 'before-deploy',
          failedAtStatement: 2,
        },
      ],
      applied: [],
      checksumMismatches: [
        { version: '1', file: '0001_a.sql', appliedChecksum: 'a'.repeat(64), fileChecksum: 'b'.repeat(64) },
      ],
      outOfOrder: [{ version: '3', file: '0003_c.sql' }],
      databaseAhead: [{ version: '9', file: '0009_z.sql' }],
      highestApplied: '9',
      invalid: [],
      inDoubt: [],
    });

    assert.equal(
      text,
      [
        '2 pending migrations:',
        '  0003_c.sql',
        '  0004_d.sql  (no transaction; an earlier attempt failed at statement 2)',
        'drift:',
        '  edited after it was applied: 0001_a.sql (applied sha256 aaaaaaaaaaaa…, file sha256 bbbbbbbbbbbb…)',
        '  older than the highest applied version 9: 0003_c.sql',
        '  applied, but this release has no file for it: 0009_z.sql (version 9)',
      ].join('\n'),
    );
  });
});

describe('formatPlan by phase', () => {
  const migration = (version: string, phase: 'before-deploy' | 'after-deploy') => ({
    version,
    file: `000${version}_m.sql`,
    noTransaction: false,
    phase,
  });
  const plan = (pending: ReturnType<typeof migration>[]): Parameters<typeof formatPlan>[0] => ({
    phase: 'all',
    deferred: [],
    pending,
    applied: [],
    checksumMismatches: [],
    outOfOrder: [],
    databaseAhead: [],
    highestApplied: undefined,
    invalid: [],
    inDoubt: [],
  });

  it('shows only the after-deploy section when only after-deploy migrations are pending', () => {
    const text = formatPlan(plan([migration('2', 'after-deploy'), migration('3', 'after-deploy')]));

    assert.equal(
      text,
      [
        '2 pending migrations:',
        '  after the deploy (2, -- lockstep:after-deploy):',
        '    0002_m.sql',
        '    0003_m.sql',
        'drift: none',
      ].join('\n'),
    );
  });

  it('shows both sections when both phases are pending, and a flat list when none is after the deploy', () => {
    const both = formatPlan(plan([migration('1', 'before-deploy'), migration('2', 'after-deploy')]));
    const beforeOnly = formatPlan(plan([migration('1', 'before-deploy')]));
    const none = formatPlan(plan([]));

    assert.equal(
      both,
      [
        '2 pending migrations:',
        '  before the deploy (1):',
        '    0001_m.sql',
        '  after the deploy (1, -- lockstep:after-deploy):',
        '    0002_m.sql',
        'drift: none',
      ].join('\n'),
    );
    assert.equal(beforeOnly, ['1 pending migration:', '  0001_m.sql', 'drift: none'].join('\n'));
    assert.equal(none, ['nothing pending', 'drift: none'].join('\n'));
  });
});
