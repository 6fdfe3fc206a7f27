/**
 * The construct's second state machine (issue 16): the rollback (./rollback-definition.ts), its restore function
 * (functions/restore) and that function's least-privilege grants. ReleaseFlow builds it beside the release; this
 * module knows nothing of ReleaseFlow itself.
 *
 * What the restore function may do, on this database only: describe it and its `<id>-*` namesakes; restore a
 * lockstep snapshot (`lockstep-*`) into a new `<id>-*` instance or cluster (attaching the original's subnet group,
 * parameter and option groups, which it reads at run time, hence `subgrp:*`, `pg:*`, `og:*`, `cluster-pg:*`) and
 * tag it at creation; create a restored cluster's members (`<id>-*`); rename (ModifyDB…) `<id>` and `<id>-*`. It
 * may delete nothing, and touch no other database. IAM cannot limit ModifyDBInstance/Cluster to a rename (the
 * request's NewDB…Identifier has no condition key), so it is granted on these identifiers only.
 */
import { ArnFormat, Aws, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { acknowledgeWildcard, STATE_MACHINE_WILDCARD_REASON } from './nag.ts';
import { buildRollbackDefinition, type RollbackDefinitionProps } from './rollback-definition.ts';

/** How the rollback state machine restores and switches; see the README's "Rolling back". */
export interface RollbackSettings {
  /** How often the restore and each rename are looked at. @default Duration.seconds(30) */
  readonly pollInterval?: Duration;
  /** How long the restored database (and a cluster's members) may take to become available. @default Duration.hours(3) */
  readonly restoreTimeout?: Duration;
  /**
   * How long each rename of the switch may take to be visible (RDS: "about 10 minutes" for an instance's new DNS
   * name). @default Duration.minutes(30)
   */
  readonly renameTimeout?: Duration;
  /**
   * How long the rollback waits, once the restored copy is available, for `lockstep approve` (switch) or `lockstep
   * reject`; then it ends with nothing switched and the copy kept. @default Duration.hours(1)
   */
  readonly confirmTimeout?: Duration;
  /**
   * The database's KMS key when it is a customer managed key: the restore function may then create grants on it and
   * describe it, through RDS only (kms:ViaService), as RDS requires of whoever restores an encrypted snapshot.
   * @default - none: the AWS managed key aws/rds, which needs no grant
   */
  readonly databaseKey?: kms.IKey;
}

export type ResolvedRollback = Required<Omit<RollbackSettings, 'databaseKey'>> & {
  readonly databaseKey: kms.IKey | undefined;
};

/** The database as the rollback needs it (ReleaseDatabase has these). */
export interface RollbackDatabase {
  readonly kind: 'instance' | 'cluster';
  readonly identifier: string;
  readonly arn: string;
}

/** Applies the defaults and checks them against the state machine's timeout, which the rollback shares. */
export function resolveRollback(
  props: RollbackSettings | undefined,
  limits: { readonly releaseTimeout: Duration; readonly deployTimeout: Duration },
): ResolvedRollback {
  const r = {
    pollInterval: props?.pollInterval ?? Duration.seconds(30),
    restoreTimeout: props?.restoreTimeout ?? Duration.hours(3),
    renameTimeout: props?.renameTimeout ?? Duration.minutes(30),
    confirmTimeout: props?.confirmTimeout ?? Duration.hours(1),
    databaseKey: props?.databaseKey,
  };
  const fail = (prop: string, problem: string) => {
    throw new Error(`ReleaseFlow: rollback.${prop} ${problem}`);
  };
  if (r.pollInterval.toSeconds() < 1 || r.pollInterval.toSeconds() >= r.renameTimeout.toSeconds())
    fail('pollInterval', 'must be at least 1 s and shorter than rollback.renameTimeout');
  if (r.renameTimeout.toSeconds() > r.restoreTimeout.toSeconds())
    fail('renameTimeout', 'must not be longer than rollback.restoreTimeout');
  const confirm = r.confirmTimeout.toSeconds({ integral: false });
  if (!Number.isInteger(confirm) || confirm < 60)
    fail('confirmTimeout', 'must be a whole number of seconds, at least a minute');
  const longest =
    r.restoreTimeout.toSeconds() +
    confirm +
    2 * r.renameTimeout.toSeconds() +
    limits.deployTimeout.toSeconds();
  if (limits.releaseTimeout.toSeconds() <= longest)
    fail(
      'restoreTimeout',
      'with the confirmation, two renames and the deploy must fit in releaseTimeout (the rollback state machine’s limit, and the release lock’s)',
    );
  return r;
}

/** The restore function's environment: what functions/restore/config.ts reads. */
export function restoreEnvironment(
  database: RollbackDatabase,
  settings: ResolvedRollback,
): Record<string, string> {
  return {
    DB_KIND: database.kind,
    DB_IDENTIFIER: database.identifier,
    RESTORE_TIMEOUT_SECONDS: String(settings.restoreTimeout.toSeconds()),
    RENAME_TIMEOUT_SECONDS: String(settings.renameTimeout.toSeconds()),
  };
}

/** Least privilege for the restore function; see the module comment. */
export function grantRestore(
  fn: lambda.Function,
  database: RollbackDatabase,
  settings: ResolvedRollback,
  snapshotPrefix: string,
  xray: string,
): void {
  const stack = Stack.of(fn);
  const rds = (resource: string, resourceName: string) =>
    stack.formatArn({ service: 'rds', resource, resourceName, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  const id = database.identifier;
  const [type, snapshotType] =
    database.kind === 'instance' ? ['db', 'snapshot'] : ['cluster', 'cluster-snapshot'];
  const self = rds(type, id);
  const namesakes = rds(type, `${id}-*`);
  const snapshots = rds(snapshotType, `${snapshotPrefix}-*`);
  const groups = [
    rds('subgrp', '*'),
    rds('og', '*'),
    rds(database.kind === 'instance' ? 'pg' : 'cluster-pg', '*'),
  ];
  const allow = (actions: string[], resources: string[]) =>
    fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources }));
  if (database.kind === 'instance') {
    allow(['rds:DescribeDBInstances', 'rds:ModifyDBInstance'], [self, namesakes]);
    allow(['rds:DescribeDBSnapshots'], [snapshots]);
    allow(['rds:RestoreDBInstanceFromDBSnapshot'], [namesakes, snapshots, ...groups]);
    allow(['rds:AddTagsToResource'], [namesakes]);
  } else {
    const members = rds('db', `${id}-*`);
    allow(['rds:DescribeDBClusters', 'rds:ModifyDBCluster'], [self, namesakes]);
    allow(['rds:DescribeDBClusterSnapshots'], [snapshots]);
    allow(['rds:RestoreDBClusterFromSnapshot'], [namesakes, snapshots, ...groups]);
    // The original members' names come from DescribeDBClusters at run time: their configuration is read, never changed.
    allow(['rds:DescribeDBInstances'], [rds('db', '*')]);
    allow(['rds:CreateDBInstance'], [members, namesakes, rds('pg', '*'), rds('og', '*'), rds('subgrp', '*')]);
    allow(['rds:AddTagsToResource'], [namesakes, members]);
    acknowledgeWildcard(
      fn.role,
      rds('db', '*'),
      'rds:DescribeDBInstances only (read-only): the original cluster’s members, named by DescribeDBClusters at run time, are read to create the restored cluster’s members alike.',
    );
    acknowledgeWildcard(
      fn.role,
      members,
      'A restored cluster’s members are `<cluster>-restored-<time>-<n>`, named at run time: created and tagged under the cluster’s own name only.',
    );
  }
  if (settings.databaseKey) {
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:CreateGrant', 'kms:DescribeKey'],
        resources: [settings.databaseKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `rds.${Aws.REGION}.amazonaws.com` } },
      }),
    );
  }
  acknowledgeWildcard(fn.role, '*', xray);
  acknowledgeWildcard(
    fn.role,
    namesakes,
    `A rollback restores into \`${'<id>'}-restored-<time>\` and renames the original to \`<id>-before-<time>\`, names made at run time: only this database’s own namesakes, never another database.`,
  );
  acknowledgeWildcard(
    fn.role,
    snapshots,
    `Only lockstep’s own snapshots (\`${snapshotPrefix}-*\`, named per release) may be described and restored from.`,
  );
  for (const group of groups)
    acknowledgeWildcard(
      fn.role,
      group,
      'The restore attaches the original’s subnet group, option group and parameter group, read from it at run time; attaching changes nothing in them.',
    );
}

