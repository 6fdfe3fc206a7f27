/**
 * The rollback state machine (issue 16), in Amazon States Language (JSONPath only, as the release's). Started by
 * `lockstep rollback` with the input functions/shared/rollback-input.ts describes; state names in
 * ./rollback-state-names.ts.
 *
 *   Preflight (input checked, the release lock taken: a running release refuses the rollback) → Restore the database?
 *     ├─ restore null ─→ Image only ──────────────────────────────────────────────────────────────────┐
 *     └─ Restore snapshot (new instance/cluster) → Wait ⇄ Restore status → Confirm switch (a person)  │
 *          → Clear confirmation token → Rename original aside → Wait ⇄ Original renamed? → Rename restored into place            │
 *          → Wait ⇄ Restored renamed? → Switched ──────────────────────────────────────────────────────┤
 *   Start deploy (the target's task-definition revision) → Wait ⇄ Rollout status ←────────────────────┘
 *     → Release lock → record → Notify rollback → Rolled back
 *   Any failure → Alert: <step> (what state the database is in, what to run) → Release lock (failed) → Format alert
 *     → Send alert → record → Rollback failed.
 *
 * Confirm switch is the release's approval gate (./approval-gate.ts): the approval function stores its task token on
 * the lock item and notifies what the switch will do, with the restored copy's endpoint to check first; `lockstep
 * approve` lets it switch, `lockstep reject` or the confirmation timeout ends the rollback with nothing switched.
 *
 * The lock is held from preflight to every end. Nothing here deletes anything: the original is renamed aside and
 * kept, a failed restore is left for inspection. Every Lambda step's Retry comes from the error contract
 * (ERROR_POLICY), as the release's do, except preflight's lock conflict, which refuses at once.
 */
import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { buildApprovalGate } from './approval-gate.ts';
import { readableCause } from './readable-cause.ts';
import { CAUGHT_ERROR, executionLink, publishAlert, releaseLock, taskRetries } from './release-definition.ts';
import {
  FAILED_SOURCE,
  RELEASED_SOURCE,
  type RecordSource,
  recordFailureAlert,
  recordRelease,
} from './release-records.ts';
import { ROLLBACK_STATE as STATE } from './rollback-state-names.ts';

export { STATE as ROLLBACK_STATE };

export interface RollbackDefinitionProps {
  /** Validates the input and takes the release lock (`flow: rollback`). */
  readonly preflight: lambda.IFunction;
  /** The restore and the switch (functions/restore). */
  readonly restore: lambda.IFunction;
  /** Redeploys the target's revision (functions/deploy, `start` with a taskDefinitionArn, then `status`). */
  readonly deploy: lambda.IFunction;
  readonly alertTopic: sns.ITopic;
  /** The release lock: the same table and item a release takes. */
  readonly lockTable: dynamodb.ITable;
  /** Where the rollback's record goes, beside the releases'. */
  readonly records: { readonly table: dynamodb.ITable; readonly database: string };
  /** How often the restore, each rename and the rollout are looked at. */
  readonly pollInterval: Duration;
  readonly deployPollInterval: Duration;
  /** The functions' timeout; their tasks wait a little longer. */
  readonly functionTimeout: Duration;
  /**
   * The pause between "restored and available" and the switch: the approval function (functions/approval) and how
   * long it waits for a decision before the rollback fails with nothing switched.
   */
  readonly confirm: { readonly fn: lambda.IFunction; readonly timeout: Duration };
}

/** The rollback's success and failure paths read the record's fields from these paths. */
const ROLLED_BACK_SOURCE = RELEASED_SOURCE;

/** A sentence built at run time from the state: a States.Format expression (no quote in `text`: ASL would need it escaped). */
function format(text: string, ...paths: string[]): string {
  if (text.includes("'")) throw new Error(`rollback-definition: no quotes in a States.Format text: ${text}`);
  return `States.Format('${text}', ${paths.join(', ')})`;
}

const HALF_SWITCHED_ORIGINAL = format(
  'The switch stopped half-way. The original {} with the newest data is {}, or {} if its rename went through; the copy restored from the snapshot is {}. ' +
    'If {} does not answer now, the app has no database: put the original back with\n  {}\nor finish the switch with\n  {}\n' +
    'Nothing was deleted; nothing was deployed.',
  '$.restore.kind',
  '$.restore.database',
  '$.restore.aside',
  '$.restore.restored',
  '$.restore.database',
  '$.restore.renameBack',
  '$.restore.finishSwitch',
);
const HALF_SWITCHED_RESTORED = format(
  'The switch stopped half-way. The original {} with the newest data is now {}; the copy restored from the snapshot is {}, being renamed to {}. ' +
    'If {} does not answer now, the app has no database: finish the switch with\n  {}\nor put the original back with\n  {}\n' +
    'Nothing was deleted; nothing was deployed.',
  '$.restore.kind',
  '$.restore.aside',
  '$.restore.restored',
  '$.restore.database',
  '$.restore.database',
  '$.restore.finishSwitch',
  '$.restore.renameBack',
);

