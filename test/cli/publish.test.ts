import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ExitCode, exitCodeFor } from '../../cli/exit-codes.ts';
import { publish } from '../../cli/publish.ts';
import { InvalidInputError, InvalidMigrationError } from '../../engine/errors.ts';
import { ManifestMismatchError } from '../../functions/shared/errors.ts';
import { downloadMigrations } from '../../functions/shared/migrations-s3.ts';
import { migrationsDir } from '../support/database.ts';
import { fakeS3 } from '../support/fake-s3.ts';

const now = () => new Date('2026-11-22T12:00:00Z');

describe('lockstep publish', () => {
  let s3: ReturnType<typeof fakeS3>;
  beforeEach(() => {
    s3?.mock.restore();
    s3 = fakeS3();
  });

  test('uploads the example migrations so the migrate function can download and verify them', async () => {
    const result = await publish(
      { s3: s3.client, now },
      { dir: 'migrations', bucket: 'shop-releases', prefix: 'api', release: 'v2.0.0' },
    );
    assert.equal(result.location, 's3://shop-releases/api/v2.0.0/');
    assert.equal(result.unchanged, false);
    const downloaded = await downloadMigrations(
      s3.client,
      { bucket: 'shop-releases', prefix: 'api' },
      'v2.0.0',
    );
    assert.equal(downloaded.length, result.files);
    assert.ok(
      downloaded.some((m) => m.noTransaction),
      'the no-transaction directive survives the trip',
    );
  });

  test('bad flags and bad files are refused before anything is uploaded', async () => {
    await assert.rejects(
      publish({ s3: s3.client, now }, { bucket: 'Bad_Bucket', release: 'v1' }),
      (err: unknown) => {
        assert.ok(err instanceof InvalidInputError);
        assert.equal(err.field, '--bucket');
        return true;
      },
    );
    await assert.rejects(
      publish({ s3: s3.client, now }, { dir: 'migrations', bucket: 'b-1', release: 'feature/x' }),
      /--release/,
    );
    const bad = await migrationsDir({ '0001_ok.sql': 'SELECT 1;', 'oops.sql': 'SELECT 2;' });
    try {
      await assert.rejects(
        publish({ s3: s3.client, now }, { dir: bad.dir, bucket: 'b-1', release: 'v1' }),
        InvalidMigrationError,
      );
    } finally {
      await bad.cleanup();
    }
    assert.equal(s3.mock.commandCalls(PutObjectCommand).length, 0);
  });

  test('a file that cannot run as written fails publish with file:line:column, and nothing is uploaded', async () => {
    const bad = await migrationsDir({
      '0001_ok.sql': 'CREATE TABLE t (x int);\n',
      '0002_index.sql': 'SELECT 1;\n  CREATE INDEX CONCURRENTLY i ON t (x);\n',
      '0003_dump.sql': 'COPY t (x) FROM stdin;\n1\n\\.\n',
      '0004_commit.sql': 'BEGIN;\nSELECT 1;\nCOMMIT;\n',
    });
    try {
      await assert.rejects(
        publish({ s3: s3.client, now }, { dir: bad.dir, bucket: 'b-1', release: 'v1' }),
        (err: unknown) => {
          assert.ok(err instanceof InvalidMigrationError);
          assert.equal(exitCodeFor(err), ExitCode.ValidationFailed);
          assert.match(
            err.message,
            /0002_index\.sql:2:3: CREATE INDEX CONCURRENTLY cannot run inside a transaction/,
          );
          assert.match(err.message, /0003_dump\.sql:1:1: COPY … FROM STDIN/);
          assert.match(err.message, /0004_commit\.sql:1:1: BEGIN is not allowed/);
          assert.match(err.message, /0004_commit\.sql:3:1: COMMIT is not allowed/);
          assert.doesNotMatch(err.message, /0001_ok/);
          return true;
        },
      );
    } finally {
      await bad.cleanup();
    }
    assert.equal(s3.mock.commandCalls(PutObjectCommand).length, 0);
  });

  test('a release label is immutable: other files under it exit 5', async () => {
    const one = await migrationsDir({ '0001_a.sql': 'SELECT 1;' });
    const two = await migrationsDir({ '0001_a.sql': 'SELECT 1;', '0002_b.sql': 'SELECT 2;' });
    try {
      await publish({ s3: s3.client, now }, { dir: one.dir, bucket: 'b-1', release: 'v1' });
      const again = await publish({ s3: s3.client, now }, { dir: one.dir, bucket: 'b-1', release: 'v1' });
      assert.equal(again.unchanged, true);
      await assert.rejects(
        publish({ s3: s3.client, now }, { dir: two.dir, bucket: 'b-1', release: 'v1' }),
        (err: unknown) => {
          assert.ok(err instanceof ManifestMismatchError);
          assert.equal(exitCodeFor(err), ExitCode.ValidationFailed);
          return true;
        },
      );
    } finally {
      await one.cleanup();
      await two.cleanup();
    }
  });
});
