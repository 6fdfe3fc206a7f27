/** A minimal stack around one ReleaseFlow, for infra tests that vary its VPC, image and props. Bundling is skipped. */
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as rds from 'aws-cdk-lib/aws-rds';
import {
  MigrationsSource,
  ReleaseDatabase,
  ReleaseFlow,
  type ReleaseFlowProps,
} from '../../infra/constructs/release-flow.ts';

const repoRoot = resolve(import.meta.dirname, '..', '..');

export interface FlowStackOptions {
  /** The VPC of the database, the service and the migrate function. @default - 2 AZs, public and private subnets, one NAT */
  readonly vpc?: (stack: Stack) => ec2.IVpc;
  /** The app container's image. @default - example/app:v1 from a registry */
  readonly image?: (stack: Stack) => ecs.ContainerImage;
  /** Props that replace the defaults. */
  readonly props?: (stack: Stack, vpc: ec2.IVpc) => Partial<ReleaseFlowProps>;
}

export function buildFlowStack(options: FlowStackOptions = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Test');
  const vpc = options.vpc?.(stack) ?? new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 });
  const instance = new rds.DatabaseInstance(stack, 'Database', {
    engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 }),
    vpc,
    storageEncrypted: true,
    credentials: rds.Credentials.fromGeneratedSecret('app_owner'),
  });
  assert.ok(instance.secret);
  const taskDefinition = new ecs.FargateTaskDefinition(stack, 'Task');
  taskDefinition.addContainer('app', {
    image: options.image?.(stack) ?? ecs.ContainerImage.fromRegistry('example/app:v1'),
  });
  const service = new ecs.FargateService(stack, 'Service', {
    cluster: new ecs.Cluster(stack, 'EcsCluster', { vpc }),
    taskDefinition,
  });
  const flow = new ReleaseFlow(stack, 'Release', {
    database: ReleaseDatabase.instance(instance),
    databaseSecret: instance.secret,
    vpc,
    service,
    containerName: 'app',
    migrations: MigrationsSource.bundled(join(repoRoot, 'migrations')),
    ...options.props?.(stack, vpc),
  });
  return { stack, flow, template: Template.fromStack(stack) };
}
