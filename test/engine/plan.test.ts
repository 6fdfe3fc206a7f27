import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { NoMigrationFilesError } from '../../engine/errors.ts';
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
