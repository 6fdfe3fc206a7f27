/**
 * The release state machine, in Amazon States Language (JSONPath only: the local interpreter used in tests and
 * in `npm start` runs no JSONata). State names are part of the contract: alerts, the CLI's progress lines and
 * the tests use them.
 *
 *   Preflight → Plan → Route ─┬─ dry run ──────────────────────────────────────────────→ Dry run complete
 *                             ├─ nothing pending ──────────────────────────────┐
 *                             ├─ no snapshot wanted ─────────────┐             │
 *                             └─ Create snapshot → Wait ⇄ status ┴→ Migrate ⟲ ─┴→ Start deploy → Wait ⇄ status
 *                                                                                 → Prune snapshots → Released
 *   Any failure → Alert: <step> → Send alert → Release failed (the execution ends FAILED).
 */
import { Aws, Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';

export interface ReleaseDefinitionProps {
  readonly preflight: lambda.IFunction;
  readonly snapshot: lambda.IFunction;
  readonly migrate: lambda.IFunction;
  readonly deploy: lambda.IFunction;
  readonly alertTopic: sns.ITopic;
  readonly snapshots: boolean;
  readonly snapshotPollInterval: Duration;
  readonly deployPollInterval: Duration;
  readonly notifyOnSuccess: boolean;
  /** The migrate function's own timeout; its tasks wait a little longer. */
  readonly migrateTimeout: Duration;
  /** The other functions' timeout. */
  readonly functionTimeout: Duration;
}

/** Names of the states a release passes through, in order. */
export const STATE = {
  preflight: 'Preflight',
  plan: 'Plan',
  route: 'Route',
  dryRun: 'Dry run complete',
  createSnapshot: 'Create snapshot',
  waitSnapshot: 'Wait for snapshot',
  snapshotStatus: 'Snapshot status',
  snapshotReady: 'Snapshot available?',
  migrate: 'Migrate',
  migrated: 'Migrations done?',
  startDeploy: 'Start deploy',
  waitRollout: 'Wait for rollout',
  rolloutStatus: 'Rollout status',
  rolledOut: 'Rollout complete?',
  prune: 'Prune snapshots',
  pruneAlert: 'Alert: prune snapshots',
  sendPruneAlert: 'Send prune alert',
  notify: 'Notify success',
  released: 'Released',
  sendAlert: 'Send alert',
  failed: 'Release failed',
} as const;

/** AWS's own transient Lambda errors: always retried. */
const LAMBDA_TRANSIENT = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.ClientExecutionTimeoutException',
];
/** The AWS SDK's throttling errors, as the functions rethrow them unchanged. */
const THROTTLED = ['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded'];

const executionLink = (arnPath: string) =>
  `States.Format('https://{}.console.aws.amazon.com/states/home?region={}#/v2/executions/details/{}', '${Aws.REGION}', '${Aws.REGION}', ${arnPath})`;

