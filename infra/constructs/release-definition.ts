/**
 * The release state machine, in Amazon States Language (JSONPath only: the local interpreter used in tests and
 * in `npm start` runs no JSONata). State names are part of the contract: alerts, the CLI's progress lines and
 * the tests use them.
 *
 *   Preflight → Plan → Route ─┬─ dry run ──────────────────────────────────────────────→ Dry run complete
 *                             ├─ nothing pending ──────────────────────────────┐
 *                             ├─ no snapshot wanted ─────────────┐             │
 *                             └─ Create snapshot → Wait ⇄ status ┴→ Migrate ⟲ ─┴→ Start deploy → Wait ⇄ status
 *        → After-deploy migrations? ─┬─ some (-- lockstep:after-deploy) → Migrate after deploy ⟲ ─┐
 *                                    └─ none ─────────────────────────────────────────────────────┴→ Prune snapshots
 *                                                                                                    → Released
 *   (Migrate applies the before-deploy migrations only; the after-deploy ones wait for the rollout to complete.)
 *   Any failure → Alert: <step> → Format alert → Send alert → Release failed (the execution ends FAILED).
 *
 * Command mode (`migrationTask` set; no Plan, no Migrate):
 *   Preflight → Route ─┬─ dry run → Dry run complete
 *                      └─ Register revision ─┬─ (no pending check) ─────────────────────────────────────┐
 *                                            └─ Run pending check → Read pending check → Migrations pending?
 *                                                 ├─ exit 0: Nothing pending ──────────────────────────┐ │
 *                                                 └─ other exit: ─────────────────────────────────────┐│ │
 *     ┌───────────────────────────────────────────────────────────────────────────────────────────────┘│ │
 *     └→ [Create snapshot → Wait ⇄ status] → Run migration task → Check migration task                 │ │
 *        → Start deploy (the revision registered) → … as above ←────────────────────────────────────────┘ │
 *   (no pending check: Register revision → [snapshot] → Run migration task, as the arrow on the right)
 *
 * With the approval gate (`approval`; ./approval-gate.ts), every way into Migrate (command mode: into Run migration
 * task) passes through it, after the snapshot when one is taken; nothing pending and dry runs do not:
 *   … → Await approval ─┬─ approved (SendTaskSuccess) → Clear approval token → Migrate | Run migration task
 *       (.waitForTaskToken: the token on the lock item, the notification sent)
 *                       ├─ States.Timeout → Approval timed out → Alert: await approval → the failure path
 *                       └─ rejected (ReleaseRejectedError), or the request failed → Alert: await approval → …
 *
 * Every Lambda step is one entry of a list ({@link StepSpec}): its state, function, payload and what a failure
 * there means. Its Retry comes from the error contract (ERROR_POLICY and AWS_RETRIES in
 * functions/shared/errors.ts), its Catch leads to the one failure path. A new step is a new entry.
 */
