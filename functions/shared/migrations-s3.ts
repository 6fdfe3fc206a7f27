/**
 * Migrations published per release to `s3://<bucket>/<prefix>/<release>/`: the `.sql` files, then
 * `manifest.json` last, so a manifest means the upload is complete. Used by preflight (does it exist?),
 * migrate (download and verify) and `lockstep publish` (upload).
 */
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  createManifest,
  MANIFEST_FILE,
  type Manifest,
  parseManifest,
  verifyAgainstManifest,
} from '../../engine/manifest.ts';
import { type MigrationFile, parseMigrationFiles } from '../../engine/migration-files.ts';
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

/** Downloads the release's migrations and verifies them against the manifest before anything uses them. */
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
      `manifest.json is for release "${manifest.release}"`,
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
  const mismatch = verifyAgainstManifest(manifest, files);
  if (mismatch.length > 0) throw new ManifestMismatchError(url(location, release), mismatch);
  return parseMigrationFiles(files);
}

export interface PublishResult {
  readonly location: string;
  readonly files: number;
  /** The same files were already published for this release: nothing was uploaded. */
  readonly unchanged: boolean;
}

/**
 * Uploads a release's migrations, manifest last. A release is immutable: publishing different files under a
 * release label that already has a manifest is refused.
 */
export async function publishMigrations(
  s3: S3Client,
  location: S3Location,
  release: string,
  files: ReadonlyArray<readonly [name: string, bytes: Buffer]>,
  now: Date,
): Promise<PublishResult> {
  const keyPrefix = releaseKeyPrefix(location, release);
  const manifest = createManifest(release, files, now);
  const existing = await existingManifest(s3, location.bucket, `${keyPrefix}${MANIFEST_FILE}`);
  if (existing) {
    if (existing !== 'unreadable' && sameFiles(existing, manifest))
      return { location: url(location, release), files: files.length, unchanged: true };
    throw new ManifestMismatchError(url(location, release), [
      'this release label was already published with different migrations; publish under a new release label',
    ]);
  }
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
  await s3.send(
    new PutObjectCommand({
      Bucket: location.bucket,
      Key: `${keyPrefix}${MANIFEST_FILE}`,
      Body: `${JSON.stringify(manifest, null, 2)}\n`,
      ContentType: 'application/json',
    }),
  );
  return { location: url(location, release), files: files.length, unchanged: false };
}

/** The manifest already published at `key`; one that exists but does not parse counts as different files. */
async function existingManifest(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<Manifest | 'unreadable' | undefined> {
  let text: string;
  try {
    text = (await getBytes(s3, bucket, key)).toString('utf8');
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  return parseManifest(text).manifest ?? 'unreadable';
}

function sameFiles(a: Manifest, b: Manifest): boolean {
  const key = (m: Manifest) => m.files.map((f) => `${f.name}:${f.sha256}`).join('\n');
  return key(a) === key(b);
}
