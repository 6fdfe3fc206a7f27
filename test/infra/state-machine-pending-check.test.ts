/**
 * Command mode's pending check (`pendingCheck`), executed from the synthesized definition (the example stack with
 * `-c migrationCommand=… -c pendingCheckCommand=…`): the check's `ecs:runTask.sync` plays recorded task shapes
 * through `ecs.pendingChecks`, the migration task's through `ecs.migrationTasks`; every Lambda task is the real
 * handler.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { CreateDBSnapshotCommand as CreateSnapshot } from '@aws-sdk/client-rds';
import { STATE } from '../../infra/constructs/release-definition.ts';
import { TASK_ERRORS, TASK_SHAPES } from '../../rehearsal/stand-ins/ecs-task-shapes.ts';
import { freshDatabase, migrationsDir, type TestDatabase } from '../support/database.ts';
import {
  createLocalRelease,
  FIXTURE_MIGRATIONS,
  type LocalRelease,
  type ReleaseRun,
  releaseInput,
} from '../support/local-release.ts';

let db: TestDatabase;
let dir: { dir: string; cleanup(): Promise<void> };
let release: LocalRelease;

const CHECK = ['python', 'manage.py', 'migrate', '--check'];

function assertSucceeded(run: ReleaseRun): void {
  assert.equal(run.status, 'SUCCEEDED', `${run.error}: ${run.cause}\nafter ${run.states.join(' → ')}`);
}

/** The RunTask.sync parameters each task was started with, by the command it ran. */
function commands(): string[][] {
  return release.ecs.runTaskCalls.map(
    (c) =>
      (c as { Overrides: { ContainerOverrides: { Command: string[] }[] } }).Overrides.ContainerOverrides[0]
        ?.Command ?? [],
  );
}

describe('release state machine, command mode with a pending check', () => {
  before(async () => {
    db = await freshDatabase();
    dir = await migrationsDir(FIXTURE_MIGRATIONS);
    release = await createLocalRelease({
      databaseUrl: db.url,
      migrationsDir: dir.dir,
      migrationCommand: ['python', 'manage.py', 'migrate'],
      pendingCheckCommand: CHECK,
    });
  });

  after(async () => {
    await dir.cleanup();
    await db.drop();
  });

  beforeEach(async () => {
    release.reset();
    await release.clearLock();
  });

  test('pending (the check exited 1): check → snapshot → migration task → deploy, both tasks on the registered revision', async () => {
    release.ecs.pendingChecks = [TASK_SHAPES.exitedNonZero];
    const run = await release.runRelease(releaseInput());

    assertSucceeded(run);
    const path = [
      STATE.registerRevision,
      STATE.runPendingCheck,
      STATE.readPendingCheck,
      STATE.pendingRoute,
      STATE.createSnapshot,
      STATE.runMigrationTask,
      STATE.startDeploy,
    ];
    const watched = new Set<string>([...path, STATE.nothingPending]);
    assert.deepEqual(
      run.states.filter((s) => watched.has(s)),
      path,
    );
    assert.deepEqual(commands(), [CHECK, ['python', 'manage.py', 'migrate']]);
    const [check, migration] = release.ecs.runTaskCalls as { TaskDefinition: string; StartedBy: string }[];
    assert.equal(check?.TaskDefinition, migration?.TaskDefinition);
    assert.notEqual(check?.StartedBy, migration?.StartedBy, 'stopping one never finds the other');
    assert.equal(release.aws.rds.commandCalls(CreateSnapshot).length, 1);
    assert.equal(release.ecs.taskDefinitionArn, migration?.TaskDefinition);
    assert.deepEqual(run.alerts, []);
  });

  test('nothing pending (the check exited 0): no snapshot, no migration task; the image still deploys', async () => {
    release.ecs.pendingChecks = [TASK_SHAPES.succeeded];
    const run = await release.runRelease(releaseInput());

    assertSucceeded(run);
    assert.ok(run.states.includes(STATE.nothingPending));
    assert.ok(!run.states.includes(STATE.createSnapshot));
    assert.ok(!run.states.includes(STATE.runMigrationTask));
    assert.deepEqual(commands(), [CHECK]);
    assert.equal(release.aws.rds.commandCalls(CreateSnapshot).length, 0);
    const updates = release.aws.ecs.commandCalls(UpdateServiceCommand);
    assert.equal(updates.length, 1);
    assert.equal(
      updates[0]?.args[0].input.taskDefinition,
      (release.ecs.runTaskCalls[0] as { TaskDefinition: string }).TaskDefinition,
    );
    assert.equal(release.ecs.image, releaseInput().image);
    assert.deepEqual(run.alerts, []);
  });

  test('a check task that never started fails the release with an alert: no guess, no snapshot, no deploy', async () => {
    release.ecs.pendingChecks = [TASK_SHAPES.pullFailed];
    const before = release.ecs.taskDefinitionArn;
    const run = await release.runRelease(releaseInput());

    assert.equal(run.status, 'FAILED');
    assert.equal(run.error, 'PendingCheckFailedError');
    assert.ok(!run.states.includes(STATE.createSnapshot));
    assert.ok(!run.states.includes(STATE.runMigrationTask));
    assert.deepEqual(commands(), [CHECK]);
    assert.equal(release.aws.ecs.commandCalls(UpdateServiceCommand).length, 0);
    assert.equal(release.ecs.taskDefinitionArn, before);
    assert.equal(run.alerts.length, 1);
    const alert = run.alerts[0];
    assert.match(alert?.subject ?? '', /read pending check/);
    assert.match(alert?.message ?? '', /CannotPullContainerError/);
    assert.match(alert?.message ?? '', /Nothing was snapshotted, migrated or deployed/);
  });

  test('a check that ran past its timeout is stopped and fails the release with an alert', async () => {
    release.ecs.pendingChecks = [TASK_ERRORS.timedOut];
    const run = await release.runRelease(releaseInput());

    assert.equal(run.status, 'FAILED');
    assert.equal(run.error, 'PendingCheckFailedError');
    assert.equal(release.ecs.stoppedTasks.length, 1);
    assert.ok(!run.states.includes(STATE.runMigrationTask));
    assert.equal(run.alerts.length, 1);
    assert.match(run.alerts[0]?.message ?? '', /ran past its timeout of 600 s and was stopped/);
  });
});
