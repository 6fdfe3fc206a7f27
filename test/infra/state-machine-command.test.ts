/**
 * Command mode (MigrationsSource.command), executed from its synthesized definition (the example stack with
 * `-c migrationCommand=…`): the migration task's `ecs:runTask.sync` plays recorded task shapes
 * (rehearsal/stand-ins/ecs-task-shapes.ts) through `ecs.migrationTasks`; every Lambda task is the real handler.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { RUN_TASK_RETRY } from '../../functions/shared/errors.ts';
import { STATE } from '../../infra/constructs/release-definition.ts';
import { TASK_ERRORS, TASK_SHAPES } from '../../rehearsal/stand-ins/ecs-task-shapes.ts';
import { freshDatabase, migrationsDir, type TestDatabase } from '../support/database.ts';
import {
  createLocalRelease,
  FIXTURE_MIGRATIONS,
  type LocalRelease,
  type ReleaseRun,
  releaseInput,
  TARGET,
} from '../support/local-release.ts';

let db: TestDatabase;
let dir: { dir: string; cleanup(): Promise<void> };
let release: LocalRelease;

const { image: IMAGE } = releaseInput();

function assertSucceeded(run: ReleaseRun): void {
  assert.equal(run.status, 'SUCCEEDED', `${run.error}: ${run.cause}\nafter ${run.states.join(' → ')}`);
}

/** The revision `Register revision` returned. */
function registered(run: ReleaseRun): string {
  const call = run.calls.find((c) => c.state === STATE.registerRevision);
  const arn = (call?.output as { taskDefinitionArn?: string } | undefined)?.taskDefinitionArn;
  assert.ok(arn, 'Register revision returned a revision');
  return arn;
}

