import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { NoMigrationFilesError, OutOfOrderError, PhaseOrderError } from '../../engine/errors.ts';
import type { HistoryRow } from '../../engine/history.ts';
import { parseMigrationFiles } from '../../engine/migration-files.ts';
import { computePlan, planProblem } from '../../engine/plan.ts';

const row = (version: bigint, file: string, checksum: string, success = true): HistoryRow => ({
  version,
  file,
  checksum,
  success,
  appliedAt: '2026-12-01 10:00:00+00',
  executionMs: 5,
  appliedBy: 'v1',
  failedStatement: success ? null : 2,
  error: success ? null : 'boom',
});
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('computePlan and planProblem', () => {
  it('no files against applied history is NoMigrationFilesError naming the count and the newest', () => {
    const history = [
      row(1n, '0001_a.sql', 'x'),
      row(2n, '0002_b.sql', 'y'),
      row(3n, '0003_c.sql', 'z', false),
    ];

    const problem = planProblem(computePlan([], history), {});

    assert.ok(problem instanceof NoMigrationFilesError);
    assert.deepEqual([problem.appliedCount, problem.newestApplied], [2, '0002_b.sql']);
  });

  it('no files and no history, or only a failed row, is nothing to do', () => {
    assert.equal(planProblem(computePlan([], []), {}), undefined);
    assert.equal(planProblem(computePlan([], [row(1n, '0001_a.sql', 'x', false)]), {}), undefined);
  });

  it('a row recorded from the CRLF bytes matches the file converted to LF; an edit does not', () => {
    const crlf = 'SELECT 1;\r\nSELECT 2;\r\n';
    const history = [row(1n, '0001_a.sql', sha256(crlf))];
    const lf = parseMigrationFiles([['0001_a.sql', Buffer.from(crlf.replace(/\r\n/g, '\n'))]]);
    const edited = parseMigrationFiles([['0001_a.sql', Buffer.from('SELECT 1;\nSELECT 3;\n')]]);

    assert.deepEqual(computePlan(lf, history).checksumMismatches, []);
    assert.equal(computePlan(edited, history).checksumMismatches.length, 1);
  });
});

describe('phases: before-deploy, after-deploy, all', () => {
  const AFTER = '-- lockstep:after-deploy\n';
  const files = parseMigrationFiles([
    ['0001_create.sql', Buffer.from('CREATE TABLE t (id int, old text);')],
    ['0002_drop_old.sql', Buffer.from(`${AFTER}ALTER TABLE t DROP COLUMN old;`)],
    ['0003_add.sql', Buffer.from('ALTER TABLE t ADD COLUMN new text;')],
    ['0004_validate.sql', Buffer.from(`-- lockstep:no-transaction\n${AFTER}SELECT 4;`)],
  ]);
  const applied = (...versions: bigint[]) =>
    versions.map((v) => {
      const f = files.find((m) => m.version === v) as (typeof files)[number];
      return row(v, f.file, f.checksum);
    });
  const names = (pending: readonly { file: string }[]) => pending.map((m) => m.file);

  it('reads the directive at the top of the file, alone or with -- lockstep:no-transaction', () => {
    assert.deepEqual(
      files.map((f) => [f.file, f.afterDeploy === true, f.noTransaction]),
      [
        ['0001_create.sql', false, false],
        ['0002_drop_old.sql', true, false],
        ['0003_add.sql', false, false],
        ['0004_validate.sql', true, true],
      ],
    );
  });

  it('a before-deploy run applies its files in version order and leaves the after-deploy ones, older or not', () => {
    const p = computePlan(files, applied(1n), 'before-deploy');
    assert.deepEqual(names(p.pending), ['0003_add.sql']);
    assert.deepEqual(names(p.deferred), ['0002_drop_old.sql', '0004_validate.sql']);
    assert.deepEqual(p.outOfOrder, []);
    assert.equal(planProblem(p, {}), undefined);
  });

  it('an after-deploy run is refused while a before-deploy migration is pending, naming it', () => {
    const problem = planProblem(computePlan(files, applied(1n), 'after-deploy'), {});
    assert.ok(problem instanceof PhaseOrderError, String(problem));
    assert.deepEqual(problem.beforeDeploy, ['0003_add.sql']);
  });

  it('an after-deploy run applies the after-deploy files in version order, after a later before-deploy one', () => {
    const p = computePlan(files, applied(1n, 3n), 'after-deploy');
    assert.deepEqual(names(p.pending), ['0002_drop_old.sql', '0004_validate.sql']);
    assert.deepEqual(p.outOfOrder, [], 'older than 0003, which is before-deploy: not out of order');
    assert.equal(planProblem(p, {}), undefined);
  });

  it('all: the before-deploy files first, then the after-deploy ones, each in version order', () => {
    const p = computePlan(files, [], 'all');
    assert.deepEqual(names(p.pending), [
      '0001_create.sql',
      '0003_add.sql',
      '0002_drop_old.sql',
      '0004_validate.sql',
    ]);
    assert.deepEqual(
      p.pending.map((m) => m.phase),
      ['before-deploy', 'before-deploy', 'after-deploy', 'after-deploy'],
    );
    assert.deepEqual(p.deferred, []);
  });

  it('out of order: an after-deploy file older than an applied after-deploy one; a before-deploy file older than any', () => {
    const afterBehind = computePlan(files, applied(1n, 3n, 4n), 'after-deploy');
    assert.deepEqual(names(afterBehind.outOfOrder), ['0002_drop_old.sql']);
    assert.ok(planProblem(afterBehind, {}) instanceof OutOfOrderError);

    const beforeBehind = computePlan(files, applied(1n, 2n, 4n), 'before-deploy');
    assert.deepEqual(names(beforeBehind.outOfOrder), ['0003_add.sql']);
    assert.ok(planProblem(beforeBehind, {}) instanceof OutOfOrderError);
  });
});
