/**
 * Property-based fuzzing of the release input as preflight receives it (fast-check). Malformed inputs — wrong
 * types, unknown fields, bad image URIs, bad labels, both or neither of image and ecr, option garbage — are
 * each rejected with InvalidInputError naming a real path of the input, before any AWS call. Valid inputs with
 * arbitrary labels, tags and digests are accepted and normalized as the README describes.
 * The seed is printed; LOCKSTEP_RELIABILITY_SEED replays it.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { type PreflightDeps, preflight } from '../../functions/preflight/preflight.ts';
import { InvalidInputError } from '../../functions/shared/errors.ts';
import { type LocalDynamo, startDynamo } from '../support/dynalite.ts';
import { chooseSeed, report } from './support.ts';

const RUNS = 1000;
/** Distinct defects {@link malformedArb} generates; every one must turn up in a run. */
const DEFECT_KINDS = 29;
const STATE_MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:lockstep-shop';
const SELF = 'arn:aws:states:eu-west-1:123456789012:execution:lockstep-shop:release-1';
const STARTED = new Date('2026-11-22T10:00:00Z');
const BUCKET = 'shop-releases';
const PREFIX = 'migrations';

const RELEASE_LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const TOP_KEYS = ['release', 'image', 'ecr', 'migrations', 'options'];
const ECR_KEYS = ['registry', 'region', 'repository', 'digest', 'tag'];
const OPTION_KEYS = ['skipSnapshot', 'dryRun'];
/** Every path the release input has. An error may name one of these, or the input as a whole. */
const SCHEMA_PATHS = new Set([
  ...TOP_KEYS,
  ...ECR_KEYS.map((k) => `ecr.${k}`),
  ...OPTION_KEYS.map((k) => `options.${k}`),
]);

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `input` itself, or a path of the input's schema whose parent the input has. */
function isRealPath(input: unknown, field: string): boolean {
  if (field === 'input') return true;
  if (!SCHEMA_PATHS.has(field)) return false;
  const parts = field.split('.');
  let node: unknown = input;
  for (const part of parts.slice(0, -1)) {
    if (!isPlainObject(node) || !Object.hasOwn(node, part)) return false;
    node = node[part];
  }
  return isPlainObject(node);
}

/** Sets an own, enumerable property, even `__proto__`, as JSON.parse would. */
function withKey<T extends object>(object: T, key: string, value: unknown): T {
  const copy = { ...object };
  Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

function without<T extends object>(object: T, ...keys: string[]): T {
  const copy = { ...object } as Record<string, unknown>;
  for (const k of keys) delete copy[k];
  return copy as T;
}

// ---------------------------------------------------------------------------------------------------------
// Valid parts

const HEX = fc.constantFrom(...'0123456789abcdef');
const digestArb = fc.string({ unit: HEX, minLength: 64, maxLength: 64 }).map((h) => `sha256:${h}`);
const tagArb = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/);
const labelArb = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);
const componentArb = fc.stringMatching(/^[a-z0-9]{1,12}(?:(?:[._]|__|-{1,3})[a-z0-9]{1,12}){0,2}$/);
const repositoryArb = fc.array(componentArb, { minLength: 1, maxLength: 3 }).map((c) => c.join('/'));
const accountArb = fc.stringMatching(/^[0-9]{12}$/);
const regionArb = fc.stringMatching(/^[a-z]{2}(?:-[a-z]{1,10}){1,2}-[0-9]{1,2}$/);
const hostArb = fc.oneof(
  fc.tuple(accountArb, regionArb).map(([a, r]) => `${a}.dkr.ecr.${r}.amazonaws.com`),
  fc
    .tuple(
      fc.stringMatching(/^[a-z0-9]{1,10}(?:[.-][a-z0-9]{1,10}){0,3}$/),
      fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    )
    .map(([h, port]) => (port === undefined ? h : `${h}:${port}`)),
);

interface ImageParts {
  readonly host: string | undefined;
  readonly repository: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;
}
const imagePartsArb: fc.Arbitrary<ImageParts> = fc
  .record({
    host: fc.option(hostArb, { nil: undefined }),
    repository: repositoryArb,
    tag: fc.option(tagArb, { nil: undefined }),
    digest: fc.option(digestArb, { nil: undefined }),
  })
  .filter((p) => p.tag !== undefined || p.digest !== undefined);
const imageUri = (p: ImageParts) =>
  `${p.host === undefined ? '' : `${p.host}/`}${p.repository}${p.tag === undefined ? '' : `:${p.tag}`}${p.digest === undefined ? '' : `@${p.digest}`}`;

