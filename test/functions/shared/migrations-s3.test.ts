import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ManifestMismatchError, MigrationsNotFoundError } from '../../../functions/shared/errors.ts';
import {
  assertPublished,
  downloadMigrations,
  publishMigrations,
  releaseKeyPrefix,
} from '../../../functions/shared/migrations-s3.ts';
import { fakeS3 } from '../../support/fake-s3.ts';

const location = { bucket: 'shop-releases', prefix: 'migrations/api' };
const files: Array<readonly [string, Buffer]> = [
  ['0001_create_accounts.sql', Buffer.from('CREATE TABLE accounts (id int);\n')],
  ['0002_add_email.sql', Buffer.from('ALTER TABLE accounts ADD COLUMN email text;\n')],
];
const now = new Date('2026-11-22T10:00:00Z');

describe('migrations published to S3', () => {
  let s3: ReturnType<typeof fakeS3>;
  beforeEach(() => {
    s3?.mock.restore();
    s3 = fakeS3();
  });

  test('publish uploads every file and the manifest last; download returns them verified', async () => {
    const result = await publishMigrations(s3.client, location, 'v1.2.0', files, now);
    assert.deepEqual(result, {
      location: 's3://shop-releases/migrations/api/v1.2.0/',
      files: 2,
      unchanged: false,
    });
    const keys = s3.mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key);
    assert.deepEqual(keys, [
      'migrations/api/v1.2.0/0001_create_accounts.sql',
      'migrations/api/v1.2.0/0002_add_email.sql',
      'migrations/api/v1.2.0/manifest.json',
    ]);
    await assertPublished(s3.client, location, 'v1.2.0');
    const downloaded = await downloadMigrations(s3.client, location, 'v1.2.0');
    assert.deepEqual(
      downloaded.map((m) => [m.file, m.version]),
      [
        ['0001_create_accounts.sql', 1n],
        ['0002_add_email.sql', 2n],
      ],
    );
  });

  test('publishing the same files again uploads nothing; different files under the same release are refused', async () => {
    await publishMigrations(s3.client, location, 'v1.2.0', files, now);
    s3.mock.resetHistory();
    assert.equal((await publishMigrations(s3.client, location, 'v1.2.0', files, now)).unchanged, true);
    assert.equal(s3.mock.commandCalls(PutObjectCommand).length, 0);
    await assert.rejects(
      publishMigrations(
        s3.client,
        location,
        'v1.2.0',
        [...files, ['0003_more.sql', Buffer.from('SELECT 1;')]],
        now,
      ),
      ManifestMismatchError,
    );
  });

  test('a release that was never published is MigrationsNotFoundError with the command to publish it', async () => {
    await assert.rejects(assertPublished(s3.client, location, 'v9'), (err: unknown) => {
      assert.ok(err instanceof MigrationsNotFoundError);
      assert.match(err.message, /s3:\/\/shop-releases\/migrations\/api\/v9\//);
      assert.match(
        err.message,
        /lockstep publish --dir migrations --bucket shop-releases --prefix migrations\/api --release v9/,
      );
      return true;
    });
    await assert.rejects(downloadMigrations(s3.client, location, 'v9'), MigrationsNotFoundError);
  });

  test('an altered, a missing or an extra file fails verification, naming each', async () => {
    await publishMigrations(s3.client, location, 'v1.2.0', files, now);
    const prefix = `shop-releases/${releaseKeyPrefix(location, 'v1.2.0')}`;
    s3.objects.set(`${prefix}0002_add_email.sql`, Buffer.from('DROP TABLE accounts;\n'));
    s3.objects.delete(`${prefix}0001_create_accounts.sql`);
    s3.objects.set(`${prefix}0003_sneaked_in.sql`, Buffer.from('SELECT 1;\n'));
    await assert.rejects(downloadMigrations(s3.client, location, 'v1.2.0'), (err: unknown) => {
      assert.ok(err instanceof ManifestMismatchError);
      assert.deepEqual(err.problems, [
        '0001_create_accounts.sql: listed in the manifest but missing',
        '0002_add_email.sql: sha256 differs from the manifest',
        '0003_sneaked_in.sql: present but not in the manifest',
      ]);
      return true;
    });
  });

  test('the release folder sits under the prefix, with or without slashes', () => {
    assert.equal(releaseKeyPrefix({ bucket: 'b', prefix: '' }, 'v1'), 'v1/');
    assert.equal(releaseKeyPrefix({ bucket: 'b', prefix: '/a/b/' }, 'v1'), 'a/b/v1/');
  });
});
