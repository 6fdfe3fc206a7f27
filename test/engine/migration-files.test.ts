import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { InvalidInputError, InvalidMigrationError } from '../../engine/errors.ts';
import { loadMigrations, type MigrationFile, parseMigrationFiles } from '../../engine/migration-files.ts';
import { migrationsDir } from '../support/database.ts';

const files = (entries: Record<string, string | Buffer>) =>
  Object.entries(entries).map(
    ([name, body]) => [name, Buffer.isBuffer(body) ? body : Buffer.from(body)] as const,
  );

describe('parseMigrationFiles', () => {
  test('orders versions numerically, not as text', () => {
    const parsed = parseMigrationFiles(files({ '10_ten.sql': '', '9_nine.sql': '', '0100_hundred.sql': '' }));
    assert.deepEqual(
      parsed.map((m) => m.file),
      ['9_nine.sql', '10_ten.sql', '0100_hundred.sql'],
    );
  });

  test('reads description, sha256 of the bytes and the no-transaction directive on the first line only', () => {
    const [a, b] = parseMigrationFiles(
      files({
        '20260101120000_add_index_to_users.sql':
          '-- lockstep:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);',
        '20260101120001_later.sql': 'SELECT 1;\n-- lockstep:no-transaction\n',
      }),
    );
    assert.equal(a?.version, 20260101120000n);
    assert.equal(a?.description, 'add index to users');
    assert.equal(a?.noTransaction, true);
    assert.match(a?.checksum ?? '', /^[0-9a-f]{64}$/);
    assert.equal(b?.noTransaction, false);
  });

  test('finds the directive on the first line after a byte-order mark and before a CRLF', () => {
    const [a, b] = parseMigrationFiles(
      files({
        '1_bom_crlf.sql': Buffer.from('\ufeff-- lockstep:no-transaction\r\nVACUUM t;\r\n'),
        '2_crlf.sql': '--lockstep:no-transaction  \r\nVACUUM t;',
      }),
    );
    assert.equal(a?.noTransaction, true);
    assert.equal(a?.sql.startsWith('--'), true);
    assert.equal(b?.noTransaction, true);
  });

  test('a changed byte changes the checksum', () => {
    const [a] = parseMigrationFiles(files({ '1_a.sql': 'SELECT 1;' }));
    const [b] = parseMigrationFiles(files({ '1_a.sql': 'SELECT 1; ' }));
    assert.notEqual(a?.checksum, b?.checksum);
  });

  test('names every misnamed file and every duplicate version at once', () => {
    assert.throws(
      () =>
        parseMigrationFiles(
          files({
            '0001_a.sql': '',
            '1_again.sql': '',
            'V2__flyway_style.sql': '',
            '3.sql': '',
            '4_ok.sql': Buffer.from([0xff, 0xfe]),
          }),
        ),
      (err: unknown) => {
        assert.ok(err instanceof InvalidMigrationError);
        assert.equal(err.name, 'InvalidMigrationError');
        assert.equal(err.code, 'INVALID_MIGRATION');
        const byFile = new Map(err.problems.map((p) => [p.file, p.problem]));
        assert.match(byFile.get('1_again.sql') ?? '', /duplicate version 1: also used by 0001_a\.sql/);
        assert.match(byFile.get('V2__flyway_style.sql') ?? '', /<version>_<description>\.sql/);
        assert.match(byFile.get('3.sql') ?? '', /<version>_<description>\.sql/);
        assert.match(byFile.get('4_ok.sql') ?? '', /UTF-8/);
        return true;
      },
    );
  });
});

describe('loadMigrations', () => {
  test('reads only .sql files of the directory', async () => {
    const m = await migrationsDir({ '0001_a.sql': 'SELECT 1;', 'README.md': '# notes', 'notes.txt': '' });
    try {
      const loaded = await loadMigrations(m.dir);
      assert.deepEqual(
        loaded.map((x) => x.file),
        ['0001_a.sql'],
      );
    } finally {
      await m.cleanup();
    }
  });

  test('a missing directory is an input error naming it', async () => {
    await assert.rejects(loadMigrations('/nonexistent/lockstep-migrations'), (err: unknown) => {
      assert.ok(err instanceof InvalidInputError);
      assert.match(err.message, /\/nonexistent\/lockstep-migrations: no such directory/);
      return true;
    });
  });

  test('reads each file as parseMigrationFiles decodes its bytes, from an absolute, relative or slash-ended path', async () => {
    const bytes: Record<string, Buffer> = {
      '1_plain.sql': Buffer.from('SELECT 1;\n'),
      '2_bom.sql': Buffer.from('\ufeff\ufeffSELECT 2;\r\n'),
      '3_replacement_character.sql': Buffer.from("SELECT '\ufffd';"),
      '4_accented.sql': Buffer.from("SELECT 'é', '日本';"),
      '5_empty.sql': Buffer.alloc(0),
    };
    const dir = await mkdtemp(join(tmpdir(), 'lockstep-migrations-'));
    try {
      await Promise.all(Object.entries(bytes).map(([name, b]) => writeFile(join(dir, name), b)));
      const expected = parseMigrationFiles(Object.entries(bytes));
      // Each file carries its own analyze closure: compare what was read.
      const read = (files: MigrationFile[]) => files.map(({ analyze: _, ...file }) => file);
      for (const path of [dir, `${dir}/`, relative(process.cwd(), dir)]) {
        assert.deepEqual(read(await loadMigrations(path)), read(expected), path);
      }
      assert.equal(
        expected[1]?.sql,
        '\ufeffSELECT 2;\r\n',
        'one byte-order mark dropped, as TextDecoder does',
      );
      assert.equal(expected[2]?.sql, "SELECT '\ufffd';", 'a real U+FFFD is text, not an encoding error');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('names a file that is not UTF-8, whatever the bytes', async () => {
    const invalid = [
      [0xff, 0xfe],
      [0xed, 0xa0, 0x80],
      [0xc0, 0x80],
      [0x41, 0xe2, 0x82],
      [0xf4, 0x90, 0x80, 0x80],
    ];
    const dir = await mkdtemp(join(tmpdir(), 'lockstep-migrations-'));
    try {
      await Promise.all(invalid.map((b, i) => writeFile(join(dir, `${i + 1}_bad.sql`), Buffer.from(b))));
      await assert.rejects(loadMigrations(dir), (err: unknown) => {
        assert.ok(err instanceof InvalidMigrationError);
        assert.deepEqual(
          err.problems.map((p) => [p.file, p.problem]).sort(),
          invalid.map((_, i) => [`${i + 1}_bad.sql`, 'is not valid UTF-8']),
        );
        return true;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
