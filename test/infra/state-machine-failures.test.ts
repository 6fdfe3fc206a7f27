/**
 * The release state machine halting at each step, executed from its synthesized definition with every Lambda
 * task wired to the real handler (see test/support/local-release.ts). Each failure must publish exactly one
 * alert naming the step and the error, run nothing after the failed step, and end the execution FAILED with
 * the error's name. The snapshot and rollout deadlines are 1 s here, so the timeouts are real.
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ClientException, RegisterTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { CreateDBSnapshotCommand, SnapshotQuotaExceededFault } from '@aws-sdk/client-rds';
import type pg from 'pg';
import { READABLE_CAUSE } from '../../infra/constructs/readable-cause.ts';
import { STATE } from '../../infra/constructs/release-definition.ts';
import { type Alert, publishAsSns, runLocally } from '../../rehearsal/interpreter.ts';
import { freshDatabase, migrationsDir, type TestDatabase } from '../support/database.ts';
import {
  createLocalRelease,
  FIXTURE_MIGRATIONS,
  type LocalRelease,
  type ReleaseRun,
  releaseInput,
  resetDatabase,
  TARGET,
} from '../support/local-release.ts';

let db: TestDatabase;
let admin: pg.Client;
let dir: { dir: string; cleanup(): Promise<void> };
let release: LocalRelease;

const { release: LABEL, image: IMAGE } = releaseInput();

/** The snapshot this run took, as create returned it. */
function snapshotOf(run: ReleaseRun): string {
  const created = run.calls.find((c) => c.state === STATE.createSnapshot)?.output as { snapshotId: string };
  assert.ok(created?.snapshotId, 'a snapshot was taken');
  return created.snapshotId;
}

/**
 * The run halted at `step` with `error`: one alert that names both (and the snapshot to restore from), nothing
 * after the step but the alert states, and the execution FAILED with the error's name.
 */
function assertHaltedAt(run: ReleaseRun, step: string, error: string, snapshotId = 'none'): void {
  assert.equal(run.status, 'FAILED', `ended after ${run.states.join(' → ')}`);
  assert.equal(run.error, error);
  const last = run.states.lastIndexOf(step);
  assert.ok(last >= 0, `${step} was entered`);
  assert.deepEqual(run.states.slice(last + 1), [
    `Alert: ${step.toLowerCase()}`,
    STATE.unlockFailed,
    STATE.formatAlert,
    STATE.sendAlert,
    STATE.failed,
  ]);
  assert.equal(run.alerts.length, 1, 'exactly one alert');
  const [alert] = run.alerts;
  assert.equal(alert?.topicArn, release.definition.alertTopicArn);
  assert.equal(alert?.subject, `lockstep: release failed at ${step.toLowerCase()}`);
  const message = alert?.message ?? '';
  assert.ok(message.startsWith(`Release ${LABEL} of image ${IMAGE} FAILED at step ${step}.`), message);
  assert.ok(message.includes(`Error: ${error}\n`), message);
  assert.ok(message.includes(`Snapshot to restore from: ${snapshotId}\n`), message);
  assert.ok(message.includes(`Database: ${TARGET.dbIdentifier}\n`), message);
  assert.ok(message.includes(run.executionArn), 'links the execution');
}

/** The service was not moved: no UpdateService, and it still runs the image it ran before. */
function assertServiceUntouched(): void {
  assert.equal(release.aws.ecs.commandCalls(UpdateServiceCommand).length, 0);
  assert.equal(release.ecs.image, TARGET.initialImage);
}

async function appliedFiles(): Promise<string[]> {
  const { rows } = await admin.query(
    'SELECT file_name FROM lockstep.schema_history WHERE success ORDER BY version',
  );
  return rows.map((r: { file_name: string }) => r.file_name);
}

async function tableExists(name: string): Promise<boolean> {
  const { rows } = await admin.query('SELECT to_regclass($1) IS NOT NULL AS exists', [name]);
  return rows[0].exists;
}

