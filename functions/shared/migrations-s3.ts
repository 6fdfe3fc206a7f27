/**
 * Migrations published per release to `s3://<bucket>/<prefix>/<release>/`: the `.sql` files, then
 * `manifest.json` last, so a manifest means the upload is complete. Used by preflight (does it exist?),
 * migrate (download and verify, without parsing: the manifest carries the statements `lockstep publish` split) and
 * `lockstep publish` (upload what engine/prepare.ts checked).
 */
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  MANIFEST_FILE,
  migrationsFromManifest,
  type PublishedManifest,
  parseManifest,
} from '../../engine/manifest.ts';
import type { MigrationFile } from '../../engine/migration.ts';
import { ManifestMismatchError, MigrationsNotFoundError } from './errors.ts';

export interface S3Location {
  readonly bucket: string;
  /** Key prefix under which each release has its own folder; may be empty. */
  readonly prefix: string;
}

/** `<prefix>/<release>/`, with no leading slash. */
export function releaseKeyPrefix(location: S3Location, release: string): string {
  const base = location.prefix.replace(/^\/+|\/+$/g, '');
  return base ? `${base}/${release}/` : `${release}/`;
}

const url = (location: S3Location, release: string) =>
  `s3://${location.bucket}/${releaseKeyPrefix(location, release)}`;

const isNotFound = (err: unknown) => {
  const name = (err as { name?: string }).name;
  return name === 'NotFound' || name === 'NoSuchKey';
};

/** Throws {@link MigrationsNotFoundError} when the release has no published manifest. */
export async function assertPublished(s3: S3Client, location: S3Location, release: string): Promise<void> {
  try {
    await s3.send(
      new HeadObjectCommand({
        Bucket: location.bucket,
        Key: `${releaseKeyPrefix(location, release)}${MANIFEST_FILE}`,
      }),
    );
  } catch (err) {
    if (isNotFound(err)) throw notPublished(location, release);
    throw err;
  }
}

function notPublished(location: S3Location, release: string): MigrationsNotFoundError {
  return new MigrationsNotFoundError(
    url(location, release),
    `publish them from the build with: lockstep publish --dir migrations --bucket ${location.bucket}` +
      `${location.prefix ? ` --prefix ${location.prefix}` : ''} --release ${release}`,
  );
}

async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await response.Body?.transformToByteArray()) ?? []);
}

/**
 * Downloads the release's migrations and verifies them against the manifest before anything uses them: the files
 * listed, byte for byte, and nothing else; each with the checksum, directive and statements the manifest records.
 */
export async function downloadMigrations(
  s3: S3Client,
  location: S3Location,
  release: string,
): Promise<MigrationFile[]> {
  const keyPrefix = releaseKeyPrefix(location, release);
  let manifestText: string;
  try {
    manifestText = (await getBytes(s3, location.bucket, `${keyPrefix}${MANIFEST_FILE}`)).toString('utf8');
  } catch (err) {
    if (isNotFound(err)) throw notPublished(location, release);
    throw err;
  }
  const { manifest, problems } = parseManifest(manifestText);
  if (!manifest) throw new ManifestMismatchError(url(location, release), problems);
  if (manifest.release !== release) {
    throw new ManifestMismatchError(url(location, release), [
      `manifest.json is for release "${manifest.release ?? '(none)'}"`,
    ]);
  }
  const keys: string[] = [];
  for (let token: string | undefined, first = true; first || token; first = false) {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: location.bucket, Prefix: keyPrefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) if (object.Key?.endsWith('.sql')) keys.push(object.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  }
  const files = await Promise.all(
    keys.map(async (key) => [key.slice(keyPrefix.length), await getBytes(s3, location.bucket, key)] as const),
  );
  const verified = migrationsFromManifest(manifest, files);
  if (!verified.migrations) throw new ManifestMismatchError(url(location, release), verified.problems);
  return verified.migrations;
}

export interface PublishResult {
  readonly location: string;
  readonly files: number;
  /** The same files were already published for this release: nothing was uploaded. */
  readonly unchanged: boolean;
}

/**
 * Uploads a release's migrations, manifest last (`manifest.release` is the release). A release is immutable:
 * publishing different files under a release label that already has a manifest is refused. The same files under a
 * manifest an earlier lockstep wrote (without statements) get this manifest, and nothing else is uploaded.
 */
export async function publishMigrations(
  s3: S3Client,
  location: S3Location,
  files: ReadonlyArray<readonly [name: string, bytes: Buffer]>,
  manifest: PublishedManifest,
): Promise<PublishResult> {
  const { release } = manifest;
  const keyPrefix = releaseKeyPrefix(location, release);
  const existing = await existingManifest(s3, location.bucket, `${keyPrefix}${MANIFEST_FILE}`);
  const done = (unchanged: boolean) => ({ location: url(location, release), files: files.length, unchanged });
  if (existing) {
    if (existing.fileList !== fileList(manifest))
      throw new ManifestMismatchError(url(location, release), [
        'this release label was already published with different migrations; publish under a new release label',
      ]);
    if (existing.current) return done(true);
  } else {
    for (const [name, bytes] of files) {
      await s3.send(
        new PutObjectCommand({
          Bucket: location.bucket,
          Key: `${keyPrefix}${name}`,
          Body: bytes,
          ContentType: 'application/sql',
        }),
      );
    }
  }
  await s3.send(
    new PutObjectCommand({
      Bucket: location.bucket,
      Key: `${keyPrefix}${MANIFEST_FILE}`,
      Body: `${JSON.stringify(manifest)}\n`,
      ContentType: 'application/json',
    }),
  );
  return done(false);
}

/**
 * The files a manifest already at `key` lists (name and sha256, whichever lockstep wrote it), and whether it is in the
 * current format; one that exists but does not parse lists nothing, so it counts as different files.
 */
async function existingManifest(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<{ fileList: string; current: boolean } | undefined> {
  let text: string;
  try {
    text = (await getBytes(s3, bucket, key)).toString('utf8');
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  let raw: { files?: unknown } | null = null;
  try {
    raw = JSON.parse(text);
  } catch {}
  const files = Array.isArray(raw?.files) ? (raw.files as Array<{ name?: unknown; sha256?: unknown }>) : [];
  return {
    fileList: files.every((f) => typeof f?.name === 'string' && typeof f.sha256 === 'string')
      ? fileList({ files: files as Array<{ name: string; sha256: string }> })
      : '(unreadable)',
    // A manifest without the lint (written before it) is replaced by this one, as one without statements is.
    current: parseManifest(text).manifest?.files.every((f) => f.lint !== undefined) ?? false,
  };
}

const fileList = (m: { readonly files: ReadonlyArray<{ readonly name: string; readonly sha256: string }> }) =>
  [...m.files]
    .map((f) => `${f.name}:${f.sha256}`)
    .sort()
    .join('\n');
