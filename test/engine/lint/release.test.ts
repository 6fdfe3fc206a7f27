import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lintFile } from '../../../engine/lint/lint-file.ts';
import { lintRelease } from '../../../engine/lint/lint-release.ts';
import { releaseLint } from '../../../engine/lint/release.ts';
import { failing, LINT_DEFAULTS, reportFindings } from '../../../engine/lint/report.ts';

const lintAll = (files: Record<string, string>) =>
  Promise.all(Object.entries(files).map(([file, sql]) => lintFile({ file, sql })));

describe('release context', () => {
  it('an object an earlier pending file created is not existing; one an applied file created is', async () => {
    const lints = await lintAll({
      '0001_carts.sql': 'CREATE TABLE carts (id int, tmp int);',
      '0002_rename.sql': 'ALTER TABLE carts RENAME TO baskets;',
      '0003_index.sql': 'CREATE INDEX baskets_id ON baskets (id);\nCREATE INDEX orders_id ON orders (id);',
    });
    const pendingAll = releaseLint(lints);
    assert.deepEqual(
      pendingAll.findings.map((f) => `${f.file}:${f.line} ${f.rule}`),
      ['0003_index.sql:2 index-not-concurrent'],
    );
    assert.deepEqual(
      pendingAll.locks.map((l) => l.object.name),
      ['orders'],
    );

    const firstApplied = releaseLint(lints.slice(1));
    assert.deepEqual(
      firstApplied.findings.map((f) => `${f.file}:${f.line} ${f.rule}`),
      [
        '0002_rename.sql:1 rename-table',
        '0003_index.sql:1 index-not-concurrent',
        '0003_index.sql:2 index-not-concurrent',
      ],
    );
  });

  it('SET NOT NULL after an earlier file validated CHECK (column IS NOT NULL) is fine', async () => {
    const lints = await lintAll({
      '0001_check.sql':
        'ALTER TABLE orders ADD CONSTRAINT c CHECK (customer_id IS NOT NULL) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT c;',
      '0002_not_null.sql': 'ALTER TABLE orders ALTER COLUMN customer_id SET NOT NULL;',
    });
    assert.deepEqual(releaseLint(lints).findings, []);
    assert.equal(releaseLint(lints.slice(1)).findings[0]?.rule, 'set-not-null');
  });

  it('without the live database, size-scaled rules are warnings; suppressed findings never fail', async () => {
    const lints = await lintAll({
      '0001_x.sql':
        'CREATE INDEX a ON orders (x);\n-- lockstep:allow drop-column unused since v41\nALTER TABLE orders DROP COLUMN legacy;',
    });
    const findings = reportFindings(releaseLint(lints), undefined, LINT_DEFAULTS);
    assert.deepEqual(
      findings.map((f) => [f.rule, f.severity, f.suppressed]),
      [
        ['index-not-concurrent', 'warning', undefined],
        ['drop-column', 'error', 'unused since v41'],
      ],
    );
    assert.match(findings[0]?.safe ?? '', /CONCURRENTLY/);
    assert.deepEqual(
      failing(findings, 'warning').map((f) => f.rule),
      ['index-not-concurrent'],
    );
    assert.deepEqual(failing(findings, 'error'), []);
  });
});

describe('the phase a file runs in', () => {
  it('dropping what the old version uses is an error before the deploy and fine after it; a rename is not', async () => {
    const files = [
      { file: '0001_drop_before.sql', sql: 'ALTER TABLE people DROP COLUMN fullname;' },
      {
        file: '0002_drop_after.sql',
        sql: '-- lockstep:after-deploy\nALTER TABLE people DROP COLUMN nickname;\nDROP TABLE old_people;',
        afterDeploy: true,
      },
      {
        file: '0003_rename_after.sql',
        sql: '-- lockstep:after-deploy\nALTER TABLE people RENAME COLUMN email TO mail;',
        afterDeploy: true,
      },
    ];
    const report = await lintRelease(files, (m) => lintFile(m), undefined);
    assert.deepEqual(
      report.findings.map((f) => `${f.file}:${f.line} ${f.rule}`),
      ['0001_drop_before.sql:1 drop-column', '0003_rename_after.sql:2 rename-column'],
    );
  });

  it('reads the release in the order it runs: an after-deploy file sees what a later before-deploy file created', async () => {
    const files = [
      {
        file: '0001_index_after.sql',
        sql: '-- lockstep:after-deploy\nCREATE INDEX audit_at ON audit (at);',
        afterDeploy: true,
      },
      { file: '0002_create.sql', sql: 'CREATE TABLE audit (at timestamptz);' },
    ];
    const report = await lintRelease(files, (m) => lintFile(m), undefined);
    assert.deepEqual(report.findings, [], 'audit is created before the deploy, so indexing it after is fine');
  });
});
