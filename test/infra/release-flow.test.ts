import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { App, type CfnElement, Duration, Size, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as rds from 'aws-cdk-lib/aws-rds';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { IConstruct } from 'constructs';
import {
  type CommandMigrationsProps,
  MigrationsSource,
  ReleaseDatabase,
  ReleaseFlow,
  type ReleaseFlowProps,
} from '../../infra/constructs/release-flow.ts';
import { ReleaseStack } from '../../infra/release-stack.ts';
import { resolveValue } from '../../rehearsal/definition.ts';

const repoRoot = resolve(import.meta.dirname, '..', '..');

interface AslValidation {
  readonly isValid: boolean;
  readonly errorsText: (separator?: string) => string;
}
// asl-validator ships no type declarations.
const aslValidator = createRequire(import.meta.url)('asl-validator') as (
  definition: unknown,
) => AslValidation;

// ---------------------------------------------------------------------------------------------------------
// Building and reading templates

/** A minimal stack around one ReleaseFlow; `overrides` replace its props. Bundling is skipped unless `bundle`. */
function buildFlow(
  overrides: Partial<ReleaseFlowProps> = {},
  options: { readonly cluster?: boolean; readonly isolated?: boolean; readonly bundle?: boolean } = {},
): { app: App; stack: Stack; flow: ReleaseFlow; template: Template } {
  const app = new App(options.bundle ? {} : { context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Test');
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 2,
    natGateways: 1,
    ...(options.isolated
      ? {
          subnetConfiguration: [
            { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
            { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
            { name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
          ],
        }
      : {}),
  });
  const { database, secret } = options.cluster
    ? (() => {
        const cluster = new rds.DatabaseCluster(stack, 'Cluster', {
          engine: rds.DatabaseClusterEngine.auroraPostgres({
            version: rds.AuroraPostgresEngineVersion.VER_17_4,
          }),
          writer: rds.ClusterInstance.serverlessV2('writer'),
          vpc,
        });
        return { database: ReleaseDatabase.cluster(cluster), secret: cluster.secret };
      })()
    : (() => {
        const instance = new rds.DatabaseInstance(stack, 'Database', {
          engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 }),
          vpc,
          port: 5433,
          storageEncrypted: true,
          credentials: rds.Credentials.fromGeneratedSecret('app_owner'),
        });
        return { database: ReleaseDatabase.instance(instance), secret: instance.secret };
      })();
  assert.ok(secret);
  const cluster = new ecs.Cluster(stack, 'EcsCluster', { vpc });
  const taskDefinition = new ecs.FargateTaskDefinition(stack, 'Task');
  taskDefinition.addContainer('app', { image: ecs.ContainerImage.fromRegistry('example/app:v1') });
  const service = new ecs.FargateService(stack, 'Service', { cluster, taskDefinition });
  const flow = new ReleaseFlow(stack, 'Release', {
    database,
    databaseSecret: secret,
    vpc,
    service,
    containerName: 'app',
    migrations: MigrationsSource.bundled(join(repoRoot, 'migrations')),
    ...overrides,
  });
  return { app, stack, flow, template: Template.fromStack(stack) };
}

/** A construct's logical ID; asserts it exists (the migrate function and its security group are the SQL flow's). */
const logicalId = (construct: IConstruct | undefined) => {
  assert.ok(construct, 'the construct exists');
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
};

/** A CloudFormation value as text: `Ref X` → `<X>`, `Fn::GetAtt [X, A]` → `<X.A>`, joins concatenated. */
function flat(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(flat);
  if (value === null || typeof value !== 'object') return value;
  const o = value as Record<string, unknown>;
  if ('Fn::Join' in o) {
    const [separator, items] = o['Fn::Join'] as [string, unknown[]];
    return items.map(flat).join(separator);
  }
  if ('Ref' in o) return `<${String(o.Ref)}>`;
  if ('Fn::GetAtt' in o) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, flat(v)]));
}

interface Statement {
  readonly Action: string | string[];
  readonly Resource: string | string[];
  readonly Condition?: unknown;
  readonly Effect: string;
}

/** Every statement of the inline policies attached to `role`, with references flattened. */
function statementsOf(template: Template, role: IConstruct | undefined): Statement[] {
  assert.ok(role, 'the function has a role');
  const roleId = logicalId(role);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
    (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId),
  );
  return policies.flatMap((p) => flat(p.Properties.PolicyDocument.Statement) as Statement[]);
}

/** The statements that grant `action`, as `{ Action, Resource, Condition }` with arrays normalized. */
function grantsOf(statements: Statement[], action: string) {
  const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);
  return statements
    .filter((s) => list(s.Action).includes(action))
    .map((s) => ({ Action: list(s.Action), Resource: list(s.Resource), Condition: s.Condition }));
}

const ARN = (service: string, resource: string) =>
  `arn:<AWS::Partition>:${service}:<AWS::Region>:<AWS::AccountId>:${resource}`;

interface Asl {
  readonly StartAt: string;
  readonly TimeoutSeconds?: number;
  readonly States: Record<string, AslState>;
}
interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly Parameters?: Record<string, unknown>;
  readonly Retry?: { ErrorEquals: string[] }[];
  readonly Catch?: { ErrorEquals: string[]; Next: string }[];
}

/**
 * The state machine's definition as ASL: the DefinitionString resolved as the rehearsal resolves it, with placeholders —
 * pseudo-parameters as sample values, `Ref X` as an SNS topic ARN named X, `Fn::GetAtt [X, Arn]` as a
 * Lambda function ARN named X.
 */
function definitionOf(template: Template): Asl {
  const machine = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0];
  assert.ok(machine, 'the template has a state machine');
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': 'eu-west-1',
    'AWS::AccountId': '123456789012',
    'AWS::URLSuffix': 'amazonaws.com',
  };
  const text = resolveValue(
    machine.Properties.DefinitionString,
    (ref) =>
      ref.attribute
        ? `arn:aws:lambda:eu-west-1:123456789012:function:${ref.id}`
        : `arn:aws:sns:eu-west-1:123456789012:${ref.id}`,
    template.toJSON().Conditions,
    pseudo,
  ) as string;
  return JSON.parse(text) as Asl;
}

const lambdaTasks = (definition: Asl) =>
  Object.entries(definition.States).filter(
    ([, s]) => s.Type === 'Task' && String(s.Resource).startsWith('arn:aws:lambda:'),
  );

/** The name the state machine is given at synth. */
function stateMachineNameOf(template: Template, flow: ReleaseFlow): string {
  return template.findResources('AWS::StepFunctions::StateMachine')[logicalId(flow.stateMachine)]?.Properties
    .StateMachineName;
}