export function buildReleaseDefinition(scope: Construct, props: ReleaseDefinitionProps): sfn.IChainable {
  /** A task waits a little longer than its function may run: a hung invocation ends as States.Timeout. */
  const timeouts: Record<string, Duration> = {
    [STATE.plan]: props.migrateTimeout.plus(Duration.seconds(30)),
    [STATE.migrate]: props.migrateTimeout.plus(Duration.seconds(30)),
  };
  const releaseArgs = { 'executionId.$': '$.executionId', 'release.$': '$.release' };

  const invoke = (
    name: string,
    fn: lambda.IFunction,
    payload: Record<string, unknown>,
    resultPath: string,
    resultSelector?: Record<string, unknown>,
  ) => {
    const task = new tasks.LambdaInvoke(scope, name, {
      stateName: name,
      lambdaFunction: fn,
      payload: sfn.TaskInput.fromObject(payload),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      // "$" is the default; the local interpreter mishandles it written out.
      ...(resultPath === '$' ? {} : { resultPath }),
      ...(resultSelector ? { resultSelector } : {}),
      taskTimeout: sfn.Timeout.duration(timeouts[name] ?? props.functionTimeout.plus(Duration.seconds(30))),
    });
    task.addRetry({
      errors: LAMBDA_TRANSIENT,
      interval: Duration.seconds(2),
      maxAttempts: 6,
      backoffRate: 2,
    });
    return task;
  };

  // ---- the failure path: build an alert naming the step, publish it, end FAILED
  const failed = new sfn.Fail(scope, STATE.failed, {
    stateName: STATE.failed,
    errorPath: '$.error.Error',
    causePath: '$.error.Cause',
  });
  const sendAlert = new tasks.SnsPublish(scope, STATE.sendAlert, {
    stateName: STATE.sendAlert,
    topic: props.alertTopic,
    subject: sfn.JsonPath.stringAt('$.alert.subject'),
    message: sfn.TaskInput.fromJsonPathAt('$.alert.message'),
    resultPath: sfn.JsonPath.DISCARD,
  });
  sendAlert.addRetry({
    errors: ['States.TaskFailed'],
    interval: Duration.seconds(2),
    maxAttempts: 3,
    backoffRate: 2,
  });
  // An alert that cannot be sent must not hide the failure: the execution still ends FAILED (and the alarm fires).
  sendAlert.addCatch(failed, { resultPath: '$.alertError' });
  sendAlert.next(failed);

  /** What a failure at `step` means for the database, told in the alert. */
  const consequence: Record<string, string> = {
    [STATE.plan]: 'Nothing was changed.',
    [STATE.createSnapshot]: 'No backup was taken, so nothing was migrated or deployed.',
    [STATE.snapshotStatus]: 'The backup did not complete, so nothing was migrated or deployed.',
    [STATE.migrate]: `Migrations completed before the failure stay applied; the failed one was rolled back. Nothing was deployed.${
      props.snapshots ? ' Restore from the snapshot only if the applied ones must go.' : ''
    }`,
    [STATE.startDeploy]: 'The migrations are applied; the old image keeps running.',
    [STATE.rolloutStatus]: 'The migrations are applied; ECS rolled back or the rollout stalled.',
  };
  const alertAfterPreflight = (step: string) =>
    new sfn.Pass(scope, `Alert: ${step.toLowerCase()}`, {
      stateName: `Alert: ${step.toLowerCase()}`,
      parameters: {
        subject: `lockstep: release failed at ${step.toLowerCase()}`,
        'message.$': `States.Format('Release {} of image {} FAILED at step ${step}.\n\nError: {}\nCause: {}\n\n${consequence[step]}\nDatabase: {}\nSnapshot to restore from: {}\nExecution: {}', $.release.release, $.release.image, $.error.Error, $.error.Cause, $.database, $.snapshot.snapshotId, ${executionLink('$$.Execution.Id')})`,
      },
      resultPath: '$.alert',
    }).next(sendAlert);

  // ---- preflight: validates the raw input; its own alert cannot rely on a normalized release
  const preflight = invoke(
    STATE.preflight,
    props.preflight,
    {
      'input.$': '$',
      execution: {
        'id.$': '$$.Execution.Id',
        'startTime.$': '$$.Execution.StartTime',
        'stateMachineArn.$': '$$.StateMachine.Id',
      },
    },
    '$',
    // Later alerts read $.snapshot.snapshotId: it starts as "none" so a path that took no snapshot can say so.
    { ...releaseArgs, 'database.$': '$.database', snapshot: { snapshotId: 'none' } },
  );
  preflight.addRetry({ errors: THROTTLED, interval: Duration.seconds(5), maxAttempts: 5, backoffRate: 2 });
  preflight.addCatch(
    new sfn.Pass(scope, 'Alert: preflight', {
      stateName: 'Alert: preflight',
      parameters: {
        subject: 'lockstep: release failed at preflight',
        'message.$': `States.Format('A release FAILED at step Preflight, before anything was changed.\n\nError: {}\nCause: {}\nInput: {}\nExecution: {}', $.error.Error, $.error.Cause, States.JsonToString($$.Execution.Input), ${executionLink('$$.Execution.Id')})`,
      },
      resultPath: '$.alert',
    }).next(sendAlert),
    { resultPath: '$.error' },
  );

  const plan = invoke(STATE.plan, props.migrate, { mode: 'plan', ...releaseArgs }, '$.plan');
  plan.addRetry({
    errors: ['LockTimeoutError', 'LockNotAvailableError'],
    interval: Duration.seconds(30),
    maxAttempts: 5,
    backoffRate: 2,
  });
  plan.addRetry({
    errors: ['DatabaseUnavailableError'],
    interval: Duration.seconds(10),
    maxAttempts: 3,
    backoffRate: 2,
  });
  plan.addCatch(alertAfterPreflight(STATE.plan), { resultPath: '$.error' });

  // ---- migrate, looping while the function ran out of time
  const migrate = invoke(STATE.migrate, props.migrate, { mode: 'apply', ...releaseArgs }, '$.migrate');
  migrate.addRetry({
    errors: ['LockTimeoutError', 'LockNotAvailableError'],
    interval: Duration.seconds(30),
    maxAttempts: 5,
    backoffRate: 2,
  });
  migrate.addRetry({
    errors: ['DatabaseUnavailableError'],
    interval: Duration.seconds(10),
    maxAttempts: 3,
    backoffRate: 2,
  });
  migrate.addCatch(alertAfterPreflight(STATE.migrate), { resultPath: '$.error' });

  // ---- deploy and wait for the rollout
  const startDeploy = invoke(
    STATE.startDeploy,
    props.deploy,
    { action: 'start', ...releaseArgs },
    '$.deploy',
  );
  startDeploy.addRetry({ errors: THROTTLED, interval: Duration.seconds(5), maxAttempts: 5, backoffRate: 2 });
  startDeploy.addCatch(alertAfterPreflight(STATE.startDeploy), { resultPath: '$.error' });
  const waitRollout = new sfn.Wait(scope, STATE.waitRollout, {
    stateName: STATE.waitRollout,
    time: sfn.WaitTime.duration(props.deployPollInterval),
  });
  const rolloutStatus = invoke(
    STATE.rolloutStatus,
    props.deploy,
    {
      action: 'status',
      ...releaseArgs,
      deployment: {
        'taskDefinitionArn.$': '$.deploy.taskDefinitionArn',
        'deploymentId.$': '$.deploy.deploymentId',
        'waitUntil.$': '$.deploy.waitUntil',
      },
    },
    '$.rollout',
  );
  rolloutStatus.addRetry({
    errors: THROTTLED,
    interval: Duration.seconds(5),
    maxAttempts: 5,
    backoffRate: 2,
  });
  rolloutStatus.addCatch(alertAfterPreflight(STATE.rolloutStatus), { resultPath: '$.error' });

  // ---- success: prune old snapshots (a failure there alerts but does not fail the release), notify, done
  const released = new sfn.Succeed(scope, STATE.released, { stateName: STATE.released });
  const finish: sfn.IChainable = props.notifyOnSuccess
    ? new tasks.SnsPublish(scope, STATE.notify, {
        stateName: STATE.notify,
        topic: props.alertTopic,
        subject: 'lockstep: release succeeded',
        message: sfn.TaskInput.fromJsonPathAt(
          `States.Format('Release {} of image {} is live. Migrations applied: {}. Snapshot: {}. Execution: {}', $.release.release, $.release.image, $.plan.pendingCount, $.snapshot.snapshotId, ${executionLink('$$.Execution.Id')})`,
        ),
        resultPath: sfn.JsonPath.DISCARD,
      }).next(released)
    : released;

  let afterRollout: sfn.IChainable = finish;
  if (props.snapshots) {
    const prune = invoke(
      STATE.prune,
      props.snapshot,
      { action: 'prune', ...releaseArgs, 'snapshotId.$': '$.snapshot.snapshotId' },
      '$.prune',
    );
    prune.addRetry({ errors: THROTTLED, interval: Duration.seconds(5), maxAttempts: 5, backoffRate: 2 });
    const pruneAlert = new sfn.Pass(scope, STATE.pruneAlert, {
      stateName: STATE.pruneAlert,
      parameters: {
        subject: 'lockstep: pruning old snapshots failed',
        'message.$': `States.Format('Release {} succeeded, but deleting old lockstep snapshots failed: {}: {}. Delete them by hand before the manual-snapshot quota is reached. Execution: {}', $.release.release, $.pruneError.Error, $.pruneError.Cause, ${executionLink('$$.Execution.Id')})`,
      },
      resultPath: '$.alert',
    });
    const sendPruneAlert = new tasks.SnsPublish(scope, STATE.sendPruneAlert, {
      stateName: STATE.sendPruneAlert,
      topic: props.alertTopic,
      subject: sfn.JsonPath.stringAt('$.alert.subject'),
      message: sfn.TaskInput.fromJsonPathAt('$.alert.message'),
      resultPath: sfn.JsonPath.DISCARD,
    });
    sendPruneAlert.addRetry({
      errors: ['States.TaskFailed'],
      interval: Duration.seconds(2),
      maxAttempts: 3,
      backoffRate: 2,
    });
    sendPruneAlert.addCatch(finish, { resultPath: '$.alertError' });
    prune.addCatch(pruneAlert.next(sendPruneAlert.next(finish)), { resultPath: '$.pruneError' });
    afterRollout = prune.next(finish);
  }
  const deploy = startDeploy
    .next(waitRollout)
    .next(rolloutStatus)
    .next(
      new sfn.Choice(scope, STATE.rolledOut, { stateName: STATE.rolledOut })
        .when(sfn.Condition.booleanEquals('$.rollout.done', true), afterRollout)
        .otherwise(waitRollout),
    );

  migrate.next(
    new sfn.Choice(scope, STATE.migrated, { stateName: STATE.migrated })
      .when(sfn.Condition.booleanEquals('$.migrate.incomplete', true), migrate)
      .otherwise(deploy),
  );

  // ---- route after the plan
  const route = new sfn.Choice(scope, STATE.route, { stateName: STATE.route })
    .when(
      sfn.Condition.booleanEquals('$.release.options.dryRun', true),
      new sfn.Succeed(scope, STATE.dryRun, {
        stateName: STATE.dryRun,
        comment: 'Planned only: nothing changed, nothing deployed.',
      }),
    )
    .when(sfn.Condition.numberEquals('$.plan.pendingCount', 0), deploy);

  if (props.snapshots) {
    const createSnapshot = invoke(
      STATE.createSnapshot,
      props.snapshot,
      { action: 'create', ...releaseArgs },
      '$.snapshot',
    );
    createSnapshot.addRetry({
      errors: ['DatabaseNotReadyError'],
      interval: Duration.seconds(60),
      maxAttempts: 10,
      backoffRate: 1.5,
    });
    createSnapshot.addRetry({
      errors: THROTTLED,
      interval: Duration.seconds(5),
      maxAttempts: 5,
      backoffRate: 2,
    });
    createSnapshot.addCatch(alertAfterPreflight(STATE.createSnapshot), { resultPath: '$.error' });
    const waitSnapshot = new sfn.Wait(scope, STATE.waitSnapshot, {
      stateName: STATE.waitSnapshot,
      time: sfn.WaitTime.duration(props.snapshotPollInterval),
    });
    const snapshotStatus = invoke(
      STATE.snapshotStatus,
      props.snapshot,
      {
        action: 'status',
        ...releaseArgs,
        'snapshotId.$': '$.snapshot.snapshotId',
        'waitUntil.$': '$.snapshot.waitUntil',
      },
      '$.snapshotStatus',
    );
    snapshotStatus.addRetry({
      errors: THROTTLED,
      interval: Duration.seconds(5),
      maxAttempts: 5,
      backoffRate: 2,
    });
    snapshotStatus.addCatch(alertAfterPreflight(STATE.snapshotStatus), { resultPath: '$.error' });
    route.when(sfn.Condition.booleanEquals('$.plan.needsSnapshot', false), migrate).otherwise(
      createSnapshot
        .next(waitSnapshot)
        .next(snapshotStatus)
        .next(
          new sfn.Choice(scope, STATE.snapshotReady, { stateName: STATE.snapshotReady })
            .when(sfn.Condition.booleanEquals('$.snapshotStatus.available', true), migrate)
            .otherwise(waitSnapshot),
        ),
    );
  } else {
    route.otherwise(migrate);
  }

  return preflight.next(plan).next(route);
}
