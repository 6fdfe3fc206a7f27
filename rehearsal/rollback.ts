/**
 * `lockstep rollback --local`: the rollback rehearsed on this machine, with the rollback state machine's input
 * (functions/shared/rollback-input.ts) and its steps, against the rehearsal's own stand-ins: under the rehearsal lock
 * (no release --local meanwhile), the restore is `restore --local`'s database copy swap, the redeploy points the
 * local ECS service (.lockstep/deploy.json) back at the target's revision and waits for its rollout, and the
 * rollback leaves a record in .lockstep/releases/ as the flow leaves one in DynamoDB: RUNNING at the start,
 * SUCCEEDED or FAILED (with the step) at the end. (The AWS flow's own states are the construct's; once it merges,
 * this can run its synthesized definition as release --local runs the release's.)
 */
import { join } from 'node:path';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { RollbackFailedError } from '../cli/rollback.ts';
import { InvalidInputError } from '../engine/errors.ts';
import type { RollbackInput } from '../functions/shared/rollback-input.ts';
import { RECORD, type RecordOutcome } from '../infra/release-record-keys.ts';
import { takeRehearsalLock } from './lock.ts';
import { localSnapshots, withLocalDatabase } from './release.ts';
import { LOCAL_ACCOUNT } from './stand-ins/account.ts';
import { LocalEcsService } from './stand-ins/ecs.ts';
import { localRecordsTable } from './stand-ins/records.ts';

export interface LocalRollbackOptions {
  readonly cwd: string;
  /** The database the records are of (the plan's). */
  readonly database: string;
  readonly input: RollbackInput;
  readonly print: (line: string) => void;
  readonly now: () => Date;
  /** How long to wait between looks at the rollout. @default 200 */
  readonly pollMs?: number;
}

export interface LocalRollbackResult {
  readonly status: 'SUCCEEDED';
  readonly rollback: string;
  readonly recordKey: string;
  readonly restored: string | null;
  readonly taskDefinitionArn: string;
  /** The images of the revision the service now runs. */
  readonly runningImages: readonly string[];
}

/** Looks at a rollout at most this many times. */
const ROLLOUT_LOOKS = 50;

export function rollbackLocal(options: LocalRollbackOptions): Promise<LocalRollbackResult> {
  const { input, print } = options;
  return withLocalDatabase(options.cwd, print, async ({ server }) => {
    const unlock = await takeRehearsalLock(server.url, `rollback --local ${input.rollback}`);
    try {
      const ecs = new LocalEcsService({
        account: LOCAL_ACCOUNT,
        cluster: 'app',
        service: 'app',
        container: 'app',
        initialImage: 'local/app:initial',
        stateFile: join(options.cwd, '.lockstep', 'deploy.json'),
      });
      const revision = input.to.taskDefinitionArn;
      // Before anything changes: the revision to go back to must still be the local service's.
      if (!ecs.taskDefinitions.has(revision))
        throw new InvalidInputError(
          '--to',
          `the local service has no revision ${revision} (was .lockstep/deploy.json removed since ${input.to.release}?)`,
        );
      const snapshots = localSnapshots(server);
      if (input.restore && !(await snapshots.list()).some((s) => s.id === input.restore?.snapshotId))
        throw new InvalidInputError(
          '--restore-database',
          `the local snapshot ${input.restore.snapshotId} is gone (lockstep snapshots --local lists those there are)`,
        );
      const record = new RollbackRecord(options, ecs.taskDefinitionArn);
      record.write('RUNNING');
      let step = 'Restore';
      try {
        if (input.restore) {
          print(`restoring the local database from ${input.restore.snapshotId} …`);
          await snapshots.restore(input.restore.snapshotId);
        }
        step = 'Rollout status';
        print(`redeploying ${revision} …`);
        ecs.updateService({ service: ecs.serviceArn, taskDefinition: revision });
        await waitForRollout(ecs, options.pollMs ?? 200);
      } catch (err) {
        record.write('FAILED', { step, error: err as Error });
        throw err;
      }
      record.write('SUCCEEDED');
      const running = ecs.taskDefinitions.get(ecs.taskDefinitionArn)?.containerDefinitions ?? [];
      const result: LocalRollbackResult = {
        status: 'SUCCEEDED',
        rollback: input.rollback,
        recordKey: record.key,
        restored: input.restore?.snapshotId ?? null,
        taskDefinitionArn: ecs.taskDefinitionArn,
        runningImages: running.flatMap((c) => (c.image ? [c.image] : [])),
      };
      print(`the service now runs ${result.taskDefinitionArn} (${result.runningImages.join(', ')})`);
      print(`record     lockstep releases show ${input.rollback} --local`);
      return result;
    } finally {
      await unlock();
    }
  });
}

/** Looks at the service until its rollout completes; a failed one (rolled back by the circuit breaker) throws. */
async function waitForRollout(ecs: LocalEcsService, pollMs: number): Promise<void> {
  for (let look = 0; look < ROLLOUT_LOOKS; look++) {
    const [service] = ecs.describeServices({ services: [ecs.serviceArn] }).services;
    const primary = service?.deployments?.find((d) => d.status === 'PRIMARY');
    if (primary?.rolloutState === 'COMPLETED' && primary.taskDefinition === ecs.taskDefinitionArn) return;
    const failed = service?.deployments?.find((d) => d.rolloutState === 'FAILED');
    if (failed)
      throw new RollbackFailedError(
        'local',
        'FAILED',
        'RolloutFailedError',
        failed.rolloutStateReason ?? 'the rollout failed',
      );
    await new Promise((r) => setTimeout(r, pollMs));
  }
  throw new RollbackFailedError(
    'local',
    'FAILED',
    'RolloutTimeoutError',
    `no completed rollout after ${ROLLOUT_LOOKS} looks`,
  );
}

/** The rollback's record item, as the flow writes one (infra/constructs/release-records.ts's attributes). */
class RollbackRecord {
  readonly key: string;
  private readonly startedAt: string;
  private readonly executionName: string;

  constructor(
    private readonly options: LocalRollbackOptions,
    private readonly previousTaskDefinitionArn: string,
  ) {
    this.startedAt = options.now().toISOString();
    this.executionName = options.input.rollback;
    this.key = `${this.startedAt}#${this.executionName}`;
  }

  write(outcome: RecordOutcome, failure?: { step: string; error: Error }): void {
    const { input, database } = this.options;
    const S = (s: string): AttributeValue => ({ S: s });
    const { region, account } = LOCAL_ACCOUNT;
    const table = localRecordsTable(this.options.cwd);
    table.putItem({
      TableName: table.tableName,
      Item: {
        [RECORD.partitionKey]: S(database),
        [RECORD.sortKey]: S(this.key),
        kind: S(RECORD.kind),
        release: S(input.rollback),
        image: S(input.to.image),
        outcome: S(outcome),
        executionArn: S(
          `arn:aws:states:${region}:${account}:execution:lockstep-local-rollback:${this.executionName}`,
        ),
        startedAt: S(this.startedAt),
        updatedAt: S(this.options.now().toISOString()),
        // The rollback takes no snapshot of its own.
        snapshotId: S('none'),
        plan: S('null'),
        deployment: S(
          JSON.stringify({
            taskDefinitionArn: input.to.taskDefinitionArn,
            previousTaskDefinitionArn: this.previousTaskDefinitionArn,
          }),
        ),
        revision: S('null'),
        ...(failure
          ? {
              failedStep: S(failure.step),
              error: S(failure.error.name),
              cause: S(failure.error.message),
            }
          : {}),
        input: S(JSON.stringify(input)),
      },
    });
  }
}