let example: { template: Template; stack: ReleaseStack; flow: ReleaseFlow } | undefined;
/** The example stack (bundled migrations), synthesized once. */
function exampleStack() {
  if (!example) {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new ReleaseStack(app, 'Example', { repoRoot, migrationsSource: 'bundled' });
    example = { stack, flow: stack.releaseFlow, template: Template.fromStack(stack) };
  }
  return example;
}

// ---------------------------------------------------------------------------------------------------------

describe('IAM scopes', () => {
  test('the snapshot function creates, tags, describes and deletes only this instance’s lockstep snapshots', () => {
    const { template, stack, flow } = exampleStack();
    const statements = statementsOf(template, flow.functions.snapshot.role);
    const db = ARN('rds', `db:<${logicalId(stack.node.findChild('Database'))}>`);
    const snapshots = ARN('rds', 'snapshot:lockstep-*');

    assert.deepEqual(grantsOf(statements, 'rds:CreateDBSnapshot'), [
      { Action: ['rds:CreateDBSnapshot'], Resource: [db, snapshots], Condition: undefined },
    ]);
    assert.deepEqual(grantsOf(statements, 'rds:AddTagsToResource'), [
      { Action: ['rds:AddTagsToResource'], Resource: [snapshots], Condition: undefined },
    ]);
    // Listing the instance's manual snapshots may return anyone's: the read covers them all, the writes only lockstep's.
    assert.deepEqual(grantsOf(statements, 'rds:DescribeDBSnapshots'), [
      {
        Action: ['rds:DescribeDBSnapshots'],
        Resource: [db, ARN('rds', 'snapshot:*')],
        Condition: undefined,
      },
    ]);
    assert.deepEqual(grantsOf(statements, 'rds:DescribeDBInstances'), [
      { Action: ['rds:DescribeDBInstances'], Resource: [db], Condition: undefined },
    ]);
    assert.deepEqual(grantsOf(statements, 'rds:DeleteDBSnapshot'), [
      {
        Action: ['rds:DeleteDBSnapshot'],
        Resource: [snapshots],
        Condition: { StringEquals: { 'aws:ResourceTag/lockstep:managed': 'true' } },
      },
    ]);
    const rdsActions = statements.flatMap((s) => [s.Action].flat()).filter((a) => a.startsWith('rds:'));
    assert.deepEqual(rdsActions.sort(), [
      'rds:AddTagsToResource',
      'rds:CreateDBSnapshot',
      'rds:DeleteDBSnapshot',
      'rds:DescribeDBInstances',
      'rds:DescribeDBSnapshots',
    ]);
  });

  test('an Aurora cluster gets CreateDBClusterSnapshot on the cluster and its cluster-snapshot ARNs', () => {
    const { template, flow, stack } = buildFlow({}, { cluster: true });
    const statements = statementsOf(template, flow.functions.snapshot.role);
    const cluster = ARN('rds', `cluster:<${logicalId(stack.node.findChild('Cluster'))}>`);
    const snapshots = ARN('rds', 'cluster-snapshot:lockstep-*');

    assert.deepEqual(grantsOf(statements, 'rds:CreateDBClusterSnapshot'), [
      { Action: ['rds:CreateDBClusterSnapshot'], Resource: [cluster, snapshots], Condition: undefined },
    ]);
    assert.deepEqual(grantsOf(statements, 'rds:DescribeDBClusterSnapshots')[0]?.Resource, [
      cluster,
      ARN('rds', 'cluster-snapshot:*'),
    ]);
    assert.deepEqual(grantsOf(statements, 'rds:DescribeDBClusters')[0]?.Resource, [cluster]);
    assert.deepEqual(grantsOf(statements, 'rds:DeleteDBClusterSnapshot')[0]?.Resource, [snapshots]);
    assert.deepEqual(grantsOf(statements, 'rds:AddTagsToResource')[0]?.Resource, [snapshots]);
    assert.equal(grantsOf(statements, 'rds:CreateDBSnapshot').length, 0);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { DB_KIND: 'cluster' } },
    });
  });

  test('the deploy function updates only its service and passes only the task roles, to ECS tasks', () => {
    const { template, stack, flow } = exampleStack();
    const statements = statementsOf(template, flow.functions.deploy.role);
    const service = stack.node.findChild('AppService');
    const task = stack.node.findChild('AppTask') as ecs.FargateTaskDefinition;

    assert.deepEqual(grantsOf(statements, 'ecs:UpdateService'), [
      {
        Action: ['ecs:DescribeServices', 'ecs:UpdateService'],
        Resource: [`<${logicalId(service)}>`],
        Condition: undefined,
      },
    ]);
    assert.deepEqual(grantsOf(statements, 'ecs:RegisterTaskDefinition'), [
      {
        Action: ['ecs:RegisterTaskDefinition'],
        Resource: [ARN('ecs', `task-definition/${task.family}:*`)],
        Condition: undefined,
      },
    ]);
    assert.deepEqual(grantsOf(statements, 'ecs:DescribeTaskDefinition'), [
      { Action: ['ecs:DescribeTaskDefinition'], Resource: ['*'], Condition: undefined },
    ]);
    assert.deepEqual(grantsOf(statements, 'ecs:TagResource'), [
      {
        Action: ['ecs:TagResource'],
        Resource: [ARN('ecs', `task-definition/${task.family}:*`)],
        Condition: { StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } },
      },
    ]);
    assert.deepEqual(grantsOf(statements, 'iam:PassRole'), [
      {
        Action: ['iam:PassRole'],
        Resource: [`<${logicalId(task.taskRole)}.Arn>`, `<${logicalId(task.obtainExecutionRole())}.Arn>`],
        Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      },
    ]);
  });

  test('the migrate function reads only the database secret, and the S3 migrations only under the prefix', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new ReleaseStack(app, 'S3Example', { repoRoot, migrationsSource: 's3' });
    const template = Template.fromStack(stack);
    const bucket = `<${logicalId(stack.migrationsBucket as s3.Bucket)}.Arn>`;
    const secret = stack.node.findChild('Database').node.findChild('Secret').node.findChild('Attachment');

    for (const fn of [stack.releaseFlow.functions.migrate, stack.releaseFlow.functions.preflight]) {
      const statements = statementsOf(template, fn?.role);
      assert.deepEqual(grantsOf(statements, 's3:GetObject'), [
        { Action: ['s3:GetObject'], Resource: [`${bucket}/migrations/*`], Condition: undefined },
      ]);
      assert.deepEqual(grantsOf(statements, 's3:ListBucket'), [
        { Action: ['s3:ListBucket'], Resource: [bucket], Condition: undefined },
      ]);
      const s3Actions = statements.flatMap((s) => [s.Action].flat()).filter((a) => a.startsWith('s3:'));
      assert.deepEqual(s3Actions.sort(), ['s3:GetObject', 's3:ListBucket']);
    }
    const migrate = statementsOf(template, stack.releaseFlow.functions.migrate?.role);
    assert.deepEqual(grantsOf(migrate, 'secretsmanager:GetSecretValue'), [
      {
        Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
        Resource: [`<${logicalId(secret)}>`],
        Condition: undefined,
      },
    ]);
    const preflight = statementsOf(template, stack.releaseFlow.functions.preflight.role);
    assert.equal(grantsOf(preflight, 'secretsmanager:GetSecretValue').length, 0);
  });

  test('preflight may take the release lock and describe the release’s and the rollback’s executions, and no other', () => {
    const { template, flow } = exampleStack();
    const statements = statementsOf(template, flow.functions.preflight.role);
    const machines = template.findResources('AWS::StepFunctions::StateMachine');
    const name = machines[logicalId(flow.stateMachine)]?.Properties.StateMachineName as string;
    const rollback = machines[logicalId(flow.rollbackStateMachine)]?.Properties.StateMachineName as string;

    assert.deepEqual(grantsOf(statements, 'states:DescribeExecution'), [
      {
        Action: ['states:DescribeExecution'],
        Resource: [ARN('states', `execution:${name}:*`), ARN('states', `execution:${rollback}:*`)],
        Condition: undefined,
      },
    ]);
    assert.equal(rollback, `${name}-rollback`);
    assert.deepEqual(grantsOf(statements, 'dynamodb:PutItem'), [
      {
        Action: ['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:DeleteItem'],
        Resource: [`<${logicalId(flow.lockTable)}.Arn>`],
        Condition: undefined,
      },
    ]);
    assert.equal(grantsOf(statements, 'states:ListExecutions').length, 0);
    assert.match(name, /^Example-Release-/);
  });

  test('the lock table: one item per database, billed per request, expiring items, point-in-time recovery', () => {
    const { template, flow } = exampleStack();
    const table = template.findResources('AWS::DynamoDB::Table')[logicalId(flow.lockTable)]?.Properties;
    assert.deepEqual(table?.KeySchema, [{ AttributeName: 'lockId', KeyType: 'HASH' }]);
    assert.equal(table?.BillingMode, 'PAY_PER_REQUEST');
    assert.deepEqual(table?.TimeToLiveSpecification, { AttributeName: 'expiresAt', Enabled: true });
    assert.deepEqual(table?.PointInTimeRecoverySpecification, { PointInTimeRecoveryEnabled: true });
  });

  test('the state machine invokes only its four functions and publishes only to its topic, with its key', () => {
    const { template, flow } = exampleStack();
    const statements = statementsOf(template, flow.stateMachine.role);
    const invoked = grantsOf(statements, 'lambda:InvokeFunction').flatMap((s) => s.Resource);
    // The restore function is the rollback state machine's alone, and so is the approval function without a gate.
    const { restore: _, approval: __, ...releaseFunctions } = flow.functions;
    const functions = Object.values(releaseFunctions).map((fn) => `<${logicalId(fn)}.Arn>`);

    assert.deepEqual(invoked.sort(), [...functions, ...functions.map((f) => `${f}:*`)].sort());
    assert.deepEqual(grantsOf(statements, 'sns:Publish'), [
      { Action: ['sns:Publish'], Resource: [`<${logicalId(flow.alertTopic)}>`], Condition: undefined },
    ]);
    const key = flow.node.findChild('AlertKey');
    assert.deepEqual(grantsOf(statements, 'kms:GenerateDataKey'), [
      {
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: [`<${logicalId(key)}.Arn>`],
        Condition: undefined,
      },
    ]);
  });

  test('no role of the construct carries an AWS managed policy', () => {
    const { template } = exampleStack();
    const roles = Object.entries(template.findResources('AWS::IAM::Role')).filter(([id]) =>
      id.startsWith('Release'),
    );
    assert.ok(roles.length >= 5);
    for (const [id, role] of roles) assert.equal(role.Properties.ManagedPolicyArns, undefined, id);
  });
});