describe('release state machine, failing', () => {
  before(async () => {
    db = await freshDatabase();
    admin = await db.connect();
    dir = await migrationsDir(FIXTURE_MIGRATIONS);
    release = await createLocalRelease({
      databaseUrl: db.url,
      migrationsDir: dir.dir,
      env: { SNAPSHOT_TIMEOUT_SECONDS: '1', DEPLOY_TIMEOUT_SECONDS: '1' },
    });
  });

  after(async () => {
    await dir.cleanup();
    await db.drop();
  });

  beforeEach(async () => {
    release.reset();
    await release.clearLock();
    await resetDatabase(admin);
  });

  test('a plan that finds an applied migration changed halts with ChecksumMismatchError before any snapshot', async () => {
    const first = await release.runRelease(releaseInput());
    assert.equal(first.status, 'SUCCEEDED');
    release.reset();
    const file = join(dir.dir, '0001_create_accounts.sql');
    await writeFile(file, 'CREATE TABLE accounts (id bigint PRIMARY KEY, email text);');
    try {
      const run = await release.runRelease(releaseInput({ release: 'v1.4.1' }));

      assert.equal(run.status, 'FAILED');
      assert.equal(run.error, 'ChecksumMismatchError');
      assert.deepEqual(run.states, [
        STATE.preflight,
        STATE.plan,
        'Alert: plan',
        STATE.unlockFailed,
        STATE.formatAlert,
        STATE.sendAlert,
        STATE.failed,
      ]);
      assert.equal(run.alerts.length, 1);
      assert.equal(run.alerts[0]?.subject, 'lockstep: release failed at plan');
      assert.match(run.alerts[0]?.message ?? '', /Error: ChecksumMismatchError\n/);
      assert.match(run.alerts[0]?.message ?? '', /0001_create_accounts\.sql/);
      assert.equal(release.aws.rds.calls().length, 0);
      assert.equal(release.aws.ecs.calls().length, 0);
    } finally {
      await writeFile(file, FIXTURE_MIGRATIONS['0001_create_accounts.sql'] as string);
    }
  });

  test('a plan whose lint finds an error halts with UnsafeMigrationError before any snapshot, the finding in the alert', async () => {
    const first = await release.runRelease(releaseInput());
    assert.equal(first.status, 'SUCCEEDED');
    release.reset();
    const file = join(dir.dir, '0004_drop_email.sql');
    await writeFile(file, 'ALTER TABLE accounts DROP COLUMN email;\n');
    try {
      const run = await release.runRelease(releaseInput({ release: 'v1.4.1' }));

      assert.equal(run.status, 'FAILED');
      assert.equal(run.error, 'UnsafeMigrationError');
      assert.deepEqual(run.states.slice(0, 3), [STATE.preflight, STATE.plan, 'Alert: plan']);
      assert.equal(run.alerts.length, 1);
      assert.equal(run.alerts[0]?.subject, 'lockstep: release failed at plan');
      const message = run.alerts[0]?.message ?? '';
      assert.match(
        message,
        /0004_drop_email\.sql:1:1 error drop-column: ALTER TABLE accounts DROP COLUMN email/,
      );
      assert.match(
        message,
        /safe: stop using the column in this release and drop it after the deploy: a `-- lockstep:after-deploy` file/,
      );
      assert.equal(release.aws.rds.calls().length, 0, 'no snapshot');
      assert.deepEqual(await appliedFiles(), Object.keys(FIXTURE_MIGRATIONS));
      assertServiceUntouched();
    } finally {
      await rm(file);
    }
  });

  test('a snapshot RDS refuses (quota exceeded) halts with SnapshotQuotaExceededError: nothing migrated or deployed', async () => {
    release.aws.rds.on(CreateDBSnapshotCommand).rejects(
      new SnapshotQuotaExceededFault({
        message: 'Cannot create more than 100 manual snapshots',
        $metadata: { httpStatusCode: 400 },
      }),
    );

    const run = await release.runRelease(releaseInput());

    assertHaltedAt(run, STATE.createSnapshot, 'SnapshotQuotaExceededError');
    assert.match(run.alerts[0]?.message ?? '', /No backup was taken/);
    assert.ok(!run.states.includes(STATE.migrate));
    assert.equal(release.aws.ecs.calls().length, 0);
    assert.equal(await tableExists('accounts'), false);
  });

  test('a snapshot that ends "failed" halts with SnapshotFailedError naming it: nothing migrated or deployed', async () => {
    release.rds.statuses = ['failed'];

    const run = await release.runRelease(releaseInput());

    const snapshotId = snapshotOf(run);
    assertHaltedAt(run, STATE.snapshotStatus, 'SnapshotFailedError', snapshotId);
    assert.ok(!run.states.includes(STATE.migrate));
    assert.equal(release.aws.ecs.calls().length, 0);
    assert.equal(await tableExists('accounts'), false);
  });

  test('a snapshot still "creating" past its deadline halts with SnapshotTimeoutError naming it: nothing migrated or deployed', async () => {
    release.rds.statuses = ['creating'];

    const run = await release.runRelease(releaseInput(), { waits: { [STATE.waitSnapshot]: 300 } });

    const snapshotId = snapshotOf(run);
    assertHaltedAt(run, STATE.snapshotStatus, 'SnapshotTimeoutError', snapshotId);
    assert.ok(run.states.filter((s) => s === STATE.snapshotStatus).length >= 2, 'polled until the deadline');
    assert.ok(!run.states.includes(STATE.migrate));
    assert.equal(release.aws.ecs.calls().length, 0);
    assert.equal(await tableExists('accounts'), false);
  });

  test('a migration that fails halts with MigrationFailedError naming the file: earlier ones stay applied, nothing deployed', async () => {
    const broken = join(dir.dir, '0004_broken.sql');
    await writeFile(broken, 'ALTER TABLE accounts ADD COLUMN note text;\nSELECT missing FROM accounts;\n');
    try {
      const run = await release.runRelease(releaseInput());

      const snapshotId = snapshotOf(run);
      assertHaltedAt(run, STATE.migrate, 'MigrationFailedError', snapshotId);
      assert.match(run.alerts[0]?.message ?? '', /0004_broken\.sql:2:8/);
      assert.match(run.alerts[0]?.message ?? '', /Nothing was deployed/);
      assert.match(
        run.alerts[0]?.message ?? '',
        /lockstep rollback --to <the release before this one> --dry-run says whether the image still running works with what was applied; with --restore-database it restores the snapshot of this release/,
      );
      assert.ok(!run.states.includes(STATE.startDeploy));
      assert.equal(release.aws.ecs.commandCalls(RegisterTaskDefinitionCommand).length, 0);
      assertServiceUntouched();
      assert.equal(release.aws.ecs.calls().length, 0);
      assert.deepEqual(await appliedFiles(), Object.keys(FIXTURE_MIGRATIONS));
      const { rows } = await admin.query(
        "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'accounts' AND column_name = 'note'",
      );
      assert.equal(rows[0].n, 0, 'the failed migration was rolled back');
    } finally {
      await rm(broken);
    }
  });

  test('a task definition ECS refuses to register halts with ClientException: migrations applied, service untouched', async () => {
    release.aws.ecs.on(RegisterTaskDefinitionCommand).rejects(
      new ClientException({
        message: 'Container.image repository should not be null or empty.',
        $metadata: { httpStatusCode: 400 },
      }),
    );

    const run = await release.runRelease(releaseInput());

    assertHaltedAt(run, STATE.startDeploy, 'ClientException', snapshotOf(run));
    assert.match(run.alerts[0]?.message ?? '', /the old image keeps running/);
    assertServiceUntouched();
    assert.deepEqual(await appliedFiles(), Object.keys(FIXTURE_MIGRATIONS));
  });

  test('a rollout ECS reports FAILED halts with DeploymentFailedError: no prune, FAILED', async () => {
    release.ecs.rollouts = ['IN_PROGRESS', 'FAILED'];

    const run = await release.runRelease(releaseInput());

    assertHaltedAt(run, STATE.rolloutStatus, 'DeploymentFailedError', snapshotOf(run));
    assert.match(run.alerts[0]?.message ?? '', /circuit breaker/);
    assert.match(
      run.alerts[0]?.message ?? '',
      /lockstep rollback --to <the release before this one> --dry-run says whether the image ECS went back to works/,
    );
    assert.ok(!run.states.includes(STATE.prune));
  });

  test('a rollout still IN_PROGRESS past its deadline halts with RolloutTimeoutError: no prune, FAILED', async () => {
    release.ecs.rollouts = ['IN_PROGRESS'];

    const run = await release.runRelease(releaseInput(), { waits: { [STATE.waitRollout]: 300 } });

    assertHaltedAt(run, STATE.rolloutStatus, 'RolloutTimeoutError', snapshotOf(run));
    assert.ok(run.states.filter((s) => s === STATE.rolloutStatus).length >= 2, 'polled until the deadline');
    assert.ok(!run.states.includes(STATE.prune));
  });

  test('an alert SNS refuses still ends the execution FAILED with the step’s error', async () => {
    release.rds.statuses = ['failed'];

    const run = await release.runRelease(releaseInput(), {
      tasks: {
        [STATE.sendAlert]: () => {
          throw Object.assign(new Error('Topic does not exist'), { name: 'SNS.NotFoundException' });
        },
      },
    });

    assert.equal(run.status, 'FAILED');
    assert.equal(run.error, 'SnapshotFailedError');
    assert.deepEqual(run.states.slice(-5), [
      'Alert: snapshot status',
      STATE.unlockFailed,
      STATE.formatAlert,
      STATE.sendAlert,
      STATE.failed,
    ]);
  });

  /** The failure path from `Alert: migrate` on, alone, started with `error` as the Catch would put it. */
  async function alertFor(error: { Error: string; Cause?: unknown }) {
    const all = release.definition.definition.States;
    const path = [
      'Alert: migrate',
      STATE.unlockFailed,
      ...Object.values(READABLE_CAUSE),
      STATE.formatAlert,
      STATE.sendAlert,
      STATE.failed,
      ...Object.keys(all).filter((name) => /record.* \(failed\)$/i.test(name)),
    ];
    const States = Object.fromEntries(path.map((name) => [name, all[name] as (typeof all)[string]]));
    const local = { ...release.definition, definition: { StartAt: 'Alert: migrate', States } };
    const alerts: Alert[] = [];
    const run = await runLocally(
      local,
      {
        executionId: 'arn:aws:states:eu-west-1:123456789012:execution:m:x',
        release: { release: LABEL, image: IMAGE },
        database: TARGET.dbIdentifier,
        snapshot: { snapshotId: 'lockstep-app-db-1' },
        error,
      },
      {
        invoke: async (_state, kind, params) =>
          kind === 'sns' ? publishAsSns(params, (a) => alerts.push(a)) : {},
      },
    );
    assert.equal(run.status, 'FAILED');
    assert.equal(alerts.length, 1, `${run.error}: ${run.cause}`);
    return { run, message: alerts[0]?.message ?? '' };
  }

  test('an error caught with no Cause (States.Timeout) still sends the alert and ends FAILED with its name', async () => {
    // The interpreter always gives a Cause, so start where the Catch lands, with the error as Step Functions
    // reports a task timeout: no Cause field.
    const { run, message } = await alertFor({ Error: 'States.Timeout' });

    assert.equal(run.error, 'States.Timeout');
    assert.match(message, /Error: States\.Timeout\nCause: \(Step Functions gave no cause\)/);
    assert.match(message, /Snapshot to restore from: lockstep-app-db-1/);
  });

  test('a Lambda error’s Cause reaches the alert and the execution as its message, with its newlines, not as JSON', async () => {
    const failure = new Error(
      '0002_b.sql failed at line 3:\n  ALTER TABLE accounts ADD COLUMN x int NOT NULL\n"quoted"',
    );
    failure.name = 'MigrationFailedError';
    const document = JSON.stringify({
      errorType: failure.name,
      errorMessage: failure.message,
      trace: (failure.stack ?? '').split('\n'),
    });

    const { run, message } = await alertFor({ Error: 'MigrationFailedError', Cause: document });

    assert.ok(message.includes(`Error: MigrationFailedError\nCause: ${failure.message}\n`), message);
    // (The Input line repeats the execution's input, which here is the caught error itself.)
    assert.doesNotMatch(message.slice(0, message.indexOf('\nInput: ')), /errorType|"trace"|\n\s+at /);
    assert.equal(run.error, 'MigrationFailedError');
    assert.equal(run.cause, failure.message);
  });

  test('a Cause that only looks like a Lambda error document is left as it is, never parsed', async () => {
    const cut = JSON.stringify({ errorType: 'X', errorMessage: 'y', trace: ['X: y', '    at z'] }).slice(
      0,
      -8,
    );
    const causes = [
      'rejected by arn:aws:iam::1:user/a at 2026-11-22T10:15:00Z: {"errorType":"x","errorMessage":"y","trace":["z"]}',
      cut,
      '{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out after 60.00 seconds"}',
      '{"taskArn":"arn:aws:ecs:eu-west-1:1:task/c/abc","stopCode":"EssentialContainerExited"}',
    ];
    for (const cause of causes) {
      const { run, message } = await alertFor({ Error: 'SomeError', Cause: cause });
      assert.ok(message.includes(`Cause: ${cause}\n`), message);
      assert.equal(run.cause, cause);
    }
  });

  test('a migrate failure alert says what stays applied, for transactional and no-transaction files alike', async () => {
    await writeFile(join(dir.dir, '0004_broken.sql'), 'SELECT * FROM no_such_table;');
    try {
      const run = await release.runRelease(releaseInput());
      const message = run.alerts[0]?.message ?? '';
      assert.match(message, /Migrations completed before the failure stay applied/);
      assert.match(message, /no-transaction file, the statements before the failing one stay applied/);
      assert.doesNotMatch(message, /the failed one was rolled back\./);
    } finally {
      await rm(join(dir.dir, '0004_broken.sql'));
    }
  });
});