import { Aws, Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { AWS_RETRIES, ERROR_POLICY, type RetryRule } from '../../functions/shared/errors.ts';
import { buildApprovalGate } from './approval-gate.ts';
import { consoleHost } from './console-host.ts';
import {
  buildMigrationTaskStates,
  buildPendingCheckStates,
  type MigrationTaskSpec,
  type PendingCheckSpec,
  type ServiceLaunch,
} from './migration-task-steps.ts';
import { readableCause } from './readable-cause.ts';
import {
  DYNAMODB_RETRY,
  FAILED_SOURCE,
  RELEASED_SOURCE,
  type RecordSource,
  recordFailureAlert,
  recordRelease,
} from './release-records.ts';

export interface ReleaseDefinitionProps {
  readonly preflight: lambda.IFunction;
  readonly snapshot: lambda.IFunction;
  /** The SQL flow's plan and migrate steps; command mode has none (required without `migrationTask`). */
  readonly migrate?: lambda.IFunction;
  readonly deploy: lambda.IFunction;
  readonly alertTopic: sns.ITopic;
  /** The release lock preflight takes; every end after preflight gives it back. */
  readonly lockTable: dynamodb.ITable;
  /** Where each release's record goes (./release-records.ts), and the database it is filed under. */
  readonly records: { readonly table: dynamodb.ITable; readonly database: string };
  readonly snapshots: boolean;
  readonly snapshotPollInterval: Duration;
  readonly deployPollInterval: Duration;
  readonly notifyOnSuccess: boolean;
  /** The migrate function's own timeout; its tasks wait a little longer. */
  readonly migrateTimeout: Duration;
  /** The other functions' timeout. */
  readonly functionTimeout: Duration;
  /**
   * Command mode (issue 13): the migration runs as a one-off ECS task from the revision `register` made, judged by
   * the migration-task function; no plan, no migrate step. Undefined: the SQL engine's flow.
   */
  readonly migrationTask?: {
    readonly spec: MigrationTaskSpec;
    readonly launch: ServiceLaunch;
    readonly check: lambda.IFunction;
  };
  /**
   * The approval gate (./approval-gate.ts): after plan, lint and snapshot, right before the migration, the release
   * waits up to `timeout` for `lockstep approve` or `lockstep reject`. Undefined: no gate.
   */
  readonly approval?: { readonly fn: lambda.IFunction; readonly timeout: Duration };
}

import { STATE } from './state-names.ts';

export { STATE };

/**
 * What a failure alert tells you to run when migrations may have been applied and a snapshot was taken (README,
 * "Rolling back"). Inside a States.Format literal too: no quote, brace or backslash.
 */
const ROLLBACK_HINT =
  'lockstep rollback --to <the release before this one> --dry-run says whether the image still running works with what was applied; with --restore-database it restores the snapshot of this release if that must go.';
/**
 * Every Retry a Lambda task gets, from the error contract: AWS's transient errors, then each retried lockstep
 * error, names with the same rule sharing one retrier. A name the table calls `final` has none: it is caught.
 */
export function taskRetries(): sfn.RetryProps[] {
  const byRule = new Map<string, { rule: RetryRule; errors: string[] }>();
  for (const [name, rule] of Object.entries(ERROR_POLICY) as [string, RetryRule | 'final'][]) {
    if (rule === 'final') continue;
    const key = JSON.stringify(rule);
    const entry = byRule.get(key) ?? { rule, errors: [] };
    entry.errors.push(name);
    byRule.set(key, entry);
  }
  return [
    ...AWS_RETRIES.map(({ errors, ...rule }) => ({ rule, errors: [...errors] })),
    ...byRule.values(),
  ].map(({ rule, errors }) => ({
    errors,
    interval: Duration.seconds(rule.intervalSeconds),
    maxAttempts: rule.maxAttempts,
    backoffRate: rule.backoffRate,
  }));
}

/**
 * A caught error with its Cause filled in: Step Functions' own errors (States.Timeout, States.TaskFailed) may come
 * without one, and a States.Format over a missing field fails the state, so the alert would never go out.
 * States.JsonMerge's second object wins on a shared key (Amazon States Language, "Intrinsic functions":
 * "States.JsonMerge … merge two JSON objects into a single object"; a shallow merge keeps the second's value).
 */
export const CAUGHT_ERROR = `States.JsonMerge(States.StringToJson('{"Error":"unknown","Cause":"(Step Functions gave no cause)"}'), $.error, false)`;

/** The execution's page in the console of the stack's partition (./console-host.ts), as a States.Format expression. */
export const executionLink = (scope: Construct, arnPath: string) =>
  `States.Format('https://{}/states/home?region={}#/v2/executions/details/{}', '${consoleHost(scope)}', '${Aws.REGION}', ${arnPath})`;

/** One Lambda step of the release. */
interface StepSpec {
  readonly state: string;
  readonly fn: lambda.IFunction;
  readonly payload: Record<string, unknown>;
  /** Where the result goes in the state. */
  readonly resultPath: string;
  readonly resultSelector?: Record<string, unknown>;
  /** How long the task waits for the function. */
  readonly timeout: Duration;
  /** What a failure here means for the database and the service, told in the alert. */
  readonly consequence: string;
}

/** A consequence built at run time from the state (a `States.Format` expression) rather than a fixed sentence. */
interface DynamicConsequence {
  readonly format: string;
}

export function buildReleaseDefinition(scope: Construct, props: ReleaseDefinitionProps): sfn.IChainable {
  /** A task waits a little longer than its function may run: a hung invocation ends as States.Timeout. */
  const migrateTimeout = props.migrateTimeout.plus(Duration.seconds(30));
  const functionTimeout = props.functionTimeout.plus(Duration.seconds(30));
  const releaseArgs = { 'executionId.$': '$.executionId', 'release.$': '$.release' };

  /** Writes the release record, then `next`; a failed write goes on to `next` too, alerting first at a release's end. */
  const recorded = (label: string, source: RecordSource, next: sfn.IChainable): sfn.IChainable => {
    const { table, database } = props.records;
    const onError =
      source.outcome === 'DRY_RUN' || source.outcome === 'RUNNING'
        ? next
        : recordFailureAlert(scope, label, table, database, source).next(
            publishAlert(scope, `Send record alert (${label})`, props.alertTopic)
              .addCatch(next, { resultPath: '$.alertError' })
              .next(next),
          );
    return recordRelease(
      scope,
      label,
      { table, database, source, onError, approval: props.approval !== undefined },
      next,
    );
  };

  // ---- the failure path: describe the failure, build the alert, publish it, record it, end FAILED
  const failed = new sfn.Fail(scope, STATE.failed, {
    stateName: STATE.failed,
    errorPath: '$.failure.error.Error',
    causePath: '$.failure.error.Cause',
  });
  const sendAlert = publishAlert(scope, STATE.sendAlert, props.alertTopic);
  // The record comes after the alert: the alert goes out first whatever happens to the record.
  const recordFailed = recorded('failed', { outcome: 'FAILED', ...FAILED_SOURCE }, failed);
  // An alert that cannot be sent must not hide the failure: the execution still ends FAILED (and the alarm fires).
  sendAlert.addCatch(recordFailed, { resultPath: '$.alertError' });
  sendAlert.next(recordFailed);
  const formatAlert = new sfn.Pass(scope, STATE.formatAlert, {
    stateName: STATE.formatAlert,
    parameters: {
      'subject.$': "States.Format('lockstep: release failed at {}', $.failure.stepLabel)",
      'message.$': `States.Format('Release {} of image {} FAILED at step {}.\n\nError: {}\nCause: {}\n\n{}\nDatabase: {}\nSnapshot to restore from: {}\nInput: {}\nExecution: {}\nRelease record: {}#{} (lockstep releases show {})', $.failure.release, $.failure.image, $.failure.step, $.failure.error.Error, $.failure.error.Cause, $.failure.consequence, $.failure.database, $.failure.snapshot, $.failure.input, ${executionLink(scope, '$$.Execution.Id')}, $$.Execution.StartTime, $$.Execution.Name, $.failure.release)`,
    },
    resultPath: '$.alert',
  }).next(sendAlert);
  // The Cause as a person reads it (a Lambda error's message, not its JSON document), for the alert and what follows.
  const readable = readableCause(scope, formatAlert);
  const unlockFailed = releaseLock(scope, STATE.unlockFailed, props.lockTable, readable);
  /** The state a step's Catch leads to: what failed, where, and what it means, for the alert and the Fail state. */
  const describeFailure = (step: string, consequence: string | DynamicConsequence, released: boolean) =>
    new sfn.Pass(scope, `Alert: ${step.toLowerCase()}`, {
      stateName: `Alert: ${step.toLowerCase()}`,
      parameters: {
        step,
        stepLabel: step.toLowerCase(),
        ...(typeof consequence === 'string' ? { consequence } : { 'consequence.$': consequence.format }),
        'error.$': CAUGHT_ERROR,
        'input.$': 'States.JsonToString($$.Execution.Input)',
        // Before preflight validated the input there is no release label, image or database to name.
        ...(released
          ? {
              'release.$': '$.release.release',
              'image.$': '$.release.image',
              'database.$': '$.database',
              'snapshot.$': '$.snapshot.snapshotId',
            }
          : {
              release: '(input not validated)',
              image: '(input not validated)',
              database: '-',
              snapshot: 'none',
            }),
      },
      resultPath: '$.failure',
      // Preflight gives the lock back itself when it fails after taking it.
    }).next(released ? unlockFailed : readable);

  const step = (spec: StepSpec): tasks.LambdaInvoke => {
    const task = new tasks.LambdaInvoke(scope, spec.state, {
      stateName: spec.state,
      lambdaFunction: spec.fn,
      payload: sfn.TaskInput.fromObject(spec.payload),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      // "$" is the default; the local interpreter mishandles it written out.
      ...(spec.resultPath === '$' ? {} : { resultPath: spec.resultPath }),
      ...(spec.resultSelector ? { resultSelector: spec.resultSelector } : {}),
      taskTimeout: sfn.Timeout.duration(spec.timeout),
    });
    for (const retry of taskRetries()) task.addRetry(retry);
    task.addCatch(describeFailure(spec.state, spec.consequence, spec.state !== STATE.preflight), {
      resultPath: '$.error',
    });
    return task;
  };

  /** The approval gate before `next`, telling the approver `summary` too; `next` itself without a gate. */
  const gate: Gate = (summary, next) => {
    const approval = props.approval;
    if (!approval) return next;
    const consequence =
      'Nothing was migrated or deployed: the release stopped at its approval gate. ReleaseRejectedError: someone rejected it ' +
      `(the Cause says who, when and why); States.Timeout: no one decided within ${approval.timeout.toHumanString()}.` +
      (props.snapshots ? ' The snapshot, if one was taken, is kept.' : '');
    return buildApprovalGate(
      scope,
      {
        fn: approval.fn,
        timeout: approval.timeout,
        payload: { 'release.$': '$.release', 'snapshotId.$': '$.snapshot.snapshotId', ...summary },
        lockTable: props.lockTable,
        lockKeyPath: '$.database',
        retries: taskRetries(),
        onFailure: describeFailure(STATE.awaitApproval, consequence, true),
      },
      next,
    );
  };

  const restoreHint = props.snapshots ? ` ${ROLLBACK_HINT}` : '';
  const preflight = step({
    state: STATE.preflight,
    fn: props.preflight,
    payload: {
      'input.$': '$',
      execution: {
        'id.$': '$$.Execution.Id',
        'startTime.$': '$$.Execution.StartTime',
        'stateMachineArn.$': '$$.StateMachine.Id',
      },
    },
    resultPath: '$',
    // Later alerts read $.snapshot.snapshotId: it starts as "none" so a path that took no snapshot can say so.
    resultSelector: { ...releaseArgs, 'database.$': '$.database', snapshot: { snapshotId: 'none' } },
    timeout: functionTimeout,
    consequence: 'The release was refused before anything was changed.',
  });
  // The SQL engine's two steps; command mode has neither (states are registered as they are made, so they are
  // made here, in the order that keeps the SQL flow's definition as it was).
  const migrateFunction = (): lambda.IFunction => {
    if (!props.migrate) throw new Error('buildReleaseDefinition: migrate is required without migrationTask');
    return props.migrate;
  };
  const mode = props.migrationTask
    ? ({ kind: 'command', task: props.migrationTask } as const)
    : ({
        kind: 'sql',
        plan: step({
          state: STATE.plan,
          fn: migrateFunction(),
          payload: { mode: 'plan', ...releaseArgs },
          resultPath: '$.plan',
          timeout: migrateTimeout,
          consequence: 'Nothing was changed.',
        }),
        migrate: step({
          state: STATE.migrate,
          fn: migrateFunction(),
          payload: { mode: 'apply', phase: 'before-deploy', ...releaseArgs },
          resultPath: '$.migrate',
          timeout: migrateTimeout,
          consequence:
            'Migrations completed before the failure stay applied. A failed migration that ran in a transaction was rolled back whole; ' +
            'in a -- lockstep:no-transaction file, the statements before the failing one stay applied (the Cause names the file and line). ' +
            `Nothing was deployed.${restoreHint}`,
        }),
        migrateAfterDeploy: step({
          state: STATE.migrateAfterDeploy,
          fn: migrateFunction(),
          payload: { mode: 'apply', phase: 'after-deploy', ...releaseArgs },
          resultPath: '$.afterDeploy',
          timeout: migrateTimeout,
          consequence:
            'The new version is already deployed and serving: the failure is in the after-deploy phase (-- lockstep:after-deploy migrations), ' +
            'which runs once the rollout is complete. The before-deploy migrations and the deploy stay as they are. After-deploy migrations ' +
            'completed before the failure stay applied; a failed one that ran in a transaction was rolled back whole. Fix the migration and release ' +
            'again (only what is pending runs), or run lockstep migrate --phase after-deploy against the database. Restoring the snapshot would also undo the before-deploy migrations the new version needs.',
        }),
      } as const);
  const startDeploy = step({
    state: STATE.startDeploy,
    fn: props.deploy,
    payload: {
      action: 'start',
      ...releaseArgs,
      // Command mode deploys the revision the migration task ran.
      ...(props.migrationTask ? { 'taskDefinitionArn.$': '$.revision.taskDefinitionArn' } : {}),
    },
    resultPath: '$.deploy',
    timeout: functionTimeout,
    consequence: 'The migrations are applied; the old image keeps running.',
  });
  const rolloutStatus = step({
    state: STATE.rolloutStatus,
    fn: props.deploy,
    payload: {
      action: 'status',
      ...releaseArgs,
      deployment: {
        'taskDefinitionArn.$': '$.deploy.taskDefinitionArn',
        'deploymentId.$': '$.deploy.deploymentId',
        'waitUntil.$': '$.deploy.waitUntil',
      },
    },
    resultPath: '$.rollout',
    timeout: functionTimeout,
    consequence:
      'The migrations are applied; ECS rolled back or the rollout stalled — unless the error is ImageNotRecordedError: ' +
      'then the new image runs, but the image parameter the stack reads still names the previous one. ' +
      'lockstep rollback --to <the release before this one> --dry-run says whether the image ECS went back to works with the migrations.',
  });
  const waitRollout = new sfn.Wait(scope, STATE.waitRollout, {
    stateName: STATE.waitRollout,
    time: sfn.WaitTime.duration(props.deployPollInterval),
  });

  // ---- success: prune old snapshots (a failure there alerts but does not fail the release), notify, done
  const released = new sfn.Succeed(scope, STATE.released, { stateName: STATE.released });
  const done: sfn.IChainable = props.notifyOnSuccess
    ? new tasks.SnsPublish(scope, STATE.notify, {
        stateName: STATE.notify,
        topic: props.alertTopic,
        subject: 'lockstep: release succeeded',
        message: sfn.TaskInput.fromJsonPathAt(
          props.migrationTask
            ? `States.Format('Release {} of image {} is live. {} Snapshot: {}. Execution: {}', $.release.release, $.release.image, $.migrationTaskResult.summary, $.snapshot.snapshotId, ${executionLink(scope, '$$.Execution.Id')})`
            : `States.Format('Release {} of image {} is live. Migrations applied: {}. Snapshot: {}. Execution: {}', $.release.release, $.release.image, $.plan.pendingCount, $.snapshot.snapshotId, ${executionLink(scope, '$$.Execution.Id')})`,
        ),
        resultPath: sfn.JsonPath.DISCARD,
      }).next(released)
    : released;
  const finish = releaseLock(
    scope,
    STATE.unlock,
    props.lockTable,
    recorded('released', { outcome: 'SUCCEEDED', ...RELEASED_SOURCE }, done),
  );

  let afterRollout: sfn.IChainable = finish;
  if (props.snapshots) {
    const prune = new tasks.LambdaInvoke(scope, STATE.prune, {
      stateName: STATE.prune,
      lambdaFunction: props.snapshot,
      payload: sfn.TaskInput.fromObject({
        action: 'prune',
        ...releaseArgs,
        'snapshotId.$': '$.snapshot.snapshotId',
      }),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      resultPath: '$.prune',
      taskTimeout: sfn.Timeout.duration(functionTimeout),
    });
    for (const retry of taskRetries()) prune.addRetry(retry);
    const pruneAlert = new sfn.Pass(scope, STATE.pruneAlert, {
      stateName: STATE.pruneAlert,
      parameters: {
        subject: 'lockstep: pruning old snapshots failed',
        'message.$': `States.Format('Release {} succeeded, but deleting old lockstep snapshots failed: {}: {}. Delete them by hand before the manual-snapshot quota is reached. Execution: {}', $.release.release, $.pruneFailure.error.Error, $.pruneFailure.error.Cause, ${executionLink(scope, '$$.Execution.Id')})`,
      },
      resultPath: '$.alert',
    });
    const normalizePruneError = new sfn.Pass(scope, 'Describe prune failure', {
      stateName: 'Describe prune failure',
      parameters: { 'error.$': CAUGHT_ERROR.replaceAll('$.error', '$.pruneError') },
      resultPath: '$.pruneFailure',
    });
    const sendPruneAlert = publishAlert(scope, STATE.sendPruneAlert, props.alertTopic);
    sendPruneAlert.addCatch(finish, { resultPath: '$.alertError' });
    prune.addCatch(normalizePruneError.next(pruneAlert).next(sendPruneAlert).next(finish), {
      resultPath: '$.pruneError',
    });
    afterRollout = prune.next(finish);
  }
  // The SQL flow's after-deploy phase: `-- lockstep:after-deploy` migrations, once every task runs the new version.
  const rolledOutNext: sfn.IChainable =
    mode.kind === 'sql'
      ? new sfn.Choice(scope, STATE.afterDeployRoute, { stateName: STATE.afterDeployRoute })
          .when(
            sfn.Condition.numberGreaterThan('$.plan.afterDeployCount', 0),
            mode.migrateAfterDeploy.next(
              new sfn.Choice(scope, STATE.migratedAfterDeploy, { stateName: STATE.migratedAfterDeploy })
                .when(sfn.Condition.booleanEquals('$.afterDeploy.incomplete', true), mode.migrateAfterDeploy)
                .otherwise(afterRollout),
            ),
          )
          .otherwise(afterRollout)
      : afterRollout;
  const deploy = startDeploy
    .next(waitRollout)
    .next(rolloutStatus)
    .next(
      new sfn.Choice(scope, STATE.rolledOut, { stateName: STATE.rolledOut })
        .when(sfn.Condition.booleanEquals('$.rollout.done', true), rolledOutNext)
        .otherwise(waitRollout),
    );

  // A record marked RUNNING as soon as the lock is held: an execution stopped or timed out still leaves one. Its
  // write failing changes nothing (the end's write is tried, and alerts).
  const started = (next: sfn.IChainable) =>
    recorded('started', { outcome: 'RUNNING', ...RELEASED_SOURCE }, next);
  const dryRunEnd = (end: sfn.IChainable) =>
    recorded('dry run', { outcome: 'DRY_RUN', ...RELEASED_SOURCE }, end);
  if (mode.kind === 'command')
    return preflight.next(
      started(
        commandMigration(scope, props, mode.task, {
          step,
          describeFailure,
          releaseArgs,
          functionTimeout,
          deploy,
          dryRunEnd,
          gate,
        }),
      ),
    );

  const { plan, migrate } = mode;
  const approved = gate({ 'plan.$': '$.plan' }, migrate);
  migrate.next(
    new sfn.Choice(scope, STATE.migrated, { stateName: STATE.migrated })
      .when(sfn.Condition.booleanEquals('$.migrate.incomplete', true), migrate)
      .otherwise(deploy),
  );

  // ---- route after the plan
  const route = new sfn.Choice(scope, STATE.route, { stateName: STATE.route })
    .when(
      sfn.Condition.booleanEquals('$.release.options.dryRun', true),
      releaseLock(
        scope,
        STATE.unlockDryRun,
        props.lockTable,
        dryRunEnd(
          new sfn.Succeed(scope, STATE.dryRun, {
            stateName: STATE.dryRun,
            comment: 'Planned only: nothing changed, nothing deployed.',
          }),
        ),
      ),
    )
    .when(sfn.Condition.numberEquals('$.plan.pendingCount', 0), deploy);

  if (props.snapshots) {
    route
      .when(sfn.Condition.booleanEquals('$.plan.needsSnapshot', false), approved)
      .otherwise(snapshotThen(scope, props, { step, releaseArgs, functionTimeout }, approved));
  } else {
    route.otherwise(approved);
  }

  return preflight.next(started(plan)).next(route);
}

/**
 * Create snapshot → wait → status → available? → `next`: the same states in the SQL-engine and command flows (only
 * one of the two is built in a definition).
 */
function snapshotThen(
  scope: Construct,
  props: ReleaseDefinitionProps,
  parts: {
    readonly step: (spec: StepSpec) => tasks.LambdaInvoke;
    readonly releaseArgs: Record<string, string>;
    readonly functionTimeout: Duration;
  },
  next: sfn.IChainable,
): sfn.IChainable {
  const { step, releaseArgs, functionTimeout } = parts;
  const createSnapshot = step({
    state: STATE.createSnapshot,
    fn: props.snapshot,
    payload: { action: 'create', ...releaseArgs },
    resultPath: '$.snapshot',
    timeout: functionTimeout,
    consequence: 'No backup was taken, so nothing was migrated or deployed.',
  });
  const waitSnapshot = new sfn.Wait(scope, STATE.waitSnapshot, {
    stateName: STATE.waitSnapshot,
    time: sfn.WaitTime.duration(props.snapshotPollInterval),
  });
  const snapshotStatus = step({
    state: STATE.snapshotStatus,
    fn: props.snapshot,
    payload: {
      action: 'status',
      ...releaseArgs,
      'snapshotId.$': '$.snapshot.snapshotId',
      'waitUntil.$': '$.snapshot.waitUntil',
    },
    resultPath: '$.snapshotStatus',
    timeout: functionTimeout,
    consequence: 'The backup did not complete, so nothing was migrated or deployed.',
  });
  return createSnapshot
    .next(waitSnapshot)
    .next(snapshotStatus)
    .next(
      new sfn.Choice(scope, STATE.snapshotReady, { stateName: STATE.snapshotReady })
        .when(sfn.Condition.booleanEquals('$.snapshotStatus.available', true), next)
        .otherwise(waitSnapshot),
    );
}

/**
 * Deletes the release lock if this execution still holds it, then goes on to `next` whatever happens: a lock
 * another release took over is not ours to delete, and one left behind is taken over by the next preflight
 * (its owner no longer runs) or expires with the release timeout.
 */
export function releaseLock(
  scope: Construct,
  name: string,
  table: dynamodb.ITable,
  next: sfn.IChainable,
): sfn.IChainable {
  const unlock = new tasks.DynamoDeleteItem(scope, name, {
    stateName: name,
    table,
    key: { lockId: tasks.DynamoAttributeValue.fromString(sfn.JsonPath.stringAt('$.database')) },
    conditionExpression: '#owner = :owner',
    expressionAttributeNames: { '#owner': 'owner' },
    expressionAttributeValues: {
      ':owner': tasks.DynamoAttributeValue.fromString(sfn.JsonPath.stringAt('$$.Execution.Id')),
    },
    resultPath: sfn.JsonPath.DISCARD,
  });
  unlock.addRetry(DYNAMODB_RETRY);
  unlock.addCatch(next, { resultPath: '$.unlockError' });
  return unlock.next(next);
}

/** An SNS Publish of the alert built in `$.alert`, retried a little (SNS and KMS have their moments). */
export function publishAlert(scope: Construct, name: string, topic: sns.ITopic): tasks.SnsPublish {
  const publish = new tasks.SnsPublish(scope, name, {
    stateName: name,
    topic,
    subject: sfn.JsonPath.stringAt('$.alert.subject'),
    message: sfn.TaskInput.fromJsonPathAt('$.alert.message'),
    resultPath: sfn.JsonPath.DISCARD,
  });
  publish.addRetry({
    errors: ['States.TaskFailed'],
    interval: Duration.seconds(2),
    maxAttempts: 3,
    backoffRate: 2,
  });
  return publish;
}

interface CommandFlowParts {
  readonly step: (spec: StepSpec) => tasks.LambdaInvoke;
  readonly describeFailure: (
    step: string,
    consequence: string | DynamicConsequence,
    released: boolean,
  ) => sfn.IChainable;
  readonly releaseArgs: Record<string, string>;
  readonly functionTimeout: Duration;
  /** Start deploy → rollout → prune → done. */
  readonly deploy: sfn.IChainable;
  /** The dry run's end, recorded. */
  readonly dryRunEnd: (end: sfn.IChainable) => sfn.IChainable;
  readonly gate: Gate;
}

/** The approval gate before `next` (telling the approver `summary` as well), or `next` alone when there is none. */
type Gate = (summary: Record<string, unknown>, next: sfn.IChainable) => sfn.IChainable;

/**
 * Command mode after preflight: Route (dry run ends here) → Register revision → snapshot → Run migration task →
 * Check migration task → the deploy chain, which starts the service on the revision the task ran.
 */
function commandMigration(
  scope: Construct,
  props: ReleaseDefinitionProps,
  migrationTask: NonNullable<ReleaseDefinitionProps['migrationTask']>,
  parts: CommandFlowParts,
): sfn.IChainable {
  const { step, describeFailure, releaseArgs, functionTimeout, deploy, dryRunEnd } = parts;
  const register = step({
    state: STATE.registerRevision,
    fn: props.deploy,
    payload: { action: 'register', ...releaseArgs },
    resultPath: '$.revision',
    timeout: functionTimeout,
    consequence: 'Nothing was changed: no migration ran and nothing was deployed.',
  });
  const { run, check } = buildMigrationTaskStates(
    scope,
    { run: STATE.runMigrationTask, check: STATE.checkMigrationTask },
    migrationTask.spec,
    migrationTask.launch,
    migrationTask.check,
    functionTimeout,
  );
  for (const retry of taskRetries()) check.addRetry(retry);
  const restoreHint = props.snapshots ? ` ${ROLLBACK_HINT}` : '';
  check.addCatch(
    describeFailure(
      STATE.checkMigrationTask,
      {
        format: `States.Format('The migration command ran (or was to run) in image {}, task definition {}; nothing was deployed. What the command applied before it failed stays applied, as its tool left it.${restoreHint}', $.release.image, $.revision.taskDefinitionArn)`,
      },
      true,
    ),
    { resultPath: '$.error' },
  );
  check.next(deploy);

  const pendingCheckSummary = migrationTask.spec.pendingCheck
    ? { 'pendingCheck.$': '$.pendingCheck.summary' }
    : {};
  const approved = parts.gate(
    {
      command: {
        command: migrationTask.spec.command.map(shellWord).join(' '),
        'taskDefinitionArn.$': '$.revision.taskDefinitionArn',
        ...pendingCheckSummary,
      },
    },
    run,
  );
  let migration: sfn.IChainable = approved;
  if (props.snapshots) {
    migration = snapshotThen(scope, props, { step, releaseArgs, functionTimeout }, approved);
  }
  const pendingCheck = migrationTask.spec.pendingCheck;
  if (pendingCheck) migration = pendingCheckThen(scope, migrationTask, pendingCheck, parts, migration);
  return new sfn.Choice(scope, STATE.route, { stateName: STATE.route })
    .when(
      sfn.Condition.booleanEquals('$.release.options.dryRun', true),
      releaseLock(
        scope,
        STATE.unlockDryRun,
        props.lockTable,
        dryRunEnd(
          new sfn.Succeed(scope, STATE.dryRun, {
            stateName: STATE.dryRun,
            comment: 'Nothing changed, nothing deployed: command mode has no plan to show.',
          }),
        ),
      ),
    )
    .otherwise(register.next(migration));
}

/**
 * Register revision → Run pending check → Read pending check → Migrations pending?: exit 0 goes to the deploy chain
 * (no snapshot, no migration task, as the SQL flow does when its plan finds nothing pending); any other exit of a
 * check that ended by itself goes on to `pending` (snapshot, migration task). A check with no answer (not placed,
 * never started, timed out, stopped by ECS) fails the release with PendingCheckFailedError and an alert: no guess.
 */
function pendingCheckThen(
  scope: Construct,
  migrationTask: NonNullable<ReleaseDefinitionProps['migrationTask']>,
  check: PendingCheckSpec,
  parts: CommandFlowParts,
  pending: sfn.IChainable,
): sfn.IChainable {
  const { run, check: read } = buildPendingCheckStates(
    scope,
    { run: STATE.runPendingCheck, check: STATE.readPendingCheck },
    migrationTask.spec,
    check,
    migrationTask.launch,
    migrationTask.check,
    parts.functionTimeout,
  );
  for (const retry of taskRetries()) read.addRetry(retry);
  read.addCatch(
    parts.describeFailure(
      STATE.readPendingCheck,
      {
        format:
          "States.Format('The pending check was to run in image {}, task definition {}. Nothing was snapshotted, migrated or deployed; the old image keeps running.', $.release.image, $.revision.taskDefinitionArn)",
      },
      true,
    ),
    { resultPath: '$.error' },
  );
  const nothingPending = new sfn.Pass(scope, STATE.nothingPending, {
    stateName: STATE.nothingPending,
    comment: 'The pending check exited 0: no snapshot, no migration task; the image still deploys.',
    parameters: { 'summary.$': '$.pendingCheck.summary' },
    resultPath: '$.migrationTaskResult',
  }).next(parts.deploy);
  read.next(
    new sfn.Choice(scope, STATE.pendingRoute, { stateName: STATE.pendingRoute })
      .when(sfn.Condition.booleanEquals('$.pendingCheck.pending', false), nothingPending)
      .otherwise(pending),
  );
  return run;
}

/** A word of the command as a person would type it: quoted when it holds a space or a quote. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}