describe('network', () => {
  test('the migrate function runs in the private subnets, reaching the database on its port only', () => {
    const { template, stack, flow } = exampleStack();
    const migrateSg = logicalId(flow.migrateSecurityGroup);
    const database = logicalId(stack.node.findChild('Database'));
    const dbSg = logicalId(stack.node.findChild('Database').node.findChild('SecurityGroup'));
    const vpc = stack.node.findChild('Vpc') as ec2.Vpc;
    const port = { 'Fn::GetAtt': [database, 'Endpoint.Port'] };

    const migrate = template.findResources('AWS::Lambda::Function')[logicalId(flow.functions.migrate)];
    assert.deepEqual(migrate?.Properties.VpcConfig, {
      SubnetIds: vpc.privateSubnets.map((s) => ({ Ref: logicalId(s) })),
      SecurityGroupIds: [{ 'Fn::GetAtt': [migrateSg, 'GroupId'] }],
    });
    const ingressFromMigrate = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')).filter(
      (r) => r.Properties.SourceSecurityGroupId?.['Fn::GetAtt']?.[0] === migrateSg,
    );
    assert.deepEqual(
      ingressFromMigrate.map((r) => r.Properties),
      [
        {
          Description: 'lockstep migrate function',
          GroupId: { 'Fn::GetAtt': [dbSg, 'GroupId'] },
          SourceSecurityGroupId: { 'Fn::GetAtt': [migrateSg, 'GroupId'] },
          IpProtocol: 'tcp',
          FromPort: port,
          ToPort: port,
        },
      ],
    );
    const sg = template.findResources('AWS::EC2::SecurityGroup')[migrateSg];
    assert.equal(sg?.Properties.SecurityGroupIngress, undefined);
    assert.deepEqual(sg?.Properties.SecurityGroupEgress, [
      {
        CidrIp: '0.0.0.0/0',
        Description: 'AWS APIs over HTTPS',
        FromPort: 443,
        IpProtocol: 'tcp',
        ToPort: 443,
      },
    ]);
    const egress = Object.values(template.findResources('AWS::EC2::SecurityGroupEgress')).filter(
      (r) => r.Properties.GroupId['Fn::GetAtt'][0] === migrateSg,
    );
    assert.deepEqual(
      egress.map((r) => [
        r.Properties.DestinationSecurityGroupId,
        r.Properties.FromPort,
        r.Properties.ToPort,
      ]),
      [[{ 'Fn::GetAtt': [dbSg, 'GroupId'] }, port, port]],
    );
  });
});

