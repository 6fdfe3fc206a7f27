/**
 * Environment variables, read and validated once per container at cold start. A missing or malformed
 * variable is a {@link ConfigError} naming it — a deployment mistake, reported before any work is done.
 */
import * as z from 'zod/mini';
import { ConfigError } from './errors.ts';
import './zod-locale.ts';

export type Env = Readonly<Record<string, string | undefined>>;

/** Parses `env` with a schema whose keys are variable names; the first problem names its variable. */
export function readConfig<S extends z.core.$ZodShape>(env: Env, shape: S): z.infer<z.ZodMiniObject<S>> {
  const parsed = z.object(shape).safeParse(env);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const variable = String(issue?.path[0] ?? 'environment');
  // From the environment itself: zod 4 leaves `issue.input` out, so a set but non-numeric or fractional
  // value must not be mistaken for a missing one.
  const problem =
    issue?.code === 'invalid_type' && env[variable] === undefined
      ? 'is not set'
      : (issue?.message ?? 'is invalid');
  throw new ConfigError(variable, problem);
}

/** Variables most functions share. */
export const common = {
  /** The state machine's log level for Powertools. */
  POWERTOOLS_LOG_LEVEL: z._default(
    z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT']),
    'INFO',
  ),
};

/**
 * An SSM parameter name as PutParameter takes it — a name, never an ARN: a-zA-Z0-9_.- with "/" between levels, not
 * starting with "aws" or "ssm" (SSM API Reference, PutParameter, Naming Constraints). The construct checks
 * `imageParameter` against it at synth, the deploy function IMAGE_PARAMETER at cold start.
 */
export const SSM_PARAMETER_NAME = /^\/?(?!aws|ssm)[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/i;

export const positiveInt = (fallback: number) =>
  z._default(
    z.coerce
      .number('must be a whole number')
      .check(z.int('must be a whole number'), z.positive('must be greater than 0')),
    fallback,
  );
export const arn = (service: string) =>
  z
    .string()
    .check(
      z.regex(new RegExp(`^arn:aws[a-z-]*:${service}:[a-z0-9-]+:\\d{12}:.+$`), `must be an ${service} ARN`),
    );

const ECS_ARN = 'arn:aws[a-z-]*:ecs:[a-z0-9-]+:\\d{12}:';
/** ECS_CLUSTER: a cluster name or ARN (deploy, migration task). */
export const ecsCluster = z
  .string()
  .check(
    z.regex(
      new RegExp(`^(?:${ECS_ARN}cluster/)?[A-Za-z0-9_-]{1,255}$`),
      'must be an ECS cluster name or ARN',
    ),
  );
/** ECS_SERVICE: a service name or ARN. */
export const ecsService = z
  .string()
  .check(
    z.regex(
      new RegExp(`^(?:${ECS_ARN}service/(?:[A-Za-z0-9_-]{1,255}/)?)?[A-Za-z0-9_-]{1,255}$`),
      'must be an ECS service name or ARN',
    ),
  );
/** CONTAINER_NAME: a container of the task definition. */
export const containerName = z
  .string()
  .check(z.regex(/^[A-Za-z0-9_-]{1,255}$/, 'must be a container name (letters, digits, "-" and "_")'));

/** DB_KIND: whether DB_IDENTIFIER names an RDS DB instance or a DB cluster (snapshot, restore). */
export const dbKind = z.enum(
  ['instance', 'cluster'],
  'must be "instance" (an RDS DB instance) or "cluster" (a DB cluster)',
);
/** DB_IDENTIFIER: an RDS DB instance or DB cluster identifier. */
export const dbIdentifier = z
  .string()
  .check(
    z.regex(
      /^[A-Za-z](?:[A-Za-z0-9]|-(?!-))*$/,
      'must be an RDS DB instance or cluster identifier: letters, digits and single hyphens, starting with a letter',
    ),
    z.maxLength(63, 'must be at most 63 characters'),
  );
