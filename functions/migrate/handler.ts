import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { SecretSource } from '../shared/database.ts';
import { runHandler } from '../shared/handler.ts';
import { createLogger } from '../shared/logger.ts';
import { migrateConfig } from './config.ts';
import { type MigrateDeps, parseMigrateEvent, runMigrate } from './migrate.ts';

// Once per container: configuration checked at cold start, clients and the cached secret reused while warm.
const config = migrateConfig(process.env, process.env.LAMBDA_TASK_ROOT ?? process.cwd());
const logger = createLogger('lockstep-migrate');
const deps: MigrateDeps = {
  secrets: new SecretSource(new SecretsManagerClient({}), config.secretId),
  s3: new S3Client({}),
  log: logger,
  config,
  now: Date.now,
};

export const handler = async (event: unknown, context: Pick<Context, 'getRemainingTimeInMillis'>) => {
  const raw = event as { executionId?: string; mode?: string; release?: { release?: string } } | undefined;
  return runHandler(
    logger,
    { executionId: raw?.executionId, release: raw?.release?.release, step: `migrate:${raw?.mode ?? '?'}` },
    () => runMigrate(deps, parseMigrateEvent(event), { remainingMs: context.getRemainingTimeInMillis() }),
  );
};