interface EcrFields {
  readonly registry: string;
  readonly region: string;
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}
const ecrArb: fc.Arbitrary<EcrFields> = fc
  .record(
    { registry: accountArb, region: regionArb, repository: repositoryArb, tag: tagArb, digest: digestArb },
    { requiredKeys: ['registry', 'region', 'repository'] },
  )
  .filter((e) => e.tag !== undefined || e.digest !== undefined);

const optionsArb = fc.record({ skipSnapshot: fc.boolean(), dryRun: fc.boolean() }, { requiredKeys: [] });
const commonArb = fc.record(
  { release: labelArb, migrations: fc.constantFrom('bundled', 's3'), options: optionsArb },
  { requiredKeys: [] },
);

type Input = Record<string, unknown>;
interface Base {
  readonly kind: 'image' | 'ecr';
  readonly input: Input;
  /** The image the input names, normalized; its tag and digest. */
  readonly image: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;
}

const imageBaseArb: fc.Arbitrary<Base & { parts: ImageParts }> = fc
  .tuple(imagePartsArb, commonArb)
  .map(([parts, common]) => ({
    kind: 'image' as const,
    parts,
    input: { ...common, image: imageUri(parts) },
    image: imageUri(parts),
    tag: parts.tag,
    digest: parts.digest,
  }));
const ecrBaseArb: fc.Arbitrary<Base & { ecr: EcrFields }> = fc
  .tuple(ecrArb, commonArb)
  .map(([ecr, common]) => {
    const base = `${ecr.registry}.dkr.ecr.${ecr.region}.amazonaws.com/${ecr.repository}`;
    return {
      kind: 'ecr' as const,
      ecr,
      input: { ...common, ecr },
      image: ecr.digest ? `${base}@${ecr.digest}` : `${base}:${ecr.tag}`,
      tag: ecr.tag,
      digest: ecr.digest,
    };
  });
const baseArb: fc.Arbitrary<Base> = fc.oneof(imageBaseArb, ecrBaseArb);

/** What preflight must make of a valid-looking input: the README's rules, written out independently. */
function expectedRelease(b: Base): { release: string } | { rejects: 'release' } {
  const given = b.input.release as string | undefined;
  if (given !== undefined) return { release: given };
  if (b.tag !== undefined && RELEASE_LABEL.test(b.tag)) return { release: b.tag };
  if (b.digest !== undefined) return { release: `sha256-${b.digest.slice(7, 19)}` };
  return { rejects: 'release' };
}

// ---------------------------------------------------------------------------------------------------------
// Malformed inputs: a valid base with one defect, and the field the error must name.

interface Malformed {
  readonly what: string;
  readonly input: unknown;
  /** The field the error must name; undefined: any real path will do. */
  readonly field: string | undefined;
}

const notString = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.anything(), { maxLength: 3 }),
  fc.object({ maxDepth: 1 }),
);
const notObject = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.anything(), { maxLength: 3 }),
);
const notBoolean = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.constant(null),
  fc.constantFrom('true', 'false', 1, 0),
  fc.object({ maxDepth: 1 }),
  fc.array(fc.boolean(), { maxLength: 2 }),
);
/** Characters allowed nowhere in an image URI. */
const imageBadChar = fc.constantFrom(
  ...[
    ' ',
    '!',
    '#',
    '$',
    '%',
    '"',
    '\\',
    '?',
    '*',
    '\n',
    '\t',
    '\u0000',
    'é',
    '|',
    ';',
    '&',
    '(',
    ')',
    '<',
    '>',
  ],
  ...[',', '~', '+', '=', '\u202e', '😀', '[', ']', '{', '}', "'", '`', '^'],
);
/** Characters allowed nowhere in a release label. */
const labelBadChar = fc.oneof(imageBadChar, fc.constantFrom(':', '/', '@'));
const insertAt = (text: string, char: string, position: number) =>
  `${text.slice(0, position % (text.length + 1))}${char}${text.slice(position % (text.length + 1))}`;

