import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidInputError } from '../../../functions/shared/errors.ts';
import { parseReleaseInput } from '../../../functions/shared/release-input.ts';

const defaults = { migrations: 'bundled' } as const;
const IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api';
const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('parseReleaseInput', () => {
  test('a pipeline or console input: image with a tag names the release after it', () => {
    assert.deepEqual(parseReleaseInput({ image: `${IMAGE}:v1.4.2` }, defaults), {
      release: 'v1.4.2',
      image: `${IMAGE}:v1.4.2`,
      migrations: 'bundled',
      options: { skipSnapshot: false, dryRun: false },
    });
  });

  test('an ECR push event pins the image by digest and names the release after the tag', () => {
    const input = parseReleaseInput(
      {
        ecr: {
          registry: '123456789012',
          region: 'eu-west-1',
          repository: 'shop/api',
          digest: DIGEST,
          tag: 'release-7',
        },
        migrations: 's3',
      },
      defaults,
    );
    assert.equal(input.image, `${IMAGE}@${DIGEST}`);
    assert.equal(input.release, 'release-7');
    assert.equal(input.migrations, 's3');
  });

  test('an explicit release label and options win over the defaults', () => {
    const input = parseReleaseInput(
      {
        image: `${IMAGE}@${DIGEST}`,
        release: 'pipeline-6c1f0a',
        options: { skipSnapshot: true, dryRun: true },
      },
      defaults,
    );
    assert.equal(input.release, 'pipeline-6c1f0a');
    assert.deepEqual(input.options, { skipSnapshot: true, dryRun: true });
  });

  test('a digest-only image without a release label is named after the digest', () => {
    assert.equal(
      parseReleaseInput({ image: `${IMAGE}@${DIGEST}` }, defaults).release,
      `sha256-${'ab'.repeat(6)}`,
    );
  });

  test('an image tag that is no release label asks for "release", saying why the tag will not do', () => {
    assert.throws(
      () => parseReleaseInput({ image: `${IMAGE}:_x` }, defaults),
      (err: unknown) => {
        assert.ok(err instanceof InvalidInputError, String(err));
        assert.equal(err.field, 'release');
        assert.match(err.message, /the image tag "_x" cannot name the release/);
        return true;
      },
    );
  });

  const malformed: Array<[string, unknown, string]> = [
    ['not an object', 'v1', 'input'],
    ['neither image nor ecr', { release: 'v1' }, 'image'],
    [
      'both image and ecr',
      {
        image: `${IMAGE}:v1`,
        ecr: { registry: '123456789012', region: 'eu-west-1', repository: 'a', tag: 'v1' },
      },
      'image',
    ],
    ['image without tag or digest', { image: IMAGE }, 'image'],
    ['image with spaces', { image: `${IMAGE}:v1 ; rm -rf /` }, 'image'],
    ['release with a slash', { image: `${IMAGE}:v1`, release: 'feature/x' }, 'release'],
    ['empty release', { image: `${IMAGE}:v1`, release: '' }, 'release'],
    ['unknown top-level field', { image: `${IMAGE}:v1`, skipSnapshot: true }, 'input'],
    ['unknown option', { image: `${IMAGE}:v1`, options: { skip_snapshot: true } }, 'options'],
    ['option of the wrong type', { image: `${IMAGE}:v1`, options: { dryRun: 'yes' } }, 'options.dryRun'],
    ['unknown migrations source', { image: `${IMAGE}:v1`, migrations: 'git' }, 'migrations'],
    [
      'ecr account not 12 digits',
      { ecr: { registry: '1234', region: 'eu-west-1', repository: 'a', tag: 'v1' } },
      'ecr.registry',
    ],
    [
      'ecr without tag or digest',
      { ecr: { registry: '123456789012', region: 'eu-west-1', repository: 'a' } },
      'ecr.digest',
    ],
    [
      'ecr bad digest',
      { ecr: { registry: '123456789012', region: 'eu-west-1', repository: 'a', digest: 'md5:00' } },
      'ecr.digest',
    ],
    [
      'ecr bad region',
      { ecr: { registry: '123456789012', region: 'mars', repository: 'a', tag: 'v1' } },
      'ecr.region',
    ],
  ];
  for (const [what, raw, field] of malformed) {
    test(`rejects ${what}, naming ${field}`, () => {
      assert.throws(
        () => parseReleaseInput(raw, defaults),
        (err: unknown) => {
          assert.ok(err instanceof InvalidInputError, String(err));
          assert.equal(err.field, field);
          assert.equal(err.name, 'InvalidInputError');
          return true;
        },
      );
    });
  }
});
