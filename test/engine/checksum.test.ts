import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { checksumMatches, legacyChecksums, migrationChecksum } from '../../engine/checksum.ts';
import { parseMigrationFiles } from '../../engine/migration-files.ts';

const sha256 = (bytes: string | Buffer) => createHash('sha256').update(bytes).digest('hex');
const LF = 'CREATE TABLE a (id int);\n-- note\nSELECT 1;\n';
const CRLF = LF.replace(/\n/g, '\r\n');
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const load = (bytes: Buffer) => {
  const [file] = parseMigrationFiles([['0001_a.sql', bytes]]);
  assert.ok(file);
  return file;
};

describe('the checksum rule', () => {
  it('is the sha256 of the text with LF endings and no BOM: git or an editor re-saving the file changes nothing', () => {
    const forms = [
      Buffer.from(LF),
      Buffer.from(CRLF),
      Buffer.from(LF.replace(/\n/g, '\r')),
      Buffer.concat([BOM, Buffer.from(CRLF)]),
      Buffer.concat([BOM, Buffer.from(LF)]),
    ];

    for (const bytes of forms) assert.equal(load(bytes).checksum, sha256(LF));
    assert.equal(migrationChecksum(LF), sha256(LF));
  });

  it('any other change is an edit, down to one space', () => {
    assert.notEqual(load(Buffer.from(LF.replace('int', 'int '))).checksum, sha256(LF));
    assert.notEqual(load(Buffer.from(`${LF}\n`)).checksum, sha256(LF));
  });

  it('accepts what earlier versions recorded, the raw bytes, in any of the forms git converts between', () => {
    const recordedFromCrlf = sha256(CRLF);
    const recordedFromBomLf = sha256(Buffer.concat([BOM, Buffer.from(LF)]));

    for (const recorded of [recordedFromCrlf, recordedFromBomLf, sha256(LF)]) {
      for (const now of [Buffer.from(LF), Buffer.from(CRLF), Buffer.concat([BOM, Buffer.from(CRLF)])]) {
        assert.ok(
          checksumMatches(recorded, load(now)),
          `${recorded} against ${JSON.stringify(now.toString())}`,
        );
      }
    }
    assert.ok(!checksumMatches(sha256('SELECT 2;\n'), load(Buffer.from(LF))));
    assert.ok(legacyChecksums(LF).includes(recordedFromCrlf));
  });
});
