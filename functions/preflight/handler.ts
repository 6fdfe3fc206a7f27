/** Lambda entry for the preflight step; the handler itself lives beside the core (./preflight.ts). */
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import * as z from 'zod/mini';
import { readConfig } from '../shared/config.ts';
import { createLogger } from '../shared/logger.ts';
import { createPreflightHandler } from './preflight.ts';

const env = readConfig(process.env, {
  MIGRATIONS_SOURCE: z._default(z.enum(['bundled', 's3']), 'bundled'),
  MIGRATIONS_BUCKET: z.optional(z.string().check(z.minLength(3))),
  MIGRATIONS_PREFIX: z._default(z.string(), ''),
  DB_IDENTIFIER: z.string().check(z.minLength(1)),
});
const logger = createLogger('lockstep-preflight');
export const handler = createPreflightHandler(
  {
    sfn: new SFNClient({}),
    s3: new S3Client({}),
    log: logger,
    config: {
      defaultMigrations: env.MIGRATIONS_SOURCE,
      s3: env.MIGRATIONS_BUCKET
        ? { bucket: env.MIGRATIONS_BUCKET, prefix: env.MIGRATIONS_PREFIX }
        : undefined,
      database: env.DB_IDENTIFIER,
    },
  },
  logger,
);