const badLabelArb = fc.oneof(
  fc.tuple(labelArb, labelBadChar, fc.nat()).map(([l, c, p]) => insertAt(l, c, p)),
  fc.tuple(fc.constantFrom('.', '-', '_'), labelArb).map(([c, l]) => `${c}${l}`),
  fc.constant(''),
  fc.stringMatching(/^[A-Za-z0-9]{129,140}$/),
);
const badDigestArb = fc.oneof(
  fc.string({ unit: HEX, minLength: 1, maxLength: 63 }).map((h) => `sha256:${h}`),
  fc.string({ unit: HEX, minLength: 65, maxLength: 80 }).map((h) => `sha256:${h}`),
  fc
    .string({ unit: fc.constantFrom(...'0123456789ABCDEF'), minLength: 64, maxLength: 64 })
    .filter((h) => /[A-F]/.test(h))
    .map((h) => `sha256:${h}`),
  digestArb.map((d) => d.replace('sha256', 'sha512')),
  digestArb.map((d) => d.slice(7)),
);
const badTagArb = fc.oneof(
  fc.tuple(fc.constantFrom('.', '-'), tagArb).map(([c, t]) => `${c}${t}`),
  fc.stringMatching(/^[A-Za-z0-9]{129,140}$/),
  fc.constant(''),
  fc.tuple(tagArb, fc.constantFrom(':', '/', '@', ' ', '+')).map(([t, c]) => `${t}${c}`),
);
const unknownKey = (known: readonly string[]) =>
  fc
    .oneof(
      fc.string({ minLength: 1, maxLength: 12 }),
      fc.constantFrom('__proto__', 'constructor', 'toString', 'Image', 'image ', 'dry_run', 'ecr.tag', ''),
    )
    .filter((k) => !known.includes(k));
/** With at least one upper-case letter, which registries and repositories never have. */
const capitalize = (s: string) => (/[a-z]/.test(s) ? s.replace(/[a-z]/, (c) => c.toUpperCase()) : `X${s}`);

function topLevelDefects(b: Base): Array<fc.Arbitrary<Malformed>> {
  const i = b.input;
  return [
    fc
      .oneof(notObject, fc.constant(undefined))
      .map((input) => ({ what: 'input not an object', input, field: 'input' })),
    fc
      .tuple(unknownKey(TOP_KEYS), fc.anything())
      .map(([k, v]) => ({ what: 'unknown top-level field', input: withKey(i, k, v), field: 'input' })),
    notString.map((v) => ({ what: 'release not a string', input: { ...i, release: v }, field: 'release' })),
    badLabelArb.map((v) => ({ what: 'bad release label', input: { ...i, release: v }, field: 'release' })),
    fc
      .oneof(
        fc.string().filter((s) => s !== 'bundled' && s !== 's3'),
        fc.constantFrom('S3', 'Bundled', 'git', ' s3'),
        notString,
      )
      .map((v) => ({ what: 'bad migrations source', input: { ...i, migrations: v }, field: 'migrations' })),
    notObject.map((v) => ({ what: 'options not an object', input: { ...i, options: v }, field: 'options' })),
    fc.tuple(unknownKey(OPTION_KEYS), fc.anything()).map(([k, v]) => ({
      what: 'unknown option',
      input: { ...i, options: withKey((i.options as object | undefined) ?? {}, k, v) },
      field: 'options',
    })),
    fc.tuple(fc.constantFrom(...OPTION_KEYS), notBoolean).map(([k, v]) => ({
      what: 'option not a boolean',
      input: { ...i, options: { ...((i.options as object | undefined) ?? {}), [k]: v } },
      field: `options.${k}`,
    })),
    fc
      .dictionary(fc.oneof(fc.constantFrom(...OPTION_KEYS), fc.string({ maxLength: 6 })), fc.anything(), {
        minKeys: 1,
        maxKeys: 4,
      })
      .filter(
        (o) =>
          Object.keys(o).some((k) => !OPTION_KEYS.includes(k)) ||
          Object.values(o).some((v) => typeof v !== 'boolean' && v !== undefined),
      )
      .map((o) => ({ what: 'option garbage', input: { ...i, options: o }, field: undefined })),
  ];
}

function imageDefects(b: Base & { parts: ImageParts }): Array<fc.Arbitrary<Malformed>> {
  const i = b.input;
  const image = (what: string, arb: fc.Arbitrary<unknown>) =>
    arb.map((v) => ({ what, input: { ...i, image: v }, field: 'image' }));
  const { parts } = b;
  return [
    image('image not a string', notString),
    image(
      'image with a forbidden character',
      fc.tuple(imageBadChar, fc.nat()).map(([c, p]) => insertAt(b.image, c, p)),
    ),
    image(
      'image repository in upper case',
      fc.constant(imageUri({ ...parts, repository: capitalize(parts.repository) })),
    ),
    image(
      'image with neither tag nor digest',
      fc.constant(imageUri({ ...parts, tag: undefined, digest: undefined })),
    ),
    image(
      'image with a bad digest',
      badDigestArb.map((d) => imageUri({ ...parts, digest: d })),
    ),
    image(
      'image with a bad tag',
      badTagArb.map((t) => imageUri({ ...parts, tag: t, digest: undefined })),
    ),
    image(
      'image empty, too long or a URL',
      fc.constantFrom(
        '',
        `${'a'.repeat(1100)}:v1`,
        `https://${b.image}`,
        `docker://${b.image}`,
        `${b.image}/`,
      ),
    ),
    ecrArb.map((ecr) => ({ what: 'both image and ecr', input: { ...i, ecr }, field: 'image' })),
    fc.constant({ what: 'neither image nor ecr', input: without(i, 'image'), field: 'image' }),
    fc.stringMatching(/^_[A-Za-z0-9_.-]{0,20}$/).map((t) => ({
      what: 'tag no release label, no digest, no release',
      input: { ...without(i, 'release'), image: imageUri({ ...parts, tag: t, digest: undefined }) },
      field: 'release',
    })),
  ];
}

