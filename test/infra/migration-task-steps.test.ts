import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import {
  buildMigrationTaskStates,
  migrationTaskPolicy,
  serviceLaunch,
} from '../../infra/constructs/migration-task-steps.ts';

/** The value at `path` in resolved JSON, or undefined. */
function at(value: unknown, ...path: (string | number)[]): unknown {
  return path.reduce<unknown>(
    (v, key) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined),
    value,
  );
}

function build(serviceProps: Partial<ecs.FargateServiceProps> = {}) {
  const stack = new Stack(new App(), 'Test');
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const cluster = new ecs.Cluster(stack, 'Cluster', { vpc, clusterName: 'shop' });
  const taskDefinition = new ecs.FargateTaskDefinition(stack, 'Task', { family: 'shop-api' });
  // awslogs makes ECS need an execution role besides the task role: both are passed.
  taskDefinition.addContainer('app', {
    image: ecs.ContainerImage.fromRegistry('example/app:v1'),
    logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'app' }),
  });
  const service = new ecs.FargateService(stack, 'Service', { cluster, taskDefinition, ...serviceProps });
  const fn = new lambda.Function(stack, 'Check', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({})'),
  });
  const states = buildMigrationTaskStates(
    stack,
    { run: 'Run migration task', check: 'Check migration task' },
    {
      command: ['python', 'manage.py', 'migrate'],
      containerName: 'app',
      environment: { DJANGO_SETTINGS_MODULE: 'shop.settings' },
      pgOptions: '-c lock_timeout=5000',
      cpu: 1024,
      memory: 2048,
      timeout: Duration.hours(3),
      pendingCheck: undefined,
    },
    serviceLaunch(service),
    fn,
    Duration.seconds(90),
  );
  const graph = new sfn.StateGraph(states.run, 'migration task');
  const asl: unknown = stack.resolve(graph.toGraphJson());
  return { stack, service, asl };
}

describe('command mode’s migration-task states', () => {
  it('run the command on the release revision with the service’s network and launch type, waiting with .sync', () => {
    const { asl } = build();
    const run = at(asl, 'States', 'Run migration task');

    assert.match(JSON.stringify(at(run, 'Resource')), /:states:::ecs:runTask\.sync/);
    assert.equal(at(run, 'TimeoutSeconds'), 3 * 3600);
    assert.equal(at(run, 'Parameters', 'TaskDefinition.$'), '$.revision.taskDefinitionArn');
    assert.equal(at(run, 'Parameters', 'LaunchType'), 'FARGATE');
    const awsvpc = at(run, 'Parameters', 'NetworkConfiguration', 'AwsvpcConfiguration');
    assert.equal(at(awsvpc, 'AssignPublicIp'), 'DISABLED');
    assert.equal(at(awsvpc, 'Subnets', 'length'), 2);
    assert.equal(at(awsvpc, 'SecurityGroups', 'length'), 1);
    assert.deepEqual(at(run, 'Parameters', 'Overrides'), {
      Cpu: '1024',
      Memory: '2048',
      ContainerOverrides: [
        {
          Name: 'app',
          Command: ['python', 'manage.py', 'migrate'],
          Environment: [
            { Name: 'DJANGO_SETTINGS_MODULE', Value: 'shop.settings' },
            { Name: 'PGOPTIONS', Value: '-c lock_timeout=5000' },
          ],
        },
      ],
    });
    assert.match(String(at(run, 'Parameters', 'StartedBy.$')), /States\.Hash\(\$\$\.Execution\.Id/);
  });

  it('retry RunTask failures, then hand every failure, the timeout included, to the verdict', () => {
    const { asl } = build();
    const run = at(asl, 'States', 'Run migration task');
    const check = at(asl, 'States', 'Check migration task');

    assert.deepEqual(at(run, 'Retry', 0, 'ErrorEquals'), ['AmazonECS.Unknown']);
    assert.deepEqual(at(run, 'Catch'), [
      { ErrorEquals: ['States.ALL'], ResultPath: '$.migrationTask.error', Next: 'Check migration task' },
    ]);
    assert.equal(at(run, 'Next'), 'Check migration task');
    // payloadResponseOnly: the Lambda ARN is the Resource and Parameters is the payload.
    assert.equal(at(check, 'Parameters', 'outcome.$'), '$.migrationTask');
    assert.equal(at(check, 'Parameters', 'startedBy.$'), at(run, 'Parameters', 'StartedBy.$'));
  });

  it('take a capacity provider strategy instead of a launch type when the service has one', () => {
    const { asl } = build({
      capacityProviderStrategies: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }],
    });
    const run = at(asl, 'States', 'Run migration task');

    assert.equal(at(run, 'Parameters', 'LaunchType'), undefined);
    assert.deepEqual(at(run, 'Parameters', 'CapacityProviderStrategy'), [
      { CapacityProvider: 'FARGATE_SPOT', Weight: 1 },
    ]);
  });

  it('grant RunTask on the family in the cluster, PassRole to ECS tasks only, and the .sync managed rule', () => {
    const { stack, service } = build();
    const doc = new iam.PolicyDocument({ statements: migrationTaskPolicy(service) });
    const statements = at(stack.resolve(doc.toJSON()), 'Statement') as unknown[];
    const byAction = (a: string) => statements.find((s) => [at(s, 'Action')].flat().includes(a));

    assert.match(JSON.stringify(at(byAction('ecs:RunTask'), 'Resource')), /task-definition\/shop-api:\*/);
    assert.ok(at(byAction('ecs:RunTask'), 'Condition', 'ArnEquals', 'ecs:cluster'));
    assert.deepEqual(at(byAction('iam:PassRole'), 'Condition'), {
      StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' },
    });
    assert.equal(at(byAction('iam:PassRole'), 'Resource', 'length'), 2);
    assert.match(
      JSON.stringify(at(byAction('events:PutRule'), 'Resource')),
      /rule\/StepFunctionsGetEventsForECSTaskRule/,
    );
    // The cluster's tasks only: task/<cluster name>/*.
    assert.match(
      JSON.stringify(at(byAction('ecs:StopTask'), 'Resource')),
      /:task\/",\{"Ref":"Cluster[0-9A-F]+"\},"\/\*"/,
    );
    assert.deepEqual(at(byAction('ecs:TagResource'), 'Condition'), {
      StringEquals: { 'ecs:CreateAction': 'RunTask' },
    });
  });
});
