import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import { readConfig } from '../shared/config.ts';
import { runHandler } from '../shared/handler.ts';
import { createLogger } from '../shared/logger.ts';
import { type PreflightDeps, preflight } from './preflight.ts';

const env = readConfig(process.env, {
  MIGRATIONS_SOURCE: z.enum(['bundled', 's3']).default('bundled'),
  MIGRATIONS_BUCKET: z.string().min(3).optional(),
  MIGRATIONS_PREFIX: z.string().default(''),
  DB_IDENTIFIER: z.string().min(1),
});
const logger = createLogger('lockstep-preflight');
const deps: PreflightDeps = {
  sfn: new SFNClient({}),
  s3: new S3Client({}),
  log: logger,
  config: {
    defaultMigrations: env.MIGRATIONS_SOURCE,
    s3: env.MIGRATIONS_BUCKET ? { bucket: env.MIGRATIONS_BUCKET, prefix: env.MIGRATIONS_PREFIX } : undefined,
    database: env.DB_IDENTIFIER,
  },
};

export const handler = async (event: unknown) => {
  const raw = event as { execution?: { id?: string }; input?: { release?: string } } | undefined;
  return runHandler(
    logger,
    {
      executionId: raw?.execution?.id,
      release: typeof raw?.input?.release === 'string' ? raw.input.release : undefined,
      step: 'preflight',
    },
    () => preflight(deps, event),
  );
};