describe('VPC endpoints', () => {
  test('vpcEndpoints adds Secrets Manager (private DNS, HTTPS from the migrate function only) and S3 endpoints', () => {
    const { template, flow } = buildFlow({ vpcEndpoints: true });
    const endpoints = Object.values(template.findResources('AWS::EC2::VPCEndpoint')).map((e) => e.Properties);
    const secrets = endpoints.find((e) => JSON.stringify(e.ServiceName).includes('secretsmanager'));
    assert.equal(secrets?.VpcEndpointType, 'Interface');
    assert.equal(secrets?.PrivateDnsEnabled, true);
    assert.ok(
      endpoints.some((e) => JSON.stringify(e.ServiceName).includes('.s3') && e.VpcEndpointType === 'Gateway'),
    );
    const migrateSg = logicalId(flow.migrateSecurityGroup);
    const ingress = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress')).filter(
      (r) =>
        r.Properties.SourceSecurityGroupId?.['Fn::GetAtt']?.[0] === migrateSg &&
        r.Properties.FromPort === 443,
    );
    assert.equal(ingress.length, 1, 'HTTPS from the migrate function to the endpoint');
  });

  test('isolated subnets synthesize with vpcEndpoints', () => {
    assert.doesNotThrow(() =>
      buildFlow(
        { vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, vpcEndpoints: true },
        { isolated: true },
      ),
    );
  });
});

describe('functions', () => {
  test('all four run on nodejs24.x with tracing, and migrate loads the RDS CA bundle', () => {
    const { template, flow } = exampleStack();
    const functions = template.findResources('AWS::Lambda::Function');
    for (const fn of Object.values(flow.functions)) {
      const props = functions[logicalId(fn)]?.Properties;
      assert.equal(props?.Runtime, 'nodejs24.x');
      assert.deepEqual(props?.TracingConfig, { Mode: 'Active' });
    }
    const migrate = functions[logicalId(flow.functions.migrate)]?.Properties;
    assert.equal(migrate?.Environment.Variables.NODE_EXTRA_CA_CERTS, '/var/runtime/ca-cert.pem');
    assert.equal(migrate?.Timeout, 900);
  });

  test('the migrate function gets the engine settings the props name, with the documented defaults', () => {
    const functions = (t: Template) => t.findResources('AWS::Lambda::Function');
    const { template, flow } = exampleStack();
    assert.deepEqual(
      pick(functions(template)[logicalId(flow.functions.migrate)]?.Properties.Environment.Variables),
      {
        HISTORY_TABLE: 'lockstep.schema_history',
        LOCK_TIMEOUT_MS: '5000',
        LOCK_RETRIES: '5',
        STATEMENT_TIMEOUT_MS: '0',
        LINT_FAIL_ON: 'error',
        LINT_SMALL_TABLE_BYTES: String(10 * 1024 * 1024),
        LINT_LARGE_TABLE_BYTES: String(1024 ** 3),
        LINT_LONG_TRANSACTION_SECONDS: '60',
      },
    );
    const custom = buildFlow({
      historyTable: 'app.migrations',
      lockTimeout: Duration.seconds(2),
      lockRetries: 0,
      statementTimeout: Duration.minutes(10),
      lint: { failOn: 'warning', largeTable: Size.gibibytes(50), longTransaction: Duration.minutes(5) },
    });
    assert.deepEqual(
      pick(
        functions(custom.template)[logicalId(custom.flow.functions.migrate)]?.Properties.Environment
          .Variables,
      ),
      {
        HISTORY_TABLE: 'app.migrations',
        LOCK_TIMEOUT_MS: '2000',
        LOCK_RETRIES: '0',
        STATEMENT_TIMEOUT_MS: '600000',
        LINT_FAIL_ON: 'warning',
        LINT_SMALL_TABLE_BYTES: String(10 * 1024 * 1024),
        LINT_LARGE_TABLE_BYTES: String(50 * 1024 ** 3),
        LINT_LONG_TRANSACTION_SECONDS: '300',
      },
    );
    function pick(vars: Record<string, string> | undefined) {
      const keys = [
        'HISTORY_TABLE',
        'LOCK_TIMEOUT_MS',
        'LOCK_RETRIES',
        'STATEMENT_TIMEOUT_MS',
        'LINT_FAIL_ON',
        'LINT_SMALL_TABLE_BYTES',
        'LINT_LARGE_TABLE_BYTES',
        'LINT_LONG_TRANSACTION_SECONDS',
      ];
      return Object.fromEntries(keys.map((k) => [k, vars?.[k]]));
    }
  });
});

describe('bundled migrations', () => {
  test('the migrate package holds the function, the migrations as checked at synth with their manifest, and no parser', () => {
    const { app, template, flow } = buildFlow({}, { bundle: true });
    const code =
      template.findResources('AWS::Lambda::Function')[logicalId(flow.functions.migrate)]?.Properties.Code;
    const asset = join(app.outdir, `asset.${String(code?.S3Key).replace(/\.zip$/, '')}`);
    const files = readdirSync(asset, { recursive: true }).map(String).sort();
    assert.deepEqual(
      files.filter((f) => !f.startsWith('migrations')),
      ['index.js'],
      'one JavaScript file, no WebAssembly beside it',
    );
    const sources = readdirSync(join(repoRoot, 'migrations')).filter((f) => f.endsWith('.sql'));
    assert.deepEqual(
      files.filter((f) => f.startsWith('migrations/')),
      [...sources.map((f) => `migrations/${f}`), 'migrations/manifest.json'].sort(),
    );
    const manifest = JSON.parse(readFileSync(join(asset, 'migrations', 'manifest.json'), 'utf8'));
    assert.equal(manifest.format, 'lockstep-migrations/2');
    assert.equal(
      manifest.release,
      undefined,
      'no release label or time: the same files make the same package',
    );
    assert.ok(manifest.files.every((f: { statements: unknown[] }) => f.statements.length > 0));
    assert.doesNotMatch(readFileSync(join(asset, 'index.js'), 'utf8'), /libpg-query|pg_query/);
  });
});

