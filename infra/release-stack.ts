/**
 * An example stack: a VPC, an RDS for PostgreSQL instance, an ECS Fargate service, and the ReleaseFlow that
 * releases to them. Context: `migrationsSource` = `bundled` (default) or `s3`; `withPipeline` = `true` adds an
 * example CodePipeline whose release stage invokes the state machine; `migrationCommand` (and optionally
 * `pendingCheckCommand`) for command mode; `approval` = `true` adds the approval gate.
 */
import { join } from 'node:path';
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as codepipelineActions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import { acknowledgeWildcard } from './constructs/nag.ts';
import { MigrationsSource, ReleaseDatabase, ReleaseFlow } from './constructs/release-flow.ts';
import { executionArnPattern } from './constructs/release-triggers.ts';

export interface ReleaseStackProps extends StackProps {
  /** Where releases' migrations come from. @default 'bundled' */
  readonly migrationsSource?: 'bundled' | 's3';
  /**
   * Command mode: the migration command as its argument list, run as an ECS task in the release image; it takes
   * the place of `migrationsSource`. @default - none: the SQL engine runs the migrations
   */
  readonly migrationCommand?: readonly string[];
  /**
   * Command mode's pending check (CommandMigrationsProps.pendingCheck): exit 0 = nothing pending, no snapshot and no
   * migration task. Only with `migrationCommand`. @default - none: every release snapshots and runs the command
   */
  readonly pendingCheckCommand?: readonly string[];
  /** The repository root, for the bundled `migrations/` directory. */
  readonly repoRoot: string;
  /** Addresses that receive alerts. @default - none */
  readonly alertEmails?: readonly string[];
  /** The approval gate (ReleaseFlowProps.approval, its default timeout): `-c approval=true`. @default false */
  readonly approval?: boolean;
  /** Add an example CodePipeline whose Release stage runs the state machine. @default false */
  readonly withPipeline?: boolean;
  /**
   * The SSM parameter holding the app's current image, which must exist before this stack is created
   * (./release-image-stack.ts creates it). @default `/lockstep/<stack name>/app-image`
   */
  readonly imageParameterName?: string;
}

/** The `approval` context (`cdk synth -c approval=true`, the rehearsal's `--approval`) as a boolean. */
export function approvalContext(value: unknown): boolean {
  const text = String(value ?? 'false');
  if (text !== 'true' && text !== 'false')
    throw new Error(`context approval must be "true" or "false", got "${text}"`);
  return text === 'true';
}

/** Where the example keeps the app's current image, unless told otherwise. */
export const defaultImageParameterName = (stackName: string) => `/lockstep/${stackName}/app-image`;

export class ReleaseStack extends Stack {
  readonly releaseFlow: ReleaseFlow;
  readonly repository: ecr.Repository;
  /** The SSM parameter the app's image is read from and each release is recorded in. */
  readonly imageParameterName: string;
  readonly migrationsBucket: s3.Bucket | undefined;
  /** The example pipeline, when `withPipeline` is set. */
  readonly pipeline: codepipeline.Pipeline | undefined;

