/**
 * `lockstep new <description>`: the next migration file's name and first lines, so a developer never picks a
 * version by hand. The version is after every version in the directory (a new file older than the newest one
 * would be refused as out of order wherever the newest already ran). A directory numbered in sequence
 * (`0001_…`, `0002_…`) gets the next number at the same width; otherwise (empty, or timestamps) the version is the
 * UTC time, `YYYYMMDDHHMMSS`, as dbmate, goose and golang-migrate write it.
 */
import { InvalidInputError } from './errors.ts';
import { FILE_PATTERN, MAX_VERSION } from './migration-files.ts';

export interface NewMigration {
  readonly file: string;
  readonly version: string;
  readonly content: string;
}

export interface NewMigrationOptions {
  /** The directory's file names. */
  readonly existing: readonly string[];
  readonly now: Date;
  /** Start the file with `-- lockstep:no-transaction`. */
  readonly noTransaction?: boolean;
  /** Start the file with `-- lockstep:after-deploy`. */
  readonly afterDeploy?: boolean;
  /** Force the numbering instead of following the directory's. */
  readonly numbering?: 'timestamp' | 'sequence';
}

/** Versions below this are a sequence; a timestamp version has 14 digits. */
const SEQUENCE_BELOW = 10n ** 9n;

export function newMigration(description: string, options: NewMigrationOptions): NewMigration {
  const slug = description
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (!slug)
    throw new InvalidInputError(
      'description',
      `"${description}" has no letters or digits to name the file by`,
    );
  if (slug.length > 100)
    throw new InvalidInputError('description', 'must be at most 100 characters once named');

  const versions = options.existing.flatMap((name) => {
    const match = FILE_PATTERN.exec(name);
    return match ? [{ digits: match[1] as string, value: BigInt(match[1] as string) }] : [];
  });
  const newest = versions.reduce<bigint | undefined>(
    (max, v) => (max === undefined || v.value > max ? v.value : max),
    undefined,
  );
  const sequence =
    options.numbering === 'sequence' ||
    (options.numbering === undefined &&
      versions.length > 0 &&
      versions.every((v) => v.value < SEQUENCE_BELOW));

  let version: string;
  if (sequence) {
    const width = Math.max(4, ...versions.map((v) => v.digits.length));
    version = String((newest ?? 0n) + 1n).padStart(width, '0');
  } else {
    const stamp = BigInt(options.now.toISOString().replace(/\D/g, '').slice(0, 14));
    version = String(newest !== undefined && newest >= stamp ? newest + 1n : stamp);
  }
  if (BigInt(version) > MAX_VERSION)
    throw new InvalidInputError('version', `${version} is larger than ${MAX_VERSION}`);
  const file = `${version}_${slug}.sql`;
  const header =
    (options.afterDeploy ? '-- lockstep:after-deploy\n' : '') +
    (options.noTransaction ? '-- lockstep:no-transaction\n' : '') +
    (options.afterDeploy
      ? '-- Runs once the new version is rolled out: drop or tighten only what that version no longer uses.\n'
      : '') +
    (options.noTransaction
      ? '-- Runs statement by statement, each on its own: write each one so that running it again is safe.\n'
      : '');
  return { file, version, content: `${header}-- ${description.trim()}\n\n` };
}