describe('alerts', () => {
  test('the topic is KMS-encrypted and refuses publishing without TLS', () => {
    const { template, flow } = exampleStack();
    const key = logicalId(flow.node.findChild('AlertKey'));
    const topic = template.findResources('AWS::SNS::Topic')[logicalId(flow.alertTopic)];
    assert.deepEqual(topic?.Properties.KmsMasterKeyId, { 'Fn::GetAtt': [key, 'Arn'] });
    const policies = Object.values(template.findResources('AWS::SNS::TopicPolicy'));
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
    assert.ok(
      statements.some(
        (s) =>
          s.Effect === 'Deny' &&
          s.Action === 'sns:Publish' &&
          s.Condition?.Bool?.['aws:SecureTransport'] === 'false' &&
          s.Resource?.Ref === logicalId(flow.alertTopic),
      ),
      'a Deny of sns:Publish without aws:SecureTransport',
    );
  });

  test('the topic policy lets the failure alarm publish (an SNS policy replaces the default one), and only it', () => {
    const { template, flow } = exampleStack();
    const statements = Object.values(template.findResources('AWS::SNS::TopicPolicy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement,
    );
    const fromCloudWatch = statements.filter((s) => s.Principal?.Service === 'cloudwatch.amazonaws.com');
    assert.ok(fromCloudWatch.length >= 1);
    const failure = fromCloudWatch.find(
      (s) => s.Condition?.ArnLike?.['aws:SourceArn']?.['Fn::GetAtt']?.[0] === logicalId(flow.failureAlarm),
    );
    assert.deepEqual(failure && { ...failure, Sid: undefined }, {
      Sid: undefined,
      Effect: 'Allow',
      Principal: { Service: 'cloudwatch.amazonaws.com' },
      Action: 'sns:Publish',
      Resource: { Ref: logicalId(flow.alertTopic) },
      Condition: {
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [logicalId(flow.failureAlarm), 'Arn'] } },
      },
    });
  });

  test('an imported topic with its own KMS key: the state machine gets the key, and synth warns about the policy', () => {
    const { stack, flow, template } = buildFlow({
      alertTopic: sns.Topic.fromTopicArn(
        new Stack(new App(), 'Other'),
        'Imported',
        'arn:aws:sns:eu-west-1:123456789012:alerts',
      ),
      alertTopicKey: kms.Key.fromKeyArn(
        new Stack(new App(), 'Keys'),
        'Key',
        'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      ),
    });
    const statements = statementsOf(template, flow.stateMachine.role);
    assert.deepEqual(grantsOf(statements, 'kms:GenerateDataKey')[0]?.Resource, [
      'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    ]);
    // The rollback state machine publishes its alerts with the same key.
    assert.deepEqual(
      grantsOf(statementsOf(template, flow.rollbackStateMachine.role), 'kms:GenerateDataKey')[0]?.Resource,
      ['arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'],
    );
    const warnings = Annotations.fromStack(stack).findWarning(
      '*',
      Match.stringLikeRegexp('alertTopic is imported'),
    );
    // One per alarm: the release's and the rollback's.
    assert.equal(warnings.length, 2);
  });

  test('the alarm sums failed, timed-out and aborted executions and notifies the topic', () => {
    const { template, flow } = exampleStack();
    const alarm = template.findResources('AWS::CloudWatch::Alarm')[logicalId(flow.failureAlarm)]?.Properties;
    assert.deepEqual(alarm?.AlarmActions, [{ Ref: logicalId(flow.alertTopic) }]);
    assert.equal(alarm?.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
    assert.equal(alarm?.Threshold, 1);
    assert.equal(alarm?.EvaluationPeriods, 1);
    assert.equal(alarm?.TreatMissingData, 'notBreaching');
    const metrics = alarm?.Metrics as {
      Id: string;
      Expression?: string;
      ReturnData?: boolean;
      MetricStat?: { Metric: { MetricName: string; Namespace: string; Dimensions: unknown[] }; Stat: string };
    }[];
    assert.equal(metrics.find((m) => m.Expression)?.Expression, 'failed + timedOut + aborted');
    const byId = Object.fromEntries(metrics.filter((m) => m.MetricStat).map((m) => [m.Id, m.MetricStat]));
    const machine = [{ Name: 'StateMachineArn', Value: { Ref: logicalId(flow.stateMachine) } }];
    assert.deepEqual(byId, {
      failed: {
        Metric: { MetricName: 'ExecutionsFailed', Namespace: 'AWS/States', Dimensions: machine },
        Period: 60,
        Stat: 'Sum',
      },
      timedOut: {
        Metric: { MetricName: 'ExecutionsTimedOut', Namespace: 'AWS/States', Dimensions: machine },
        Period: 60,
        Stat: 'Sum',
      },
      aborted: {
        Metric: { MetricName: 'ExecutionsAborted', Namespace: 'AWS/States', Dimensions: machine },
        Period: 60,
        Stat: 'Sum',
      },
    });
  });
});

describe('state machine', () => {
  test('logs to a log group under /aws/vendedlogs/ (CloudWatch Logs resource-policy size limit)', () => {
    const { template, flow } = exampleStack();
    const group = Object.values(template.findResources('AWS::Logs::LogGroup')).find((g) =>
      String(g.Properties.LogGroupName ?? '').startsWith('/aws/vendedlogs/states/'),
    );
    assert.ok(group, 'the execution log group');
    assert.equal(
      group.Properties.LogGroupName,
      `/aws/vendedlogs/states/${stateMachineNameOf(template, flow)}`,
    );
  });

  test('is a Standard workflow that logs everything to a retained log group, traces, and times out', () => {
    const { template, flow } = exampleStack();
    const machine = template.findResources('AWS::StepFunctions::StateMachine')[logicalId(flow.stateMachine)];
    const props = machine?.Properties;
    assert.equal(props?.StateMachineType, 'STANDARD');
    assert.deepEqual(props?.TracingConfiguration, { Enabled: true });
    assert.equal(props?.LoggingConfiguration.Level, 'ALL');
    assert.equal(props?.LoggingConfiguration.IncludeExecutionData, true);
    const logGroupId =
      props?.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'][0];
    const logGroup = template.findResources('AWS::Logs::LogGroup')[logGroupId];
    assert.equal(logGroup?.Properties.RetentionInDays, 90);
    assert.equal(definitionOf(template).TimeoutSeconds, 6 * 3600);
  });

  test('every Lambda task retries AWS’s transient Lambda errors with backoff', () => {
    const definition = definitionOf(exampleStack().template);
    const tasks = lambdaTasks(definition);
    assert.deepEqual(tasks.map(([name]) => name).sort(), [
      'Create snapshot',
      'Migrate',
      'Migrate after deploy',
      'Plan',
      'Preflight',
      'Prune snapshots',
      'Rollout status',
      'Snapshot status',
      'Start deploy',
    ]);
    for (const [name, state] of tasks) {
      const transient = state.Retry?.find((r) => r.ErrorEquals.includes('Lambda.ServiceException')) as
        | { ErrorEquals: string[]; BackoffRate?: number; MaxAttempts?: number }
        | undefined;
      assert.ok(transient, `${name} retries Lambda.ServiceException`);
      for (const error of [
        'Lambda.AWSLambdaException',
        'Lambda.SdkClientException',
        'Lambda.TooManyRequestsException',
      ]) {
        assert.ok(transient.ErrorEquals.includes(error), `${name} retries ${error}`);
      }
      assert.ok((transient.BackoffRate ?? 0) > 1, `${name} backs off`);
      assert.ok((transient.MaxAttempts ?? 0) > 1);
    }
  });

  test('Migrate and Plan retry a held migration lock; table-lock retries are the engine’s alone; no task retries a failed migration', () => {
    const definition = definitionOf(exampleStack().template);
    for (const name of ['Migrate', 'Plan']) {
      const errors = definition.States[name]?.Retry?.flatMap((r) => r.ErrorEquals) ?? [];
      assert.ok(errors.includes('LockTimeoutError'), `${name} retries LockTimeoutError`);
    }
    for (const [name, state] of Object.entries(definition.States)) {
      const errors = state.Retry?.flatMap((r) => r.ErrorEquals) ?? [];
      for (const final of [
        'MigrationFailedError',
        'ChecksumMismatchError',
        'LockNotAvailableError',
        'DatabaseStoppedError',
        'States.ALL',
      ]) {
        assert.ok(!errors.includes(final), `${name} must not retry ${final}`);
      }
    }
  });

  test('every main task catches everything into an alert, and the alert path ends in the Fail state', () => {
    const definition = definitionOf(exampleStack().template);
    for (const [name, state] of lambdaTasks(definition)) {
      const all = state.Catch?.find((c) => c.ErrorEquals.includes('States.ALL'));
      assert.ok(all, `${name} has a Catch for States.ALL`);
      const expected = name === 'Prune snapshots' ? 'Describe prune failure' : `Alert: ${name.toLowerCase()}`;
      assert.equal(all.Next, expected);
    }
    assert.equal(definition.States['Send alert']?.Type, 'Task');
    assert.equal(definition.States['Release failed']?.Type, 'Fail');
  });

  test('the synthesized definition passes asl-validator, with and without snapshots and success notices', () => {
    const variants = [
      exampleStack().template,
      buildFlow({ snapshot: { enabled: false }, notifyOnSuccess: true }).template,
    ];
    for (const template of variants) {
      const result = aslValidator(definitionOf(template));
      assert.equal(result.isValid, true, result.errorsText('\n'));
    }
  });

  test('snapshot.enabled false leaves the snapshot states out', () => {
    const { template, flow } = buildFlow({ snapshot: { enabled: false } });
    const states = Object.keys(definitionOf(template).States);
    for (const name of [
      'Create snapshot',
      'Wait for snapshot',
      'Snapshot status',
      'Snapshot available?',
      'Prune snapshots',
    ]) {
      assert.ok(!states.includes(name), `${name} is absent`);
    }
    assert.ok(states.includes('Migrate') && states.includes('Start deploy'));
    assert.ok(flow.stateMachine);
  });
});

describe('invalid props fail at synth, naming the prop', () => {
  const cases: [string, Partial<ReleaseFlowProps>, RegExp][] = [
    ['snapshot.keep 0', { snapshot: { keep: 0 } }, /ReleaseFlow: snapshot\.keep/],
    [
      'a snapshot poll interval as long as the snapshot timeout',
      { snapshot: { pollInterval: Duration.minutes(10), timeout: Duration.minutes(10) } },
      /ReleaseFlow: snapshot\.pollInterval/,
    ],
    [
      'a deploy poll interval longer than the deploy timeout',
      { deployPollInterval: Duration.minutes(31) },
      /ReleaseFlow: deployPollInterval/,
    ],
    [
      'a migrate timeout over 15 minutes',
      { migrateTimeout: Duration.minutes(16) },
      /ReleaseFlow: migrateTimeout/,
    ],
    [
      'a release timeout shorter than its steps',
      { releaseTimeout: Duration.hours(2) },
      /ReleaseFlow: releaseTimeout/,
    ],
    ['an empty container name', { containerName: ' ' }, /ReleaseFlow: containerName/],
    ['a history table without a schema', { historyTable: 'history' }, /ReleaseFlow: historyTable/],
    [
      'isolated subnets without VPC endpoints',
      { vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } },
      /ReleaseFlow: vpcEndpoints must be true when vpcSubnets selects isolated subnets/,
    ],
    ['a lock timeout of a minute', { lockTimeout: Duration.minutes(1) }, /ReleaseFlow: lockTimeout/],
    ['negative lock retries', { lockRetries: -1 }, /ReleaseFlow: lockRetries/],
    [
      'a lint small-table threshold above the large one',
      { lint: { smallTable: Size.gibibytes(2) } },
      /ReleaseFlow: lint\.smallTable/,
    ],
    [
      'an empty migration command',
      { migrations: MigrationsSource.command({ command: [] }) },
      /ReleaseFlow: migrations\.command command must be a non-empty list/,
    ],
    [
      'a migration command with an empty word',
      { migrations: MigrationsSource.command({ command: ['python', ''] }) },
      /ReleaseFlow: migrations\.command command/,
    ],
    [
      'a migration container name with a space',
      { migrations: MigrationsSource.command({ command: ['migrate'], container: 'my app' }) },
      /ReleaseFlow: migrations\.command container/,
    ],
    [
      'a migration timeout under a minute',
      { migrations: MigrationsSource.command({ command: ['migrate'], timeout: Duration.seconds(59) }) },
      /ReleaseFlow: migrations\.command timeout/,
    ],
    [
      'a migration timeout in fractions of a second',
      { migrations: MigrationsSource.command({ command: ['migrate'], timeout: Duration.millis(90_500) }) },
      /ReleaseFlow: migrations\.command timeout/,
    ],
    [
      'PGOPTIONS set through the environment',
      {
        migrations: MigrationsSource.command({ command: ['migrate'], environment: { PGOPTIONS: '-c x=1' } }),
      },
      /ReleaseFlow: migrations\.command environment sets PGOPTIONS: use pgOptions/,
    ],
    [
      'an environment variable name that is not one',
      { migrations: MigrationsSource.command({ command: ['migrate'], environment: { 'A-B': '1' } }) },
      /ReleaseFlow: migrations\.command environment names a variable "A-B"/,
    ],
    [
      'empty PGOPTIONS',
      { migrations: MigrationsSource.command({ command: ['migrate'], pgOptions: ' ' }) },
      /ReleaseFlow: migrations\.command pgOptions/,
    ],
    [
      'a fractional CPU override',
      { migrations: MigrationsSource.command({ command: ['migrate'], cpu: 0.5 }) },
      /ReleaseFlow: migrations\.command cpu/,
    ],
    [
      'a zero memory override',
      { migrations: MigrationsSource.command({ command: ['migrate'], memory: 0 }) },
      /ReleaseFlow: migrations\.command memory/,
    ],
    [
      'a migration timeout the release timeout does not cover',
      {
        migrations: MigrationsSource.command({ command: ['migrate'], timeout: Duration.hours(4) }),
        releaseTimeout: Duration.hours(6),
      },
      /ReleaseFlow: releaseTimeout must be longer than .* the snapshot, migration command and deploy timeouts together/,
    ],
  ];
  for (const [what, props, error] of cases) {
    test(what, () => {
      assert.throws(() => buildFlow(props), error);
    });
  }

  test('a bundled migration that cannot run as written fails the synth, naming file, line and column', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-bad-sql-'));
    try {
      writeFileSync(join(dir, '0001_ok.sql'), 'CREATE TABLE t (x int);\n');
      writeFileSync(join(dir, '0002_index.sql'), '-- add an index\nCREATE INDEX CONCURRENTLY i ON t (x);\n');
      assert.throws(
        () => buildFlow({ migrations: MigrationsSource.bundled(dir) }, { bundle: true }),
        (err: unknown) => {
          assert.ok(err instanceof Error);
          assert.equal(err.name, 'InvalidMigrationError');
          assert.match(
            err.message,
            /0002_index\.sql:2:1: CREATE INDEX CONCURRENTLY cannot run inside a transaction/,
          );
          return true;
        },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a bundled directory without .sql files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-no-sql-'));
    try {
      writeFileSync(join(dir, 'README.md'), 'not a migration');
      assert.throws(
        () => buildFlow({ migrations: MigrationsSource.bundled(dir) }),
        /ReleaseFlow: migrations bundled directory .* holds no \.sql files/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('command mode (MigrationsSource.command)', () => {
  const commandFlow = (overrides: Partial<ReleaseFlowProps> = {}) =>
    buildFlow({
      migrations: MigrationsSource.command({
        command: ['python', 'manage.py', 'migrate'],
        timeout: Duration.hours(2),
        environment: { DJANGO_SETTINGS_MODULE: 'app.settings' },
        memory: 2048,
      }),
      ...overrides,
    });

  test('preflight → route → register → snapshot → run task → check → start deploy on the registered revision', () => {
    const { template } = commandFlow();
    const definition = definitionOf(template);
    const next = (name: string) => (definition.States[name] as { Next?: string } | undefined)?.Next;
    assert.equal(definition.StartAt, 'Preflight');
    // Through the release record's start (infra/constructs/release-records.ts).
    assert.equal(next(next(next('Preflight') ?? '') ?? ''), 'Route');
    assert.equal(next('Register revision'), 'Create snapshot');
    const ready = definition.States['Snapshot available?'] as unknown as { Choices: { Next: string }[] };
    assert.equal(ready.Choices[0]?.Next, 'Run migration task');
    assert.equal(next('Run migration task'), 'Check migration task');
    assert.equal(next('Check migration task'), 'Start deploy');
    assert.equal(definition.States.Plan, undefined);
    assert.equal(definition.States.Migrate, undefined);
    const start = definition.States['Start deploy']?.Parameters as Record<string, unknown>;
    assert.equal(start['taskDefinitionArn.$'], '$.revision.taskDefinitionArn');
    const register = definition.States['Register revision']?.Parameters as Record<string, unknown>;
    assert.equal(register.action, 'register');
    const run = definition.States['Run migration task'] as unknown as {
      Resource: string;
      TimeoutSeconds: number;
      Parameters: { Overrides: { Memory: string; ContainerOverrides: Record<string, unknown>[] } };
    };
    assert.match(run.Resource, /:states:::ecs:runTask\.sync$/);
    assert.equal(run.TimeoutSeconds, 7200);
    assert.equal(run.Parameters.Overrides.Memory, '2048');
    assert.deepEqual(run.Parameters.Overrides.ContainerOverrides[0], {
      Name: 'app',
      Command: ['python', 'manage.py', 'migrate'],
      Environment: [
        { Name: 'DJANGO_SETTINGS_MODULE', Value: 'app.settings' },
        { Name: 'PGOPTIONS', Value: '-c lock_timeout=5000' },
      ],
    });
    const check = definition.States['Check migration task'];
    assert.equal(
      check?.Catch?.find((c) => c.ErrorEquals.includes('States.ALL'))?.Next,
      'Alert: check migration task',
    );
    const alert = definition.States['Alert: check migration task'] as unknown as {
      Parameters: Record<string, string>;
    };
    assert.match(
      alert.Parameters['consequence.$'] ?? '',
      /in image \{\}.*\$\.release\.image, \$\.revision\.taskDefinitionArn/,
    );
    const validation = aslValidator(definition);
    assert.ok(validation.isValid, JSON.stringify(validation.errorsText?.('\n')));
  });

  test('no migrate function, nor its role, logs, security group or database access; no role may read the secret', () => {
    const { template, flow, stack } = commandFlow();

    const lockstepIds = Object.keys(template.toJSON().Resources).filter((id) => id.startsWith('Release'));
    const secretGrants = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) =>
      grantsOf(flat(p.Properties.PolicyDocument.Statement) as Statement[], 'secretsmanager:GetSecretValue'),
    );
    const inVpc = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (f) => f.Properties.VpcConfig !== undefined,
    );

    assert.deepEqual(Object.keys(flow.functions).sort(), [
      'approval',
      'deploy',
      'migrationTask',
      'preflight',
      'restore',
      'snapshot',
    ]);
    assert.equal(flow.migrateSecurityGroup, undefined);
    assert.deepEqual(
      lockstepIds.filter((id) => /^ReleaseMigrate/i.test(id)),
      [],
    );
    assert.deepEqual(inVpc, []);
    assert.deepEqual(secretGrants, []);
    assert.doesNotMatch(JSON.stringify(template.toJSON()), /lockstep migrate function/);
    assert.equal(
      Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('ignored in command mode')).length,
      0,
    );
  });

  test('vpcSubnets and vpcEndpoints do nothing in command mode: a warning says so, and isolated subnets synthesize', () => {
    const { template, stack } = commandFlow({
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    });

    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('command mode'));

    assert.equal(warnings.length, 1);
    assert.match(
      JSON.stringify(warnings[0]?.entry.data),
      /vpcSubnets and vpcEndpoints are ignored in command mode/,
    );
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
  });

  test('the migration-task function gets its environment, and may list and stop only the cluster’s tasks', () => {
    const { template, flow } = commandFlow();
    const fn = flow.functions.migrationTask as lambda.Function | undefined;
    assert.ok(fn);
    const props = template.findResources('AWS::Lambda::Function')[logicalId(fn)]?.Properties;
    const env = flat(props.Environment.Variables) as Record<string, string>;
    assert.equal(env.CONTAINER_NAME, 'app');
    assert.equal(env.MIGRATION_TIMEOUT_SECONDS, '7200');
    assert.match(env.ECS_CLUSTER ?? '', /^<EcsCluster[0-9A-F]+>$/);
    const clusterArn = (env.ECS_CLUSTER ?? '').replace('>', '.Arn>');
    const statements = statementsOf(template, fn.role);
    assert.deepEqual(grantsOf(statements, 'ecs:ListTasks'), [
      { Action: ['ecs:ListTasks'], Resource: ['*'], Condition: { ArnEquals: { 'ecs:cluster': clusterArn } } },
    ]);
    const stop = grantsOf(statements, 'ecs:StopTask');
    assert.equal(stop.length, 1);
    assert.deepEqual(stop[0]?.Resource, [ARN('ecs', `task/${env.ECS_CLUSTER}/*`)]);
  });

  test('the state machine may run the family’s revisions on the cluster and pass the task roles to ECS only', () => {
    const { template, flow } = commandFlow();
    const statements = statementsOf(template, flow.stateMachine.role);
    const runTask = grantsOf(statements, 'ecs:RunTask');
    assert.equal(runTask.length, 1);
    assert.match(String(runTask[0]?.Resource[0]), /:task-definition\/.+:\*$/);
    assert.ok(runTask[0]?.Condition);
    const passRole = grantsOf(statements, 'iam:PassRole');
    assert.ok(passRole.length >= 1);
    for (const grant of passRole)
      assert.deepEqual(grant.Condition, {
        StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' },
      });
    assert.equal(grantsOf(statements, 'events:PutRule').length, 1);
  });

  test('pgOptions false sets no PGOPTIONS; a container names where the command runs', () => {
    const { template } = commandFlow({
      migrations: MigrationsSource.command({ command: ['migrate'], pgOptions: false, container: 'migrator' }),
    });
    const run = definitionOf(template).States['Run migration task'] as unknown as {
      Parameters: { Overrides: { ContainerOverrides: Record<string, unknown>[] } };
    };
    assert.deepEqual(run.Parameters.Overrides.ContainerOverrides[0], {
      Name: 'migrator',
      Command: ['migrate'],
    });
  });

  test('a pending check runs after Register revision, from the same revision, and routes on its answer', () => {
    const { template, flow } = commandFlow({
      migrations: MigrationsSource.command({
        command: ['python', 'manage.py', 'migrate'],
        pendingCheck: ['python', 'manage.py', 'migrate', '--check'],
        pendingCheckTimeout: Duration.minutes(5),
      }),
    });
    const definition = definitionOf(template);
    const next = (name: string) => (definition.States[name] as { Next?: string } | undefined)?.Next;
    assert.equal(next('Register revision'), 'Run pending check');
    assert.equal(next('Run pending check'), 'Read pending check');
    assert.equal(next('Read pending check'), 'Migrations pending?');
    const route = definition.States['Migrations pending?'] as unknown as {
      Choices: { Variable: string; BooleanEquals: boolean; Next: string }[];
      Default: string;
    };
    assert.deepEqual(route.Choices, [
      { Variable: '$.pendingCheck.pending', BooleanEquals: false, Next: 'Nothing pending' },
    ]);
    assert.equal(route.Default, 'Create snapshot');
    assert.equal(next('Nothing pending'), 'Start deploy');
    const check = definition.States['Run pending check'] as unknown as {
      TimeoutSeconds: number;
      Parameters: Record<string, unknown> & { Overrides: { ContainerOverrides: Record<string, unknown>[] } };
      Retry: { ErrorEquals: string[] }[];
      Catch: { ErrorEquals: string[]; Next: string }[];
    };
    const migration = definition.States['Run migration task'] as unknown as typeof check;
    assert.equal(check.TimeoutSeconds, 300);
    assert.equal(check.Parameters['TaskDefinition.$'], '$.revision.taskDefinitionArn');
    assert.deepEqual(check.Parameters.Overrides.ContainerOverrides[0]?.Command, [
      'python',
      'manage.py',
      'migrate',
      '--check',
    ]);
    assert.equal(
      check.Parameters.NetworkConfiguration !== undefined,
      migration.Parameters.NetworkConfiguration !== undefined,
    );
    assert.notEqual(check.Parameters['StartedBy.$'], migration.Parameters['StartedBy.$']);
    assert.deepEqual(check.Retry, migration.Retry);
    assert.equal(check.Catch[0]?.Next, 'Read pending check');
    const read = definition.States['Read pending check'];
    assert.equal((read?.Parameters as { action?: string } | undefined)?.action, 'pendingCheck');
    assert.equal(
      read?.Catch?.find((c) => c.ErrorEquals.includes('States.ALL'))?.Next,
      'Alert: read pending check',
    );
    const fn = flow.functions.migrationTask as lambda.Function;
    const env = flat(
      template.findResources('AWS::Lambda::Function')[logicalId(fn)]?.Properties.Environment.Variables,
    ) as Record<string, string>;
    assert.equal(env.PENDING_CHECK_TIMEOUT_SECONDS, '300');
    const validation = aslValidator(definition);
    assert.ok(validation.isValid, JSON.stringify(validation.errorsText?.('\n')));
  });

  test('without a pending check there are no check states and no PENDING_CHECK_TIMEOUT_SECONDS', () => {
    const { template, flow } = commandFlow();
    const definition = definitionOf(template);
    assert.equal(definition.States['Run pending check'], undefined);
    const fn = flow.functions.migrationTask as lambda.Function;
    const env = flat(
      template.findResources('AWS::Lambda::Function')[logicalId(fn)]?.Properties.Environment.Variables,
    ) as Record<string, string>;
    assert.equal(env.PENDING_CHECK_TIMEOUT_SECONDS, undefined);
  });

  test('a pending check is refused when it cannot answer, naming the prop', () => {
    const withCheck =
      (pendingCheck: string[], more: Partial<CommandMigrationsProps> = {}) =>
      () =>
        commandFlow({
          migrations: MigrationsSource.command({ command: ['migrate'], pendingCheck, ...more }),
        });
    assert.throws(withCheck([]), /migrations.command pendingCheck must be a non-empty list/);
    assert.throws(
      withCheck(['npx', 'knex', 'migrate:status']),
      /pendingCheck is a status command that exits 0/,
    );
    assert.throws(withCheck(['php', 'artisan', 'migrate:status']), /use --pending=1/);
    assert.doesNotThrow(withCheck(['php', 'artisan', 'migrate:status', '--pending=1']));
    assert.throws(
      withCheck(['status'], { pendingCheckTimeout: Duration.hours(2) }),
      /pendingCheckTimeout must be .* at most the migration timeout/,
    );
    assert.throws(
      () =>
        commandFlow({
          migrations: MigrationsSource.command({ command: ['m'], pendingCheckTimeout: Duration.minutes(5) }),
        }),
      /pendingCheckTimeout is set but pendingCheck is not/,
    );
  });

  test('the SQL engine’s flow has no migration-task function or ECS RunTask grant', () => {
    const { template, flow } = buildFlow();
    assert.equal(flow.functions.migrationTask, undefined);
    assert.deepEqual(grantsOf(statementsOf(template, flow.stateMachine.role), 'ecs:RunTask'), []);
  });
});