function ecrDefects(b: Base & { ecr: EcrFields }): Array<fc.Arbitrary<Malformed>> {
  const i = b.input;
  const { ecr } = b;
  const field = (key: string, what: string, arb: fc.Arbitrary<unknown>) =>
    arb.map((v) => ({
      what,
      input: { ...i, ecr: v === undefined ? without(ecr, key) : { ...ecr, [key]: v } },
      field: `ecr.${key}`,
    }));
  return [
    notObject.map((v) => ({ what: 'ecr not an object', input: { ...i, ecr: v }, field: 'ecr' })),
    fc.constant({ what: 'neither image nor ecr', input: without(i, 'ecr'), field: 'image' }),
    field(
      'registry',
      'bad ecr registry',
      fc.oneof(
        fc.stringMatching(/^[0-9]{1,11}$/),
        fc.stringMatching(/^[0-9]{13,16}$/),
        fc.constantFrom('12345678901a', 'aws', ' 123456789012', undefined),
        notString,
      ),
    ),
    field(
      'region',
      'bad ecr region',
      fc.oneof(
        regionArb.map((r) => r.toUpperCase()),
        regionArb.map((r) => r.replaceAll('-', '_')),
        fc.constantFrom('euwest1', 'eu-west', '', 'us-east-1a', undefined),
        notString,
      ),
    ),
    field(
      'repository',
      'bad ecr repository',
      fc.oneof(
        repositoryArb.map(capitalize),
        repositoryArb.map((r) => `/${r}`),
        repositoryArb.map((r) => `${r}/`),
        repositoryArb.map((r) => `${r}//x`),
        repositoryArb.map((r) => `${r}:v1`),
        fc.constantFrom('', `a${'/b'.repeat(130)}`, undefined),
        notString,
      ),
    ),
    field('digest', 'bad ecr digest', fc.oneof(badDigestArb, notString)),
    field('tag', 'bad ecr tag', fc.oneof(badTagArb, notString)),
    fc.constant({
      what: 'ecr with neither digest nor tag',
      input: { ...i, ecr: without(ecr, 'digest', 'tag') },
      field: 'ecr.digest',
    }),
    fc.tuple(unknownKey(ECR_KEYS), fc.anything()).map(([k, v]) => ({
      what: 'unknown ecr field',
      input: { ...i, ecr: withKey(ecr, k, v) },
      field: 'ecr',
    })),
    fc.stringMatching(/^_[A-Za-z0-9_.-]{0,20}$/).map((t) => ({
      what: 'tag no release label, no digest, no release',
      input: { ...without(i, 'release'), ecr: { ...without(ecr, 'digest'), tag: t } },
      field: 'release',
    })),
  ];
}

const garbageArb: fc.Arbitrary<Malformed> = fc.oneof(
  fc.anything().map((input) => ({ what: 'anything', input, field: undefined })),
  fc
    .dictionary(fc.oneof(fc.constantFrom(...TOP_KEYS), fc.string({ maxLength: 6 })), fc.anything(), {
      maxKeys: 5,
    })
    .map((input) => ({ what: 'known keys, garbage values', input, field: undefined })),
);

const malformedArb: fc.Arbitrary<Malformed> = fc.oneof(
  { arbitrary: garbageArb, weight: 1 },
  {
    arbitrary: baseArb.chain((b) =>
      fc.oneof(
        ...topLevelDefects(b),
        ...(b.kind === 'image'
          ? imageDefects(b as Base & { parts: ImageParts })
          : ecrDefects(b as Base & { ecr: EcrFields })),
      ),
    ),
    weight: 9,
  },
);

// ---------------------------------------------------------------------------------------------------------