export interface RollbackMachineProps {
  readonly name: string;
  readonly functions: Pick<RollbackDefinitionProps, 'preflight' | 'restore' | 'deploy'> & {
    /** Asks for the confirmation before the switch (functions/approval). */
    readonly approval: lambda.IFunction;
  };
  readonly alertTopic: sns.ITopic;
  readonly alertKey: kms.IKey | undefined;
  readonly lockTable: dynamodb.ITable;
  readonly records: RollbackDefinitionProps['records'];
  readonly settings: ResolvedRollback;
  readonly deployPollInterval: Duration;
  readonly timeout: Duration;
  readonly logRetention: logs.RetentionDays;
}

/** The rollback state machine with its execution log group, allowed to alert. */
export function createRollbackStateMachine(scope: Construct, props: RollbackMachineProps): sfn.StateMachine {
  // As the release's: a /aws/vendedlogs/ name keeps the CloudWatch Logs resource policy small.
  const logGroup = new logs.LogGroup(scope, 'RollbackExecutionLogs', {
    logGroupName: `/aws/vendedlogs/states/${props.name}`,
    retention: props.logRetention,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const stateMachine = new sfn.StateMachine(scope, 'RollbackStateMachine', {
    stateMachineName: props.name,
    stateMachineType: sfn.StateMachineType.STANDARD,
    definitionBody: sfn.DefinitionBody.fromChainable(
      buildRollbackDefinition(new Construct(scope, 'RollbackDefinition'), {
        preflight: props.functions.preflight,
        restore: props.functions.restore,
        deploy: props.functions.deploy,
        confirm: { fn: props.functions.approval, timeout: props.settings.confirmTimeout },
        alertTopic: props.alertTopic,
        lockTable: props.lockTable,
        records: props.records,
        pollInterval: props.settings.pollInterval,
        deployPollInterval: props.deployPollInterval,
        functionTimeout: Duration.seconds(60),
      }),
    ),
    timeout: props.timeout,
    tracingEnabled: true,
    logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
  });
  props.alertKey?.grant(stateMachine, 'kms:Decrypt', 'kms:GenerateDataKey');
  for (const fn of Object.values(props.functions))
    acknowledgeWildcard(
      stateMachine.role,
      `${fn.functionArn}:*`,
      'The LambdaInvoke tasks grant the function and its versions and aliases (`<arn>:*`); only the preflight, restore, approval and deploy functions are named.',
    );
  acknowledgeWildcard(stateMachine.role, '*', STATE_MACHINE_WILDCARD_REASON);
  return stateMachine;
}
