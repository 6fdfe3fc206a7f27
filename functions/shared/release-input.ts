/**
 * The release input, as the three triggers supply it — a pipeline action, an ECR push event (through an
 * EventBridge input transformer), a console execution or the CLI — validated and normalized once, in
 * preflight, before any AWS call. Every later step reads the normalized form.
 */
import * as z from 'zod/mini';
import { InvalidInputError } from './errors.ts';
import { parseEvent } from './events.ts';
import { RELEASE_LABEL as RELEASE, RELEASE_LABEL_RULE } from './release-label.ts';

/** What every step after preflight receives. */
export interface ReleaseInput {
  /** A label for this release: a tag, commit or pipeline execution id. Recorded as `applied_by`. */
  readonly release: string;
  /** The full image URI to deploy, pinned by digest when the trigger knew it. */
  readonly image: string;
  /** Where this release's migrations come from: in command mode always `command`, the stack's migration command. */
  readonly migrations: MigrationsSource;
  readonly options: ReleaseOptions;
}

/** `command` is command mode's, a stack's alone: a release input cannot ask for it. */
export type MigrationsSource = 'bundled' | 's3' | 'command';

export interface ReleaseOptions {
  /** Migrate without taking a snapshot first (a non-production database). */
  readonly skipSnapshot: boolean;
  /** Plan only: report what would run, change nothing, deploy nothing. */
  readonly dryRun: boolean;
}

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
/** registry/repository[:tag][@digest], registry with an optional port. */
const IMAGE =
  /^(?:[a-z0-9]+(?:[.-][a-z0-9]+)*(?::\d{1,5})?\/)?([a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$/;

const ecrSchema = z
  .strictObject({
    registry: z.string().check(z.regex(/^\d{12}$/, 'must be a 12-digit AWS account id')),
    region: z
      .string()
      .check(z.regex(/^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/, 'must be an AWS region such as eu-west-1')),
    repository: z.string().check(z.maxLength(256), z.regex(REPOSITORY, 'must be an ECR repository name')),
    digest: z.optional(z.string().check(z.regex(DIGEST, 'must be sha256:<64 hex digits>'))),
    tag: z.optional(z.string().check(z.regex(TAG, 'must be a Docker tag'))),
  })
  .check(
    z.refine((e) => e.digest !== undefined || e.tag !== undefined, {
      message: 'needs a digest or a tag',
      path: ['digest'],
    }),
  );

/** The raw release input every trigger supplies; `schema/release-input.schema.json` is generated from it. */
export const rawReleaseInputSchema = z
  .strictObject({
    release: z.optional(z.string().check(z.regex(RELEASE, RELEASE_LABEL_RULE))),
    image: z.optional(
      z.string().check(
        z.maxLength(1024),
        z.regex(
          IMAGE,
          'must be an image URI such as 123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v1.2.3',
        ),
        z.refine(
          (uri) => /[:@][^/]+$/.test(uri.replace(/^[^/]+:\d+\//, '')),
          'must name a tag or a digest, not rely on :latest by default',
        ),
      ),
    ),
    ecr: z.optional(ecrSchema),
    migrations: z.optional(z.enum(['bundled', 's3'])),
    options: z.optional(
      z.strictObject({
        skipSnapshot: z.optional(z.boolean()),
        dryRun: z.optional(z.boolean()),
      }),
    ),
  })
  .check(
    z.refine((i) => (i.image === undefined) !== (i.ecr === undefined), {
      message: 'give exactly one of "image" (a full image URI) or "ecr" (from an image push event)',
      path: ['image'],
    }),
  );

/** Validates and normalizes a raw release input; throws {@link InvalidInputError} naming the first bad field. */
export function parseReleaseInput(
  raw: unknown,
  defaults: { readonly migrations: MigrationsSource },
): ReleaseInput {
  const input = parseEvent(rawReleaseInputSchema, raw, 'input');
  const image = input.image ?? ecrImage(input.ecr as z.infer<typeof ecrSchema>);
  const release = input.release ?? defaultRelease(input.ecr, image);
  return {
    release,
    image,
    migrations: input.migrations ?? defaults.migrations,
    options: { skipSnapshot: input.options?.skipSnapshot ?? false, dryRun: input.options?.dryRun ?? false },
  };
}

/** `<registry>.dkr.ecr.<region>.amazonaws.com/<repository>@<digest>`: pinned by digest when the event has one. */
function ecrImage(ecr: z.infer<typeof ecrSchema>): string {
  const base = `${ecr.registry}.dkr.ecr.${ecr.region}.amazonaws.com/${ecr.repository}`;
  return ecr.digest ? `${base}@${ecr.digest}` : `${base}:${ecr.tag}`;
}

/** The release label when the input gives none: the image's tag, else a short form of its digest. */
function defaultRelease(ecr: z.infer<typeof ecrSchema> | undefined, image: string): string {
  const tag = ecr?.tag ?? IMAGE.exec(image)?.[2];
  if (tag && RELEASE.test(tag)) return tag;
  const digest = ecr?.digest ?? IMAGE.exec(image)?.[3];
  if (digest) return `sha256-${digest.slice(7, 19)}`;
  throw new InvalidInputError(
    'release',
    tag
      ? `required: the image tag "${tag}" cannot name the release (a release label ${RELEASE_LABEL_RULE})`
      : 'required when the image has no tag to name the release by',
  );
}

/** The normalized form, as the steps after preflight receive it inside their events. */
export const releaseInputSchema = z.object({
  release: z.string().check(z.regex(RELEASE)),
  image: z.string().check(z.minLength(1), z.maxLength(1024)),
  migrations: z.enum(['bundled', 's3', 'command']),
  options: z.object({ skipSnapshot: z.boolean(), dryRun: z.boolean() }),
});

/**
 * JSON Schema (draft 2020-12) of the raw input, for the console and editors. The cross-field rule — exactly
 * one of `image` and `ecr` — is added by hand: zod refinements have no JSON Schema form.
 */
export function releaseInputJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(rawReleaseInputSchema, { unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return {
    ...generated,
    $id: 'https://lockstep.invalid/schema/release-input.schema.json',
    title: 'lockstep release input',
    description: 'Start a release with either a full image URI or an ECR push event’s fields.',
    oneOf: [{ required: ['image'] }, { required: ['ecr'] }],
  };
}