describe('release state machine, command mode', () => {
  before(async () => {
    db = await freshDatabase();
    dir = await migrationsDir(FIXTURE_MIGRATIONS);
    release = await createLocalRelease({
      databaseUrl: db.url,
      migrationsDir: dir.dir,
      migrationCommand: ['python', 'manage.py', 'migrate'],
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

  test('success: register → snapshot → the task runs the command on that revision → the service gets the same revision', async () => {
    const run = await release.runRelease(releaseInput());

    assertSucceeded(run);
    const revision = registered(run);
    assert.deepEqual(
      run.states.filter((s) =>
        [
          STATE.preflight,
          STATE.registerRevision,
          STATE.createSnapshot,
          STATE.runMigrationTask,
          STATE.checkMigrationTask,
          STATE.startDeploy,
          STATE.released,
        ].includes(s as never),
      ),
      [
        STATE.preflight,
        STATE.registerRevision,
        STATE.createSnapshot,
        STATE.runMigrationTask,
        STATE.checkMigrationTask,
        STATE.startDeploy,
        STATE.released,
      ],
    );
    assert.equal(release.ecs.runTaskCalls.length, 1);
    const call = release.ecs.runTaskCalls[0] as {
      TaskDefinition: string;
      Overrides: { ContainerOverrides: { Name: string; Command: string[] }[] };
    };
    assert.equal(call.TaskDefinition, revision);
    assert.deepEqual(call.Overrides.ContainerOverrides[0]?.Command, ['python', 'manage.py', 'migrate']);
    const updates = release.aws.ecs.commandCalls(UpdateServiceCommand);
    assert.equal(updates.length, 1);
    assert.equal(updates[0]?.args[0].input.taskDefinition, revision);
    assert.equal(release.ecs.taskDefinitionArn, revision);
    assert.equal(release.ecs.image, IMAGE);
    assert.deepEqual(run.alerts, []);
  });

  test('a non-zero exit alerts with the code and the image, and deploys nothing', async () => {
    release.ecs.migrationTasks = [TASK_SHAPES.exitedNonZero];
    const before = release.ecs.taskDefinitionArn;
    const run = await release.runRelease(releaseInput());

    assert.equal(run.status, 'FAILED');
    assert.equal(run.error, 'MigrationCommandFailedError');
    assert.ok(!run.states.includes(STATE.startDeploy));
    assert.equal(release.aws.ecs.commandCalls(UpdateServiceCommand).length, 0);
    assert.equal(release.ecs.taskDefinitionArn, before);
    assert.equal(run.alerts.length, 1);
    const message = run.alerts[0]?.message ?? '';
    assert.match(message, /exited with code 1/);
    // No stream was written: the alert says the output could not be read, and still names the failure.
    assert.match(message, /Its output could not be read \(ResourceNotFoundException/);
    assert.match(
      message,
      /ran \(or was to run\) in image [^ ]+app:v1\.4\.0, task definition [^ ]+:task-definition\//,
    );
  });

  test('the alert carries the last lines of the failed command’s output, from its awslogs stream', async () => {
    release.ecs.migrationTasks = [TASK_SHAPES.exitedNonZero];
    // The first task this run starts (the stand-in numbers them), logging with the prefix of the container's name.
    release.logs.write(TARGET.logGroup, `${TARGET.container}/${TARGET.container}/${'1'.padStart(32, '0')}`, [
      'Applying shop.0042_add_email...',
      'django.db.utils.ProgrammingError: column "email" does not exist',
    ]);
    const run = await release.runRelease(releaseInput());

    assert.equal(run.error, 'MigrationCommandFailedError');
    assert.equal(run.alerts.length, 1);
    const message = run.alerts[0]?.message ?? '';
    assert.match(message, /Last 2 lines of its output \(CloudWatch Logs \/ecs\/app, stream app\/app\/0+1\)/);
    // The Cause is Lambda's error JSON (the local interpreter drops its backslashes): quotes may come escaped.
    assert.match(message, /\| django\.db\.utils\.ProgrammingError: column \\?"email\\?" does not exist/);
  });

  test('a task that never started alerts, naming why, and deploys nothing', async () => {
    release.ecs.migrationTasks = [TASK_SHAPES.pullFailed];
    const run = await release.runRelease(releaseInput());

    assert.equal(run.status, 'FAILED');
    assert.equal(run.error, 'MigrationTaskNotStartedError');
    assert.equal(release.aws.ecs.commandCalls(UpdateServiceCommand).length, 0);
    assert.equal(run.alerts.length, 1);
    assert.match(run.alerts[0]?.message ?? '', /CannotPullContainerError/);
  });

  test('RunTask failures (capacity) are retried by the state, then fail as MigrationTaskNotPlacedError with an alert', async () => {
    release.ecs.migrationTasks = [TASK_ERRORS.notPlaced];
    const run = await release.runRelease(releaseInput());

    assert.equal(run.status, 'FAILED');
    assert.equal(run.error, 'MigrationTaskNotPlacedError');
    // The first attempt and every retry RUN_TASK_RETRY allows, each a RunTask.
    assert.equal(release.ecs.runTaskCalls.length, RUN_TASK_RETRY.maxAttempts + 1);
    const retries = run.events.filter(
      (e) => e.type === 'StateRetried' && e.state?.name === STATE.runMigrationTask,
    );
    assert.equal(retries.length, RUN_TASK_RETRY.maxAttempts);
    assert.equal(release.aws.ecs.commandCalls(UpdateServiceCommand).length, 0);
    assert.equal(run.alerts.length, 1);
    assert.match(run.alerts[0]?.message ?? '', /ECS did not start the migration task: RESOURCE:MEMORY/);
  });

  test('capacity that comes back within the retries: the task runs and the release succeeds', async () => {
    release.ecs.migrationTasks = [TASK_ERRORS.notPlaced, TASK_ERRORS.notPlaced, TASK_SHAPES.succeeded];
    const run = await release.runRelease(releaseInput());

    assertSucceeded(run);
    assert.equal(release.ecs.runTaskCalls.length, 3);
    assert.deepEqual(run.alerts, []);
  });

  test('a timeout stops the task and alerts; nothing is deployed', async () => {
    release.ecs.migrationTasks = [TASK_ERRORS.timedOut];
    const run = await release.runRelease(releaseInput());

    assert.equal(run.status, 'FAILED');
    assert.equal(run.error, 'MigrationTaskTimeoutError');
    assert.equal(release.ecs.stoppedTasks.length, 1);
    assert.equal(release.aws.ecs.commandCalls(UpdateServiceCommand).length, 0);
    assert.equal(run.alerts.length, 1);
    assert.match(run.alerts[0]?.message ?? '', /was stopped \(StopTask\)/);
  });
});
