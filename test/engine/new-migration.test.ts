import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseMigrationFiles } from '../../engine/migration-files.ts';
import { newMigration } from '../../engine/new-migration.ts';

const now = new Date('2026-12-02T07:59:30.123Z');

describe('newMigration', () => {
  test('an empty directory gets a UTC timestamp version and a snake_case name', () => {
    const next = newMigration('Add e-mail to Users', { existing: [], now });
    assert.equal(next.file, '20261202075930_add_e_mail_to_users.sql');
    assert.equal(next.content, '-- Add e-mail to Users\n\n');
  });

  test('a directory numbered in sequence gets the next number at its width', () => {
    const existing = ['0001_a.sql', '0002_b.sql', '0010_c.sql', 'README.md'];
    assert.equal(newMigration('d', { existing, now }).file, '0011_d.sql');
    assert.equal(
      newMigration('d', { existing: ['001_a.sql'], now }).file,
      '0002_d.sql',
      'at least four digits',
    );
  });

  test('the version is after every existing one, even one from a clock ahead of this one', () => {
    const ahead = ['20261202080000_from_a_fast_clock.sql'];
    assert.equal(newMigration('x', { existing: ahead, now }).version, '20261202080001');
  });

  test('the numbering can be forced either way', () => {
    const existing = ['0001_a.sql'];
    assert.equal(newMigration('x', { existing, now, numbering: 'timestamp' }).version, '20261202075930');
    assert.equal(
      newMigration('x', { existing: ['20260101000000_a.sql'], now, numbering: 'sequence' }).version,
      '20260101000001',
    );
  });

  test('a no-transaction file starts with the directive, and the engine reads it as one', () => {
    const next = newMigration('index concurrently', { existing: [], now, noTransaction: true });
    assert.ok(next.content.startsWith('-- lockstep:no-transaction\n'));
    const [parsed] = parseMigrationFiles([
      [next.file, Buffer.from(`${next.content}CREATE INDEX CONCURRENTLY i ON t (c);\n`)],
    ]);
    assert.equal(parsed?.noTransaction, true);
  });

  test('an after-deploy file starts with its directive (and no-transaction), and the engine reads both', async () => {
    const next = newMigration('drop old index', {
      existing: [],
      now,
      noTransaction: true,
      afterDeploy: true,
    });
    assert.ok(next.content.startsWith('-- lockstep:after-deploy\n-- lockstep:no-transaction\n'));
    const [parsed] = parseMigrationFiles([
      [next.file, Buffer.from(`${next.content}DROP INDEX CONCURRENTLY i;\n`)],
    ]);
    assert.deepEqual([parsed?.afterDeploy, parsed?.noTransaction], [true, true]);
    assert.deepEqual((await parsed?.analyze())?.problems, []);
  });

  test('a description with nothing to name the file by is refused, naming it', () => {
    assert.throws(() => newMigration('—!?', { existing: [], now }), {
      name: 'InvalidInputError',
      message: /description: "—!\?" has no letters or digits/,
    });
  });
});