export function buildRollbackDefinition(scope: Construct, props: RollbackDefinitionProps): sfn.IChainable {
  const functionTimeout = props.functionTimeout.plus(Duration.seconds(30));
  const { table, database } = props.records;
  const recorded = (label: string, source: RecordSource, next: sfn.IChainable): sfn.IChainable => {
    const onError =
      source.outcome === 'RUNNING'
        ? next
        : recordFailureAlert(scope, label, table, database, source).next(
            publishAlert(scope, `Send record alert (${label})`, props.alertTopic)
              .addCatch(next, { resultPath: '$.alertError' })
              .next(next),
          );
    return recordRelease(scope, label, { table, database, source, onError, flow: 'rollback' }, next);
  };

  // ---- the failure path
  const failed = new sfn.Fail(scope, STATE.failed, {
    stateName: STATE.failed,
    errorPath: '$.failure.error.Error',
    causePath: '$.failure.error.Cause',
  });
  const recordFailed = recorded('failed', { outcome: 'FAILED', ...FAILED_SOURCE }, failed);
  const sendAlert = publishAlert(scope, STATE.sendAlert, props.alertTopic);
  sendAlert.addCatch(recordFailed, { resultPath: '$.alertError' });
  sendAlert.next(recordFailed);
  const formatAlert = new sfn.Pass(scope, STATE.formatAlert, {
    stateName: STATE.formatAlert,
    parameters: {
      'subject.$': "States.Format('lockstep: rollback failed at {}', $.failure.stepLabel)",
      'message.$': `States.Format('Rollback {} (to release {}, image {}) FAILED at step {}.\n\nError: {}\nCause: {}\n\n{}\nDatabase: {}\nSnapshot restored from: {}\nRequested by: {}\nInput: {}\nExecution: {}\nRollback record: {}#{} (lockstep releases show {})', $.failure.release, $.failure.to, $.failure.image, $.failure.step, $.failure.error.Error, $.failure.error.Cause, $.failure.consequence, $.failure.database, $.failure.snapshot, $.failure.requestedBy, $.failure.input, ${executionLink(scope, '$$.Execution.Id')}, $$.Execution.StartTime, $$.Execution.Name, $.failure.release)`,
    },
    resultPath: '$.alert',
  }).next(sendAlert);
  // The Cause as a person reads it (a Lambda error's message, not its JSON document), for the alert and what follows.
  const readable = readableCause(scope, formatAlert);
  const unlockFailed = releaseLock(scope, STATE.unlockFailed, props.lockTable, readable);
  const describeFailure = (step: string, consequence: string, validated: boolean) =>
    new sfn.Pass(scope, `Alert: ${step.toLowerCase()}`, {
      stateName: `Alert: ${step.toLowerCase()}`,
      parameters: {
        step,
        stepLabel: step.toLowerCase(),
        ...(consequence.startsWith('States.') ? { 'consequence.$': consequence } : { consequence }),
        'error.$': CAUGHT_ERROR,
        'input.$': 'States.JsonToString($$.Execution.Input)',
        ...(validated
          ? {
              'release.$': '$.release.release',
              'image.$': '$.release.image',
              'to.$': '$.rollback.to.release',
              'requestedBy.$': "States.Format('{} ({})', $.rollback.requestedBy, $.rollback.reason)",
              'database.$': '$.database',
              'snapshot.$': '$.snapshot.snapshotId',
            }
          : {
              release: '(input not validated)',
              image: '(input not validated)',
              to: '-',
              requestedBy: '-',
              database: '-',
              snapshot: 'none',
            }),
      },
      resultPath: '$.failure',
      // A refused preflight holds no lock: it took none, or the lock is another execution's.
    }).next(validated ? unlockFailed : readable);

  const step = (
    state: string,
    fn: lambda.IFunction,
    payload: Record<string, unknown>,
    resultPath: string,
    consequence: string,
    options: { readonly resultSelector?: Record<string, unknown>; readonly retries?: sfn.RetryProps[] } = {},
  ): tasks.LambdaInvoke => {
    const task = new tasks.LambdaInvoke(scope, state, {
      stateName: state,
      lambdaFunction: fn,
      payload: sfn.TaskInput.fromObject(payload),
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      ...(resultPath === '$' ? {} : { resultPath }),
      ...(options.resultSelector ? { resultSelector: options.resultSelector } : {}),
      taskTimeout: sfn.Timeout.duration(functionTimeout),
    });
    for (const retry of options.retries ?? taskRetries()) task.addRetry(retry);
    task.addCatch(describeFailure(state, consequence, state !== STATE.preflight), { resultPath: '$.error' });
    return task;
  };
  const wait = (state: string, interval: Duration) =>
    new sfn.Wait(scope, state, { stateName: state, time: sfn.WaitTime.duration(interval) });
  /** `first` → Wait → `status` → Choice on `flag` → `next`, else Wait again. */
  const poll = (
    first: sfn.INextable & sfn.IChainable,
    waitState: sfn.Wait,
    status: tasks.LambdaInvoke,
    choice: string,
    flag: string,
    next: sfn.IChainable,
  ): sfn.IChainable => {
    first.next(waitState);
    waitState.next(status);
    status.next(
      new sfn.Choice(scope, choice, { stateName: choice })
        .when(sfn.Condition.booleanEquals(flag, true), next)
        .otherwise(waitState),
    );
    return first;
  };
  const executionArgs = { 'executionId.$': '$.executionId' };
  const releaseArgs = { ...executionArgs, 'release.$': '$.release' };

  const preflight = step(
    STATE.preflight,
    props.preflight,
    {
      flow: 'rollback',
      'input.$': '$',
      execution: {
        'id.$': '$$.Execution.Id',
        'startTime.$': '$$.Execution.StartTime',
        'stateMachineArn.$': '$$.StateMachine.Id',
      },
    },
    '$',
    'The rollback was refused before anything was changed.',
    {
      // A release holding the lock refuses the rollback at once (RollbackRefusedError); it never queues.
      retries: taskRetries().filter((r) => !r.errors?.includes('ReleaseInProgressError')),
      resultSelector: {
        ...executionArgs,
        'release.$': '$.release',
        'rollback.$': '$.rollback',
        'database.$': '$.database',
        'snapshot.$': '$.snapshot',
      },
    },
  );

  // ---- success: redeploy, give the lock back, record, notify
  const rolledBack = new sfn.Succeed(scope, STATE.rolledBack, { stateName: STATE.rolledBack });
  const notify = new tasks.SnsPublish(scope, STATE.notify, {
    stateName: STATE.notify,
    topic: props.alertTopic,
    subject: 'lockstep: rollback complete',
    message: sfn.TaskInput.fromJsonPathAt(
      `States.Format('Rollback {} is live: the service runs release {} ({}, task definition {}). {} Requested by {}: {}. Execution: {}', $.release.release, $.rollback.to.release, $.rollback.to.image, $.rollback.to.taskDefinitionArn, $.switched.summary, $.rollback.requestedBy, $.rollback.reason, ${executionLink(scope, '$$.Execution.Id')})`,
    ),
    resultPath: sfn.JsonPath.DISCARD,
  });
  // A notice that cannot be sent does not undo a rollback that is live.
  notify.addCatch(rolledBack, { resultPath: '$.alertError' });
  notify.next(rolledBack);
  const finish = releaseLock(
    scope,
    STATE.unlock,
    props.lockTable,
    recorded('rolled back', { outcome: 'SUCCEEDED', ...ROLLED_BACK_SOURCE }, notify),
  );
  const deployConsequence = format(
    '{} The service was being moved to release {} (task definition {}): ECS rolled back or the rollout stalled, so check what the service runs; start the rollback again to retry (with restore null: the database is done).',
    '$.switched.summary',
    '$.rollback.to.release',
    '$.rollback.to.taskDefinitionArn',
  );
  const startDeploy = step(
    STATE.startDeploy,
    props.deploy,
    { action: 'start', ...releaseArgs, 'taskDefinitionArn.$': '$.rollback.to.taskDefinitionArn' },
    '$.deploy',
    deployConsequence,
  );
  const rolloutStatus = step(
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
    deployConsequence,
  );
  const deploy = poll(
    startDeploy,
    wait(STATE.waitRollout, props.deployPollInterval),
    rolloutStatus,
    STATE.rolledOut,
    '$.rollout.done',
    finish,
  );

  // ---- the restore and the switch
  const restoreArgs = { ...executionArgs, 'restore.$': '$.restore' };
  const restored = format(
    'Nothing was switched: {} still holds the current data and serves the app; the copy restored from the snapshot, {}, is kept (delete it when it is not wanted). Nothing was deployed.',
    '$.restore.database',
    '$.restore.restored',
  );
  const restore = step(
    STATE.restore,
    props.restore,
    {
      action: 'restore',
      ...executionArgs,
      'startTime.$': '$$.Execution.StartTime',
      'rollback.$': '$.release.release',
      'snapshotId.$': '$.rollback.restore.snapshotId',
    },
    '$.restore',
    format(
      'Nothing was switched: {} still holds the current data and serves the app. If the restore started, its copy is {}-restored-<time> (tagged lockstep:execution with this execution): it is kept, delete it when it is not wanted. Nothing was deployed.',
      '$.database',
      '$.database',
    ),
  );
  const restoreStatus = step(
    STATE.restoreStatus,
    props.restore,
    { action: 'restoreStatus', ...restoreArgs },
    '$.restoreStatus',
    restored,
  );
  const switched = new sfn.Pass(scope, STATE.switched, {
    stateName: STATE.switched,
    parameters: {
      'summary.$': format(
        'The database is the copy restored from snapshot {}, now {}; the original with the newer data is kept as {}.',
        '$.restore.snapshotId',
        '$.restore.database',
        '$.restore.aside',
      ),
    },
    resultPath: '$.switched',
  }).next(deploy);
  /** One half of the switch: rename → Wait ⇄ rename status → `next`; a failure at either says what `consequence` does. */
  const renameThen = (
    action: 'renameOriginal' | 'renameRestored',
    states: {
      readonly rename: string;
      readonly wait: string;
      readonly status: string;
      readonly done: string;
    },
    consequence: string,
    next: sfn.IChainable,
  ) =>
    poll(
      step(states.rename, props.restore, { action, ...restoreArgs }, '$.rename', consequence),
      wait(states.wait, props.pollInterval),
      step(
        states.status,
        props.restore,
        { action: 'renameStatus', ...restoreArgs, 'rename.$': '$.rename' },
        '$.renameStatus',
        consequence,
      ),
      states.done,
      '$.renameStatus.done',
      next,
    );
  const renameRestored = renameThen(
    'renameRestored',
    {
      rename: STATE.renameRestored,
      wait: STATE.waitRenameRestored,
      status: STATE.renameRestoredStatus,
      done: STATE.restoredRenamed,
    },
    HALF_SWITCHED_RESTORED,
    switched,
  );
  const renameOriginal = renameThen(
    'renameOriginal',
    {
      rename: STATE.renameOriginal,
      wait: STATE.waitRenameOriginal,
      status: STATE.renameOriginalStatus,
      done: STATE.originalRenamed,
    },
    HALF_SWITCHED_ORIGINAL,
    renameRestored,
  );
  const switchThen = buildApprovalGate(
    scope,
    {
      fn: props.confirm.fn,
      timeout: props.confirm.timeout,
      states: { wait: STATE.confirmSwitch, timedOut: STATE.confirmTimedOut, clear: STATE.clearConfirmation },
      what: 'the switch to the restored database',
      payload: {
        'release.$': '$.release',
        'snapshotId.$': '$.restore.snapshotId',
        rollback: {
          'to.$': '$.rollback.to',
          'requestedBy.$': '$.rollback.requestedBy',
          'reason.$': '$.rollback.reason',
          'snapshotCreatedAt.$': '$.rollback.restore.snapshotCreatedAt',
          'kind.$': '$.restore.kind',
          'database.$': '$.restore.database',
          'restored.$': '$.restore.restored',
          'aside.$': '$.restore.aside',
          'endpoint.$': '$.restoreStatus.endpoint',
        },
      },
      lockTable: props.lockTable,
      lockKeyPath: '$.database',
      retries: taskRetries(),
      onFailure: describeFailure(STATE.confirmSwitch, restored, true),
    },
    renameOriginal,
  );
  const restoreThenSwitch = poll(
    restore,
    wait(STATE.waitRestore, props.pollInterval),
    restoreStatus,
    STATE.restored,
    '$.restoreStatus.available',
    switchThen,
  );

  const imageOnly = new sfn.Pass(scope, STATE.imageOnly, {
    stateName: STATE.imageOnly,
    comment: 'No restore: the database keeps its schema and data; only the service goes back.',
    parameters: { summary: 'The database was not touched (image-only rollback).' },
    resultPath: '$.switched',
  }).next(deploy);

  const started = recorded(
    'started',
    { outcome: 'RUNNING', ...ROLLED_BACK_SOURCE },
    new sfn.Choice(scope, STATE.restoreWanted, { stateName: STATE.restoreWanted })
      .when(sfn.Condition.isNull('$.rollback.restore'), imageOnly)
      .otherwise(restoreThenSwitch),
  );
  return preflight.next(started);
}