  constructor(scope: Construct, id: string, props: ReleaseStackProps) {
    super(scope, id, props);
    if (props.pendingCheckCommand && !props.migrationCommand)
      throw new Error('ReleaseStack: pendingCheckCommand needs migrationCommand (command mode)');
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      flowLogs: { all: { trafficType: ec2.FlowLogTrafficType.REJECT } },
    });

    const database = new rds.DatabaseInstance(this, 'Database', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 }),
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO),
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      credentials: rds.Credentials.fromGeneratedSecret('app_owner'),
      databaseName: 'app',
      port: 5433,
      storageEncrypted: true,
      multiAz: false,
      deletionProtection: true,
      backupRetention: Duration.days(7),
      iamAuthentication: true,
      cloudwatchLogsExports: ['postgresql'],
      removalPolicy: RemovalPolicy.SNAPSHOT,
    });
    Validations.of(database).acknowledge(
      {
        id: 'AwsSolutions-RDS3',
        reason: 'Example stack: a single-AZ instance keeps the demo cheap; use multiAz in production.',
      },
      {
        id: 'AwsSolutions-SMG4',
        reason:
          'Rotation of the master secret is the database owner’s choice; lockstep re-reads the secret on 28P01.',
      },
    );

    this.repository = new ecr.Repository(this, 'AppRepository', {
      imageScanOnPush: true,
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const cluster = new ecs.Cluster(this, 'Cluster', {
      vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    const taskDefinition = new ecs.FargateTaskDefinition(this, 'AppTask', { cpu: 256, memoryLimitMiB: 512 });
    // The image lockstep last released, or the parameter's first image before any release: never an image of the
    // repository above, which this stack creates empty.
    this.imageParameterName = props.imageParameterName ?? defaultImageParameterName(this.stackName);
    taskDefinition.addContainer('app', {
      image: ReleaseFlow.imageFromParameter(this, this.imageParameterName, this.repository),
      logging: ecs.LogDrivers.awsLogs({
        streamPrefix: 'app',
        logGroup: new logs.LogGroup(this, 'AppLogs', {
          retention: logs.RetentionDays.ONE_MONTH,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
      }),
      environment: { DB_HOST: database.dbInstanceEndpointAddress, DB_PORT: database.dbInstanceEndpointPort },
      secrets: { DB_PASSWORD: ecs.Secret.fromSecretsManager(database.secret as never, 'password') },
      portMappings: [{ containerPort: 8080 }],
    });
    Validations.of(taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'Only non-secret endpoint settings are plain environment variables; the password comes from Secrets Manager.',
    });
    acknowledgeWildcard(
      taskDefinition.executionRole,
      '*',
      'ecr:GetAuthorizationToken supports no resource-level permissions; image pulls are scoped to the app repository.',
    );
    const service = new ecs.FargateService(this, 'AppService', {
      cluster,
      taskDefinition,
      desiredCount: 2,
      circuitBreaker: { enable: true, rollback: true },
      minHealthyPercent: 100,
    });
    database.connections.allowDefaultPortFrom(service, 'the app');

    // One access-log bucket for the example's buckets (migrations, pipeline artifacts and source).
    const accessLogs =
      props.migrationsSource === 's3' || props.withPipeline
        ? new s3.Bucket(this, 'AccessLogs', {
            encryption: s3.BucketEncryption.S3_MANAGED,
            enforceSSL: true,
            blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
            removalPolicy: RemovalPolicy.RETAIN,
          })
        : undefined;
    if (accessLogs) {
      Validations.of(accessLogs).acknowledge({
        id: 'AwsSolutions-S1',
        reason:
          'This bucket receives the other example buckets’ server access logs; logging its own access would loop.',
      });
    }
    const privateBucket = (id: string, prefix: string) =>
      new s3.Bucket(this, id, {
        encryption: s3.BucketEncryption.S3_MANAGED,
        enforceSSL: true,
        versioned: true,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        serverAccessLogsBucket: accessLogs,
        serverAccessLogsPrefix: `${prefix}/`,
        removalPolicy: RemovalPolicy.RETAIN,
      });

    if (props.migrationsSource === 's3') this.migrationsBucket = privateBucket('Migrations', 'migrations');

    this.releaseFlow = new ReleaseFlow(this, 'Release', {
      database: ReleaseDatabase.instance(database),
      databaseSecret: database.secret as never,
      databaseName: 'app',
      vpc,
      service,
      containerName: 'app',
      imageParameter: ssm.StringParameter.fromStringParameterName(
        this,
        'AppImageParameter',
        this.imageParameterName,
      ),
      migrations: props.migrationCommand
        ? MigrationsSource.command({
            command: props.migrationCommand,
            ...(props.pendingCheckCommand ? { pendingCheck: props.pendingCheckCommand } : {}),
          })
        : this.migrationsBucket
          ? MigrationsSource.s3(this.migrationsBucket, 'migrations')
          : MigrationsSource.bundled(join(props.repoRoot, 'migrations')),
      alertEmails: props.alertEmails ?? [],
      ...(props.approval ? { approval: {} } : {}),
    });

    // A release on every pushed version tag; `latest` never releases.
    this.releaseFlow.onImagePush(this.repository, { tagPrefixes: ['v', 'release-'] });

    if (props.withPipeline) this.pipeline = this.createPipeline(privateBucket);

    // What the README's first-deploy walk reads back (`aws cloudformation describe-stacks`).
    new CfnOutput(this, 'AppRepositoryUri', {
      value: this.repository.repositoryUri,
      description: 'Push version-tagged images (v*, release-*) here to release them',
    });
    new CfnOutput(this, 'StateMachineArn', { value: this.releaseFlow.stateMachine.stateMachineArn });
    // `lockstep rollback` starts this one (issue 16).
    new CfnOutput(this, 'RollbackStateMachineArn', {
      value: this.releaseFlow.rollbackStateMachine.stateMachineArn,
    });
    new CfnOutput(this, 'ReleaseRecordsTable', {
      value: this.releaseFlow.recordsTable.tableName,
      description: 'Every release’s record: lockstep releases --table <this>',
    });
    if (props.approval)
      new CfnOutput(this, 'ReleaseLockTable', {
        value: this.releaseFlow.lockTable.tableName,
        description:
          'Where a release waiting at the approval gate keeps its task token: lockstep approve|reject <execution> --lock-table <this>',
      });
    new CfnOutput(this, 'ImageParameterName', {
      value: this.imageParameterName,
      description:
        'The image the app runs: lockstep writes it after each release, every stack update reads it',
    });
  }

  /**
   * Source: `release.zip` (holding `release.json`, the release input) uploaded to a versioned bucket; Release: the
   * state machine, whose failure fails the stage. An upload starts the pipeline through an EventBridge rule on the
   * bucket's own EventBridge notifications (no CloudTrail trail needed).
   */
  private createPipeline(privateBucket: (id: string, prefix: string) => s3.Bucket): codepipeline.Pipeline {
    const source = privateBucket('ReleaseSource', 'release-source');
    // Set on the resource itself: the L2 would add a custom-resource Lambda to manage notifications.
    (source.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };
    const sourceOutput = new codepipeline.Artifact('ReleaseInput');
    const artifacts = privateBucket('PipelineArtifacts', 'pipeline-artifacts');
    const release = this.releaseFlow.pipelineAction({
      actionName: 'Release',
      input: { file: sourceOutput, path: 'release.json' },
    });
    const pipeline = new codepipeline.Pipeline(this, 'ReleasePipeline', {
      pipelineType: codepipeline.PipelineType.V2,
      artifactBucket: artifacts,
      restartExecutionOnUpdate: false,
      stages: [
        {
          stageName: 'Source',
          actions: [
            new codepipelineActions.S3SourceAction({
              actionName: 'ReleaseJson',
              bucket: source,
              bucketKey: 'release.zip',
              output: sourceOutput,
              trigger: codepipelineActions.S3Trigger.NONE,
            }),
          ],
        },
        {
          stageName: 'Release',
          actions: [release],
        },
      ],
    });
    // CodePipeline's own grants on its artifact bucket (and the source object), as aws-cdk-lib writes them.
    const artifactGrants =
      'CodePipeline reads and writes its artifacts with the grants aws-cdk-lib generates for the pipeline’s private artifact bucket (and reads release.zip from the source bucket); no other bucket is named.';
    Validations.of(pipeline).acknowledge(
      ...['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*'].map((action) => ({
        id: `AwsSolutions-IAM5[Action::${action}]`,
        reason: artifactGrants,
      })),
    );
    acknowledgeWildcard(pipeline, artifacts.arnForObjects('*'), artifactGrants);
    // The Release action's role, which aws-cdk-lib creates under the stage when the action binds.
    const releaseRole = pipeline.node
      .findChild('Release')
      .node.findChild('Release')
      .node.findChild('CodePipelineActionRole');
    acknowledgeWildcard(
      releaseRole,
      executionArnPattern(this.releaseFlow),
      'CodePipeline polls the execution it started, whose name it generates per run; DescribeExecution is limited to this state machine’s executions.',
    );
    new events.Rule(this, 'ReleaseUploaded', {
      description: 'Starts the release pipeline when release.zip is uploaded',
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: { bucket: { name: [source.bucketName] }, object: { key: ['release.zip'] } },
      },
      targets: [new targets.CodePipeline(pipeline)],
    });
    return pipeline;
  }
}
