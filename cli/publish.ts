/**
 * `lockstep publish`: check a release's migrations with PostgreSQL's parser and upload them to S3 with a manifest of
 * their checksums and statements, so the migrate function runs exactly what was built with the image, without parsing.
 * Run it in CI, after the build and before the image push or pipeline step that starts the release.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { InvalidInputError } from '../engine/errors.ts';
import { refuseForeignLayout } from '../engine/layouts/read.ts';
import { readMigrationDirectory } from '../engine/migration.ts';
import { prepareManifest } from '../engine/prepare.ts';
import { type PublishResult, publishMigrations } from '../functions/shared/migrations-s3.ts';
import { RELEASE_LABEL, RELEASE_LABEL_RULE } from '../functions/shared/release-label.ts';
import type { RawPublishOptions } from './publish-options.ts';

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Validates, reads and uploads. Nothing is uploaded unless every file, applied anywhere or not, is a valid migration:
 * a problem is an InvalidMigrationError naming file, line and column.
 */
export async function publish(
  deps: { readonly s3: S3Client; readonly now: () => Date },
  raw: RawPublishOptions,
): Promise<PublishResult> {
  const bucket = raw.bucket ?? '';
  if (!BUCKET.test(bucket)) throw new InvalidInputError('--bucket', `"${bucket}" is not an S3 bucket name`);
  // The rule the release input applies, so a label publish accepts is one a release can carry.
  const release = raw.release ?? '';
  if (!RELEASE_LABEL.test(release)) throw new InvalidInputError('--release', RELEASE_LABEL_RULE);
  const dir = raw.dir ?? './migrations';
  refuseForeignLayout(dir, 'lockstep publish');
  const files = readMigrationDirectory(dir);
  if (files.length === 0) throw new InvalidInputError('--dir', `${dir} holds no migrations`);
  const manifest = await prepareManifest(files, { release, createdAt: deps.now() });
  return publishMigrations(deps.s3, { bucket, prefix: raw.prefix ?? '' }, files, manifest);
}
