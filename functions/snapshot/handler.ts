/**
 * Lambda entry for the snapshot step. Builds its dependencies once per container (an invalid environment
 * fails the cold start with a ConfigError), validates the event, runs one action of ./snapshot.ts.
 */
import { RDSClient } from '@aws-sdk/client-rds';
import { runHandler } from '../shared/handler.ts';
import { createLogger } from '../shared/logger.ts';
import {
  parseSnapshotEvent,
  readSnapshotConfig,
  runSnapshotAction,
  type SnapshotDeps,
  type SnapshotResult,
} from './snapshot.ts';

const logger = createLogger('lockstep-snapshot');
const deps: SnapshotDeps = {
  rds: new RDSClient({}),
  log: logger,
  now: () => new Date(),
  config: readSnapshotConfig(process.env),
};

export async function handler(event: unknown): Promise<SnapshotResult> {
  // Log keys come from the raw event, so a rejected event is logged by the boundary too.
  const raw = event as
    | { executionId?: unknown; action?: unknown; release?: { release?: unknown } }
    | undefined;
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  return runHandler(
    logger,
    {
      executionId: text(raw?.executionId),
      release: text(raw?.release?.release),
      step: `snapshot:${text(raw?.action) ?? '?'}`,
    },
    async () => runSnapshotAction(deps, parseSnapshotEvent(event)),
  );
}
