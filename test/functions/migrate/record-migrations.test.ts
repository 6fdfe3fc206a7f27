import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MigrationFile } from '../../../engine/migration.ts';
import { RECORD_BUDGET_BYTES, recordMigrations } from '../../../functions/migrate/record-migrations.ts';

const file = (n: number): MigrationFile =>
  ({
    version: BigInt(n),
    file: `${String(n).padStart(5, '0')}_change_number_${n}.sql`,
    checksum: n.toString(16).padStart(64, 'a'),
  }) as MigrationFile;

describe('recordMigrations', () => {
  test('keeps every pending migration with its checksum and phase, in order, when they fit', () => {
    const files = [file(1), file(2), file(3)];
    const pending = files.slice(1).map((f) => ({
      version: String(f.version),
      file: f.file,
      noTransaction: false,
      phase: 'before-deploy' as const,
    }));
    assert.deepEqual(recordMigrations(pending, files), {
      phase: 'before-deploy',
      count: 2,
      afterDeployCount: 0,
      truncated: false,
      migrations: [
        {
          version: '2',
          file: '00002_change_number_2.sql',
          checksum: file(2).checksum,
          phase: 'before-deploy',
        },
        {
          version: '3',
          file: '00003_change_number_3.sql',
          checksum: file(3).checksum,
          phase: 'before-deploy',
        },
      ],
    });
  });

  test('says how many run after the rollout, and which', () => {
    const files = [file(1), file(2), file(3)];
    const pending = [
      { version: '1', file: files[0]?.file ?? '', noTransaction: false, phase: 'before-deploy' as const },
      { version: '3', file: files[2]?.file ?? '', noTransaction: false, phase: 'before-deploy' as const },
      { version: '2', file: files[1]?.file ?? '', noTransaction: false, phase: 'after-deploy' as const },
    ];
    const record = recordMigrations(pending, files);
    assert.equal(record.phase, 'both');
    assert.equal(record.afterDeployCount, 1);
    assert.deepEqual(
      record.migrations.map((m) => `${m.version} ${m.phase}`),
      ['1 before-deploy', '3 before-deploy', '2 after-deploy'],
    );
    assert.equal(recordMigrations(pending.slice(2), files).phase, 'after-deploy');
  });

  test('cuts five thousand migrations to the budget, first ones kept, and says how many there were', () => {
    const files = Array.from({ length: 5000 }, (_, i) => file(i + 1));
    const pending = files.map((f) => ({
      version: String(f.version),
      file: f.file,
      noTransaction: false,
      phase: 'before-deploy' as const,
    }));
    const record = recordMigrations(pending, files);
    assert.equal(record.count, 5000);
    assert.equal(record.truncated, true);
    assert.equal(record.migrations[0]?.version, '1');
    assert.ok(record.migrations.length > 100, `${record.migrations.length} kept`);
    assert.ok(Buffer.byteLength(JSON.stringify(record)) <= RECORD_BUDGET_BYTES + 200);
  });
});
