import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { prepareManifest } from '../../../engine/prepare.ts';
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

/** What `lockstep publish` does once it has read the files: check and split them, then upload. */
async function publish(release: string, which: ReadonlyArray<readonly [string, Buffer]> = files) {
  return publishMigrations(
    s3.client,
    location,
    which,
    await prepareManifest(which, { release, createdAt: now }),
  );
}
const manifestKey = (release: string) => `shop-releases/${releaseKeyPrefix(location, release)}manifest.json`;
/** Rewrites the published manifest, as someone with write access to the bucket could. */
function editManifest(release: string, edit: (manifest: Record<string, unknown>) => void) {
  const manifest = JSON.parse(String(s3.objects.get(manifestKey(release))));
  edit(manifest);
  s3.objects.set(manifestKey(release), Buffer.from(JSON.stringify(manifest)));
}

let s3: ReturnType<typeof fakeS3>;

describe('migrations published to S3', () => {
  beforeEach(() => {
    s3?.mock.restore();
    s3 = fakeS3();
  });

  test('publish uploads every file and the manifest last; download returns them verified', async () => {
    const result = await publish('v1.2.0');
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

  test("the download carries each file's statements as publish split them, with their positions", async () => {
    const sql =
      '-- lockstep:no-transaction\nDROP INDEX CONCURRENTLY IF EXISTS i;\n\n  CREATE INDEX CONCURRENTLY i ON t (x);\n';
    await publish('v2', [['0001_index.sql', Buffer.from(sql)]]);
    const [m] = await downloadMigrations(s3.client, location, 'v2');
    assert.equal(m?.noTransaction, true);
    const { statements, problems } = (await m?.analyze()) ?? { statements: [], problems: [] };
    assert.deepEqual(problems, []);
    assert.deepEqual(
      statements.map((st) => [st.text, st.line, st.column]),
      [
        ['DROP INDEX CONCURRENTLY IF EXISTS i', 2, 1],
        ['CREATE INDEX CONCURRENTLY i ON t (x)', 4, 3],
      ],
    );
  });

  test('a manifest whose statements, checksum or directive do not match the file is refused, naming the file', async () => {
    const cases: Array<[string, (entry: Record<string, unknown>) => void, RegExp]> = [
      [
        'a statement left out',
        (e) => (e.statements = [[0, 31]].slice(1)),
        /0001_create_accounts\.sql:1:1: the manifest's statements do not match/,
      ],
      [
        'a statement cut short',
        (e) => (e.statements = [[0, 12]]),
        /0001_create_accounts\.sql:1:14: the manifest's statements do not match/,
      ],
      ['positions past the end', (e) => (e.statements = [[0, 9999]]), /statements do not match the file/],
      [
        'another checksum',
        (e) => (e.checksum = 'f'.repeat(64)),
        /0001_create_accounts\.sql: the manifest's checksum is not the file's/,
      ],
      ['the directive flipped', (e) => (e.noTransaction = true), /the manifest says no-transaction/],
    ];
    for (const [what, edit, message] of cases) {
      s3.objects.clear();
      await publish('v1.2.0');
      editManifest('v1.2.0', (manifest) =>
        edit((manifest.files as Array<Record<string, unknown>>)[0] as Record<string, unknown>),
      );
      await assert.rejects(downloadMigrations(s3.client, location, 'v1.2.0'), (err: unknown) => {
        assert.ok(err instanceof ManifestMismatchError, what);
        assert.match(err.message, message, what);
        return true;
      });
    }
  });

  test('a manifest an earlier lockstep wrote is refused with what to do; publishing again upgrades it in place', async () => {
    await publish('v1.2.0');
    editManifest('v1.2.0', (manifest) => {
      manifest.format = 'lockstep-migrations/1';
      for (const f of manifest.files as Array<Record<string, unknown>>) {
        delete f.statements;
        delete f.checksum;
        delete f.noTransaction;
      }
    });
    await assert.rejects(downloadMigrations(s3.client, location, 'v1.2.0'), (err: unknown) => {
      assert.ok(err instanceof ManifestMismatchError);
      assert.match(err.message, /written by an earlier lockstep .* publish the release again/);
      return true;
    });
    s3.mock.resetHistory();
    assert.equal((await publish('v1.2.0')).unchanged, false);
    assert.deepEqual(
      s3.mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input.Key),
      ['migrations/api/v1.2.0/manifest.json'],
      'the files are already there, byte for byte: only the manifest is written',
    );
    assert.equal((await downloadMigrations(s3.client, location, 'v1.2.0')).length, 2);
  });

  test('publishing the same files again uploads nothing; different files under the same release are refused', async () => {
    await publish('v1.2.0');
    s3.mock.resetHistory();
    assert.equal((await publish('v1.2.0')).unchanged, true);
    assert.equal(s3.mock.commandCalls(PutObjectCommand).length, 0);
    await assert.rejects(
      publish('v1.2.0', [...files, ['0003_more.sql', Buffer.from('SELECT 1;')]]),
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
    await publish('v1.2.0');
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