describe('release input fuzzing (preflight)', () => {
  const sfn = mockClient(SFNClient);
  const s3 = mockClient(S3Client);
  const logs: string[] = [];
  let dynamo: LocalDynamo;
  let deps: PreflightDeps;
  before(async () => {
    dynamo = await startDynamo();
    const table = await dynamo.createLockTable('fuzz-locks');
    deps = {
      sfn: new SFNClient({ region: 'eu-west-1' }),
      s3: new S3Client({ region: 'eu-west-1' }),
      log: { debug() {}, info: (m) => logs.push(m), warn() {}, error() {} },
      config: { defaultMigrations: 'bundled', s3: { bucket: BUCKET, prefix: PREFIX }, database: 'shop-db' },
      // A real DynamoDB: every accepted input takes (and, being the same execution, keeps) the release lock.
      lock: { dynamodb: dynamo.client, config: { table, lockId: 'shop-db', ttlSeconds: 6 * 3600 } },
    };
  });
  after(async () => {
    await dynamo.close();
  });
  const event = (input: unknown) => ({
    input,
    execution: { id: SELF, startTime: STARTED.toISOString(), stateMachineArn: STATE_MACHINE },
  });

  beforeEach(() => {
    sfn.reset();
    s3.reset();
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
    s3.on(HeadObjectCommand).resolves({});
  });

  /** Asserts preflight rejects `input` naming a real path (`field`, when given), having called nothing. */
  async function assertRejected(input: unknown, field: string | undefined): Promise<void> {
    sfn.resetHistory();
    s3.resetHistory();
    logs.length = 0;
    let error: unknown;
    try {
      await preflight(deps, event(input));
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof InvalidInputError, `rejected with ${String(error)}`);
    assert.equal(error.name, 'InvalidInputError');
    assert.equal(error.code, 'INVALID_INPUT');
    assert.ok(isRealPath(input, error.field), `"${error.field}" is no path of the input`);
    if (field !== undefined) assert.equal(error.field, field);
    assert.ok(error.message.startsWith(`${error.field}: `), error.message);
    assert.equal(error.toJSON().field, error.field);
    assert.equal(sfn.calls().length + s3.calls().length, 0, 'no AWS call');
    assert.deepEqual(logs, []);
  }

  test(`${RUNS} malformed inputs are each rejected naming a real path, before any AWS call`, async () => {
    const seed = chooseSeed();
    const kinds = new Map<string, number>();
    let failures = 1;
    try {
      await fc.assert(
        fc.asyncProperty(malformedArb, async (m) => {
          kinds.set(m.what, (kinds.get(m.what) ?? 0) + 1);
          await assertRejected(m.input, m.field);
        }),
        { numRuns: RUNS, seed },
      );
      failures = 0;
    } finally {
      report('release-input-fuzz-malformed', { cases: RUNS, failures, seed, kinds: kinds.size });
    }
    assert.equal(kinds.size, DEFECT_KINDS, `generated ${[...kinds.keys()].join(', ')}`);
  });

  test(`${RUNS} valid inputs with arbitrary labels, tags and digests are accepted and normalized`, async () => {
    const seed = chooseSeed();
    let accepted = 0;
    let rejectedForRelease = 0;
    let failures = 1;
    try {
      await fc.assert(
        fc.asyncProperty(baseArb, async (b) => {
          const expected = expectedRelease(b);
          if ('rejects' in expected) {
            rejectedForRelease += 1;
            await assertRejected(b.input, 'release');
            return;
          }
          sfn.resetHistory();
          s3.resetHistory();
          // Through JSON, as Step Functions hands the input over.
          const out = await preflight(deps, event(JSON.parse(JSON.stringify(b.input))));
          const migrations = (b.input.migrations as string | undefined) ?? 'bundled';
          const options = (b.input.options ?? {}) as { skipSnapshot?: boolean; dryRun?: boolean };
          assert.deepEqual(out, {
            release: {
              release: expected.release,
              image: b.image,
              migrations,
              options: { skipSnapshot: options.skipSnapshot ?? false, dryRun: options.dryRun ?? false },
            },
            executionId: SELF,
            database: 'shop-db',
          });
          // The lock is this execution's already: no other execution to look up.
          assert.equal(sfn.calls().length, 0);
          const heads = s3.commandCalls(HeadObjectCommand).map((c) => c.args[0].input);
          assert.deepEqual(
            heads,
            migrations === 's3'
              ? [{ Bucket: BUCKET, Key: `${PREFIX}/${expected.release}/manifest.json` }]
              : [],
          );
          accepted += 1;
        }),
        { numRuns: RUNS, seed },
      );
      failures = 0;
    } finally {
      report('release-input-fuzz-valid', { cases: RUNS, accepted, rejectedForRelease, failures, seed });
    }
    assert.ok(accepted > RUNS / 2);
  });
});
