/**
 * ReleaseFlow: the release state machine for one database and one ECS service — preflight, plan, snapshot,
 * migrate, deploy, or halt and alert — with its four functions, alert topic, alarm and least-privilege roles.
 * Triggers (image push, pipeline action) hang off the public members; see ./release-triggers.ts.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  Annotations,
  ArnFormat,
  Aws,
  Duration,
  FileSystem,
  Names,
  RemovalPolicy,
  Size,
  Stack,
  Token,
} from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as codepipelineActions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as rds from 'aws-cdk-lib/aws-rds';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as ssm from 'aws-cdk-lib/aws-ssm';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { SSM_PARAMETER_NAME } from '../../functions/shared/config.ts';
import { ERROR_POLICY } from '../../functions/shared/errors.ts';
import { dependencyLockFile, packageRoot } from '../package-root.ts';
import { bundleMigrationsSync } from './bundled-migrations.ts';
import { classifySubnets } from './migrate-subnets.ts';
import { type MigrationTaskSpec, migrationTaskPolicy, serviceLaunch } from './migration-task-steps.ts';
import { acknowledgeWildcard, STATE_MACHINE_WILDCARD_REASON } from './nag.ts';
import { knownNonCheck } from './pending-check-commands.ts';
import { buildReleaseDefinition } from './release-definition.ts';
import { createReleaseRecordsTable } from './release-records.ts';
import {
  type ImagePushOptions,
  onImagePush,
  type PipelineActionProps,
  pipelineAction,
} from './release-triggers.ts';
import { imageFromParameter, readsImageFrom } from './released-image.ts';
import {
  createRollbackStateMachine,
  grantRestore,
  type ResolvedRollback,
  type RollbackSettings,
  resolveRollback,
  restoreEnvironment,
} from './rollback-flow.ts';

const repoRoot = packageRoot();

/** The database lockstep backs up and migrates: an RDS instance or an Aurora cluster. */
export abstract class ReleaseDatabase {
  /** An RDS for PostgreSQL instance: snapshots with CreateDBSnapshot. */
  static instance(instance: rds.IDatabaseInstance): ReleaseDatabase {
    return new (class extends ReleaseDatabase {
      readonly kind = 'instance' as const;
      readonly identifier = instance.instanceIdentifier;
      readonly arn = instance.instanceArn;
      readonly host = instance.dbInstanceEndpointAddress;
      readonly port = instance.dbInstanceEndpointPort;
      readonly connections = instance.connections;
    })();
  }
  /** An Aurora PostgreSQL cluster: snapshots with CreateDBClusterSnapshot. */
  static cluster(cluster: rds.IDatabaseCluster): ReleaseDatabase {
    return new (class extends ReleaseDatabase {
      readonly kind = 'cluster' as const;
      readonly identifier = cluster.clusterIdentifier;
      readonly arn = cluster.clusterArn;
      readonly host = cluster.clusterEndpoint.hostname;
      readonly port = Token.asString(cluster.clusterEndpoint.port);
      readonly connections = cluster.connections;
    })();
  }
  abstract readonly kind: 'instance' | 'cluster';
  abstract readonly identifier: string;
  abstract readonly arn: string;
  abstract readonly host: string;
  abstract readonly port: string;
  abstract readonly connections: ec2.Connections;
}

/** Where each release's migrations come from. */
export abstract class MigrationsSource {
  /**
   * A directory packaged into the migrate function when the stack deploys, with the manifest of its statements: the
   * synth checks every file with PostgreSQL's parser first, and a file that cannot run as written fails it.
   */
  static bundled(directory: string): MigrationsSource {
    return new (class extends MigrationsSource {
      readonly kind = 'bundled' as const;
      readonly directory = resolve(directory);
      readonly bucket = undefined;
      readonly prefix = '';
      readonly command = undefined;
    })();
  }
  /** Per-release folders `s3://bucket/prefix/<release>/` written by `lockstep publish`. */
  static s3(bucket: s3.IBucket, prefix = ''): MigrationsSource {
    return new (class extends MigrationsSource {
      readonly kind = 's3' as const;
      readonly directory = undefined;
      readonly bucket = bucket;
      readonly prefix = prefix.replace(/^\/+|\/+$/g, '');
      readonly command = undefined;
    })();
  }
  /**
   * Your tool's own migration command (`python manage.py migrate`, `npx prisma migrate deploy`, …), run as a one-off
   * ECS task from the release's task-definition revision, so it runs the image the service then runs, with no
   * 15-minute limit. The release deploys only when the command's container exits 0.
   */
  static command(props: CommandMigrationsProps): MigrationsSource {
    return new (class extends MigrationsSource {
      readonly kind = 'command' as const;
      readonly directory = undefined;
      readonly bucket = undefined;
      readonly prefix = '';
      readonly command = props;
    })();
  }
  abstract readonly kind: 'bundled' | 's3' | 'command';
  abstract readonly directory: string | undefined;
  abstract readonly bucket: s3.IBucket | undefined;
  abstract readonly prefix: string;
  /** Command mode's settings, as given. */
  abstract readonly command: CommandMigrationsProps | undefined;
}

/** How {@link MigrationsSource.command} runs the migration command. */
export interface CommandMigrationsProps {
  /**
   * The command, as the container override's argument list. No shell runs it: a command that needs one says so,
   * `['sh', '-c', 'bin/migrate && bin/seed']`. From one string, `commandWords` (infra/command-words.ts) splits it.
   */
  readonly command: readonly string[];
  /**
   * The container of the service's task definition the command runs in. Only `containerName` gets the release
   * image. @default - `containerName`, the release container
   */
  readonly container?: string;
  /**
   * How long the task may run; past it the task is stopped and the release fails. The release timeout must cover
   * it. @default Duration.hours(1)
   */
  readonly timeout?: Duration;
  /** Extra environment variables for the command. @default - none besides `PGOPTIONS` */
  readonly environment?: Readonly<Record<string, string>>;
  /** The task's CPU units (an override of the task definition's). @default - the task definition's */
  readonly cpu?: number;
  /** The task's memory in MiB (an override of the task definition's). @default - the task definition's */
  readonly memory?: number;
  /**
   * `PGOPTIONS` for the command, read by libpq-based tools (psycopg, the pg gem…) so their DDL does not queue
   * behind a long transaction; `false` sets none. @default `-c lock_timeout=<lockTimeout in ms>`
   */
  readonly pgOptions?: string | false;
  /**
   * A command whose exit status says whether anything is pending, run first as a task of its own from the same
   * revision (same container, network, environment and overrides): exit 0 means nothing is pending, and the release
   * deploys the image without a snapshot or the migration task; any other exit code of a command that ended by
   * itself means pending (or "could not tell", the safe side): snapshot, then the migration command. A check task
   * that could not be placed, never started, ran past `pendingCheckTimeout` or was stopped by ECS fails the release
   * with an alert (PendingCheckFailedError). Choose a command that exits non-zero when something is pending
   * (`prisma migrate status`, `python manage.py migrate --check`, `php artisan migrate:status --pending=1`: the
   * README's table): a status command that exits 0 either way would skip every migration.
   * @default - none: every release snapshots and runs the command
   */
  readonly pendingCheck?: readonly string[];
  /** How long the pending check may run before the release fails. @default Duration.minutes(10) */
  readonly pendingCheckTimeout?: Duration;
}

export interface SnapshotSettings {
  /** Take a snapshot before migrating. @default true */
  readonly enabled?: boolean;
  /** How often to check whether the snapshot is available. @default Duration.seconds(30) */
  readonly pollInterval?: Duration;
  /** How long the snapshot may take before the release fails. @default Duration.hours(2) */
  readonly timeout?: Duration;
  /** How many lockstep-managed snapshots of this database to keep; older ones are deleted after a release. @default 10 */
  readonly keep?: number;
}

/** The plan step's migration lint: which findings stop a release, and what counts as a small or large table. */
export interface MigrationLintOptions {
  /**
   * Findings this severe or worse (and not accepted with `-- lockstep:allow`) stop the release before the snapshot;
   * `never` only logs them. @default 'error'
   */
  readonly failOn?: 'info' | 'warning' | 'error' | 'never';
  /** A locking rewrite, scan or index build of a smaller table is info. @default Size.mebibytes(10) */
  readonly smallTable?: Size;
  /** ... of a table this large or larger is an error. @default Size.gibibytes(1) */
  readonly largeTable?: Size;
  /** Transactions open longer than this are named. @default Duration.minutes(1) */
  readonly longTransaction?: Duration;
}

/** The approval gate (README, "Approval gate"). */
export interface ApprovalOptions {
  /**
   * How long a release waits for `lockstep approve` or `lockstep reject`; then it fails with an alert, having migrated
   * and deployed nothing. The release holds its lock while it waits, so a later release queues behind it (for up to
   * 30 minutes). The release timeout must cover it. @default Duration.hours(1)
   */
  readonly timeout?: Duration;
}

export interface ReleaseFlowProps {
  /** The database to back up and migrate. */
  readonly database: ReleaseDatabase;
  /** Secrets Manager secret with the database credentials, in the RDS JSON shape. */
  readonly databaseSecret: secretsmanager.ISecret;
  /** The database (schema owner's) name, when the secret does not hold `dbname`. @default - the secret's `dbname` */
  readonly databaseName?: string;
  /** The VPC the migrate function runs in, to reach the database (unused in command mode, which has none). */
  readonly vpc: ec2.IVpc;
  /** Subnets for the migrate function; ignored in command mode. @default - the VPC's private subnets with egress */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Create the VPC endpoints the migrate function needs to reach AWS without a NAT gateway: Secrets Manager
   * (interface, private DNS) and S3 (gateway). Required when `vpcSubnets` selects isolated subnets — by type, by
   * subnet group name, or as subnets the VPC lists as isolated; subnets the VPC does not list are warned about.
   * Ignored in command mode. @default false
   */
  readonly vpcEndpoints?: boolean;
  /** The ECS service that runs the app. */
  readonly service: ecs.BaseService;
  /** The container in the service's task definition whose image a release replaces. */
  readonly containerName: string;
  /**
   * The SSM String parameter the container's image is read from ({@link ReleaseFlow.imageFromParameter}). After each
   * completed rollout the deploy function overwrites it with the released image (ssm:PutParameter on this parameter
   * only), so a later stack update deploys that image instead of putting back the one CloudFormation last knew. It
   * must exist before the stack that reads it is created. @default - none: nothing is recorded, and a stack update
   * that touches the service or its task definition rolls the app back to the template's image
   */
  readonly imageParameter?: ssm.IStringParameter;
  /** Where each release's migrations come from. */
  readonly migrations: MigrationsSource;
  /**
   * Where alerts go. A topic of your own must let `cloudwatch.amazonaws.com` publish (the failure alarm) in its
   * access policy; a topic defined in this app gets that statement added. @default - a new KMS-encrypted, TLS-only topic
   */
  readonly alertTopic?: sns.ITopic;
  /**
   * The KMS key that encrypts `alertTopic`, when it is imported (an imported topic does not say): the state machine
   * is granted kms:GenerateDataKey and kms:Decrypt on it, and its key policy must let `cloudwatch.amazonaws.com` use
   * it too. @default - the topic's own `masterKey`, if any
   */
  readonly alertTopicKey?: kms.IKey;
  /** E-mail addresses subscribed to the alert topic. @default - none */
  readonly alertEmails?: readonly string[];
  /** Snapshot before migrating. @default - on, polled every 30 s for up to 2 h, 10 kept */
  readonly snapshot?: SnapshotSettings;
  /** How long the migrate function waits for another run's migration lock before the state machine retries. @default Duration.minutes(1) */
  readonly migrationLockWait?: Duration;
  /** Where the migration history lives, `<schema>.<table>`; it also keys the migration lock. @default 'lockstep.schema_history' */
  readonly historyTable?: string;
  /**
   * `lock_timeout` of every migration statement: how long one statement's table-lock request may queue (and
   * block the table's traffic behind it) before the attempt rolls back. @default Duration.seconds(5)
   */
  readonly lockTimeout?: Duration;
  /**
   * Retries of a migration whose statement hit `lock_timeout` or a deadlock, with backoff (1 s, doubling), inside
   * the migrate function. They are the only lock retries: the state machine does not retry LockNotAvailableError,
   * so a migration queues a lock request at most `lockRetries + 1` times per release. @default 5
   */
  readonly lockRetries?: number;
  /** `statement_timeout` of every migration statement; the migrate function's own deadline caps it too. @default - none */
  readonly statementTimeout?: Duration;
  /** The migrate function's memory. @default 512 */
  readonly migrateMemorySize?: number;
  /** The migrate function's timeout; longer migrations continue in a new invocation. @default Duration.minutes(15) */
  readonly migrateTimeout?: Duration;
  /**
   * The plan step's migration lint (README, "Lint"): findings at or above `failOn` stop the release before the
   * snapshot, with the findings in the alert. @default - fail on error; small table 10 MiB, large 1 GiB, long
   * transaction 60 s
   */
  readonly lint?: MigrationLintOptions;
  /** How often to check the ECS rollout. @default Duration.seconds(30) */
  readonly deployPollInterval?: Duration;
  /** How long the ECS rollout may take before the release fails. @default Duration.minutes(30) */
  readonly deployTimeout?: Duration;
  /**
   * Pause every release that has something to migrate after plan, lint and snapshot, until someone runs `lockstep
   * approve <execution>` (it migrates, then deploys) or `lockstep reject <execution> --reason "…"` (it fails, changing
   * nothing). The alert topic gets the notification; {@link ReleaseFlow.grantDecide} gives the approvers what they
   * need. @default - no gate
   */
  readonly approval?: ApprovalOptions;
  /** Also publish to the topic when a release succeeds. @default false */
  readonly notifyOnSuccess?: boolean;
  /** The whole release's limit; past it the execution times out (and the alarm fires). @default Duration.hours(6) */
  readonly releaseTimeout?: Duration;
  /** Retention of the state machine's and functions' logs. @default logs.RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
  /**
   * An existing release-records table to write to instead of creating one: the table a deployment of this construct
   * left behind (records are retained when the stack is deleted), so that a redeployed stack keeps its history and
   * `lockstep rollback` can still decide from it. Import it by name (`dynamodb.Table.fromTableName`); it must have the
   * key schema and indexes this construct gives its own (README, "The release record").
   * @default - a new table, retained when the stack is deleted
   */
  readonly recordsTable?: dynamodb.ITable;
  /**
   * The rollback state machine's restore and switch (README, "Rolling back"); it shares `releaseTimeout`.
   * @default - polled every 30 s; the restore may take 3 h, each rename 30 min; the AWS managed key aws/rds
   */
  readonly rollback?: RollbackSettings;
}

export interface ReleaseFunctions {
  readonly preflight: lambda.IFunction;
  readonly snapshot: lambda.IFunction;
  /**
   * The SQL flow only: plans and applies the migrations. Command mode has none (the migration task migrates), and
   * so no role that may read the database secret.
   */
  readonly migrate?: lambda.IFunction;
  readonly deploy: lambda.IFunction;
  /** Command mode only: the verdict on the migration task, which stops one that timed out. */
  readonly migrationTask?: lambda.IFunction;
  /**
   * Stores an approval gate's task token on the lock item and sends the notification: the release's gate (with
   * `approval`) and the rollback's confirmation before its switch (always).
   */
  readonly approval: lambda.IFunction;
  /** The rollback's restore and rename steps (functions/restore). */
  readonly restore: lambda.IFunction;
}

/** The functions as this construct builds them (their roles are theirs alone). */
type FunctionSet = {
  readonly [name in Exclude<keyof ReleaseFunctions, 'migrate' | 'migrationTask'>]: nodejs.NodejsFunction;
} & {
  readonly migrate?: nodejs.NodejsFunction;
  readonly migrationTask?: nodejs.NodejsFunction;
};

/** Where the migrate function runs. */
interface MigrateNetwork {
  readonly securityGroup: ec2.SecurityGroup;
  readonly subnets: ec2.SubnetSelection;
}

const SNAPSHOT_PREFIX = 'lockstep';
const XRAY =
  'X-Ray PutTraceSegments and PutTelemetryRecords (active tracing) support no resource-level permissions.';
/** How every function is bundled: minified CommonJS for the runtime's Node, the AWS SDK left to the runtime. */
const BUNDLING: nodejs.BundlingOptions = {
  minify: true,
  keepNames: true,
  target: 'node22',
  format: nodejs.OutputFormat.CJS,
  externalModules: ['@aws-sdk/*'],
};

export class ReleaseFlow extends Construct {
  /** The release state machine (Standard): start it with the release input. */
  public readonly stateMachine: sfn.StateMachine;
  /**
   * The rollback state machine (Standard; issue 16): `lockstep rollback` starts it with the rollback input
   * (functions/shared/rollback-input.ts). It takes the same release lock, so no release runs during a rollback.
   */
  public readonly rollbackStateMachine: sfn.StateMachine;
  /** Fires when a rollback execution fails, times out or is aborted. */
  public readonly rollbackFailureAlarm: cloudwatch.Alarm;
  /** Where failure alerts (and, if asked, success notices) are published. */
  public readonly alertTopic: sns.ITopic;
  /** The functions the state machine chains: four; in command mode the migration-task function instead of migrate. */
  public readonly functions: ReleaseFunctions;
  /** Fires when an execution fails, times out or is aborted — including failures no Catch can see. */
  public readonly failureAlarm: cloudwatch.Alarm;
  /** The migrations source the state machine was built for. */
  public readonly migrations: MigrationsSource;
  /**
   * The migrate function's security group: HTTPS out to AWS APIs, and the database port to the database. Undefined
   * in command mode, where no lockstep function runs in the VPC.
   */
  public readonly migrateSecurityGroup: ec2.SecurityGroup | undefined;
  /**
   * The release lock: one item per database, taken by preflight with a conditional write and deleted by the state
   * machine on every path it controls (functions/preflight/release-lock.ts).
   */
  public readonly lockTable: dynamodb.Table;
  /**
   * The release records: one item per execution, newest first per database, kept when the stack is deleted
   * (./release-records.ts), or the one `props.recordsTable` names. `lockstep releases --table <name>` lists them.
   */
  public readonly recordsTable: dynamodb.ITable;

  constructor(scope: Construct, id: string, props: ReleaseFlowProps) {
    super(scope, id);
    const settings = resolveSettings(props);
    this.migrations = props.migrations;
    const stack = Stack.of(this);
    // Checked before anything is built, and only when this stack is bundled (`aws:cdk:bundling-stacks` may leave it
    // out): nothing is packaged otherwise.
    const bundledMigrations =
      props.migrations.directory && stack.bundlingRequired
        ? checkBundledMigrations(props.migrations.directory)
        : undefined;
    // The state machine's name is fixed here, so preflight may describe its executions without a dependency cycle.
    const stateMachineName = Names.uniqueResourceName(this, { maxLength: 80, separator: '-' });
    const rollbackName = `${Names.uniqueResourceName(this, { maxLength: 71, separator: '-' })}-rollback`;
    const rollback = resolveRollback(props.rollback, settings);

    this.lockTable = this.createLockTable();
    this.recordsTable = props.recordsTable ?? createReleaseRecordsTable(this, 'ReleaseRecords');
    this.alertTopic = props.alertTopic ?? this.createTopic();
    for (const email of props.alertEmails ?? [])
      this.alertTopic.addSubscription(new subscriptions.EmailSubscription(email));

    // Command mode migrates in the app's own task: no migrate function, so nothing of it in the VPC.
    const network = settings.migrationTask ? undefined : this.createMigrateNetwork(props);
    if (!network && (props.vpcSubnets || props.vpcEndpoints))
      Annotations.of(this).addWarningV2(
        'lockstep:commandModeNetwork',
        'vpcSubnets and vpcEndpoints are ignored in command mode: no lockstep function runs in the VPC (the migration task runs in the service’s network)',
      );
    this.migrateSecurityGroup = network?.securityGroup;
    const functions = this.createFunctions(props, settings, network, bundledMigrations, rollback);
    this.functions = functions;
    this.grantFunctions(props, settings, functions, [stateMachineName, rollbackName]);
    grantRestore(functions.restore, props.database, rollback, SNAPSHOT_PREFIX, XRAY);

    this.stateMachine = this.createStateMachine(props, settings, stateMachineName);
    this.failureAlarm = this.createFailureAlarm(this.stateMachine, 'FailureAlarm', 'release');
    this.rollbackStateMachine = createRollbackStateMachine(this, {
      name: rollbackName,
      functions: {
        preflight: functions.preflight,
        restore: functions.restore,
        deploy: functions.deploy,
        approval: functions.approval,
      },
      alertTopic: this.alertTopic,
      alertKey: props.alertTopicKey ?? this.alertTopic.masterKey,
      lockTable: this.lockTable,
      records: { table: this.recordsTable, database: props.database.identifier },
      settings: rollback,
      deployPollInterval: settings.deployPollInterval,
      timeout: settings.releaseTimeout,
      logRetention: settings.logRetention,
    });
    this.rollbackFailureAlarm = this.createFailureAlarm(
      this.rollbackStateMachine,
      'RollbackFailureAlarm',
      'rollback',
    );
  }

  /**
   * The release lock's table: one item per database. A lock whose owner never gave it back is taken over at once
   * (preflight checks its expiry and its owner); TTL only tidies the table.
   */
  private createLockTable(): dynamodb.Table {
    return new dynamodb.Table(this, 'ReleaseLocks', {
      partitionKey: { name: 'lockId', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }

  /** The migrate function's security group and subnets, and the VPC endpoints it needs without a NAT gateway. */
  private createMigrateNetwork(props: ReleaseFlowProps): MigrateNetwork {
    // Nothing in by default; out only HTTPS (Secrets Manager, S3) and — added below — the database port.
    const securityGroup = new ec2.SecurityGroup(this, 'MigrateSecurityGroup', {
      vpc: props.vpc,
      description: 'lockstep migrate function: HTTPS to AWS APIs and the database port to the database',
      allowAllOutbound: false,
    });
    securityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'AWS APIs over HTTPS');
    const subnets = props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    this.checkRouteToAws(props, subnets);
    if (props.vpcEndpoints) {
      new ec2.InterfaceVpcEndpoint(this, 'SecretsManagerEndpoint', {
        vpc: props.vpc,
        service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
        subnets,
        privateDnsEnabled: true,
        open: false,
      }).connections.allowFrom(securityGroup, ec2.Port.tcp(443), 'lockstep migrate function');
      new ec2.GatewayVpcEndpoint(this, 'S3Endpoint', {
        vpc: props.vpc,
        service: ec2.GatewayVpcEndpointAwsService.S3,
        subnets: [subnets],
      });
    }
    return { securityGroup, subnets };
  }

  /**
   * What every function shares. Each gets its own role with no managed policy: writing to its own log group, X-Ray
   * (added by `tracing`), and what its step needs (grantFunctions).
   */
  private functionProps(
    name: string,
    settings: Settings,
    extra: Partial<nodejs.NodejsFunctionProps> = {},
  ): nodejs.NodejsFunctionProps {
    const logGroup = new logs.LogGroup(this, `${name}Logs`, {
      retention: settings.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(this, `${capitalize(name)}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `lockstep ${name} function`,
    });
    logGroup.grantWrite(role);
    return {
      entry: join(repoRoot, 'functions', name, 'handler.ts'),
      handler: 'handler',
      projectRoot: repoRoot,
      depsLockFilePath: dependencyLockFile(repoRoot),
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.seconds(60),
      tracing: lambda.Tracing.ACTIVE,
      role,
      logGroup,
      bundling: BUNDLING,
      ...extra,
      environment: { POWERTOOLS_LOG_LEVEL: 'INFO', ...extra.environment },
    };
  }

  /** The four functions, each configured through its environment (functions/<name>/config.ts reads it). */
  /** `bundledMigrations`: the checked copy of a bundled source's files and manifest, when this stack is bundled. */
  private createFunctions(
    props: ReleaseFlowProps,
    settings: Settings,
    network: MigrateNetwork | undefined,
    bundledMigrations: string | undefined,
    rollback: ResolvedRollback,
  ): FunctionSet {
    const common = (name: string, extra: Partial<nodejs.NodejsFunctionProps> = {}) =>
      this.functionProps(name, settings, extra);
    const s3Env: Record<string, string> = props.migrations.bucket
      ? { MIGRATIONS_BUCKET: props.migrations.bucket.bucketName, MIGRATIONS_PREFIX: props.migrations.prefix }
      : {};
    const preflight = new nodejs.NodejsFunction(
      this,
      'Preflight',
      common('preflight', {
        environment: {
          // Command mode has no migration files for preflight to find: it reports `command` and checks none.
          MIGRATIONS_SOURCE: props.migrations.kind,
          DB_IDENTIFIER: props.database.identifier,
          LOCK_TABLE: this.lockTable.tableName,
          RELEASE_TIMEOUT_SECONDS: String(settings.releaseTimeout.toSeconds()),
          ...s3Env,
        },
      }),
    );
    const snapshot = new nodejs.NodejsFunction(
      this,
      'Snapshot',
      common('snapshot', {
        environment: {
          DB_KIND: props.database.kind,
          DB_IDENTIFIER: props.database.identifier,
          SNAPSHOT_PREFIX,
          SNAPSHOTS_TO_KEEP: String(settings.snapshot.keep),
          SNAPSHOT_TIMEOUT_SECONDS: String(settings.snapshot.timeout.toSeconds()),
        },
      }),
    );
    // The SQL flow's function; command mode has no network for it, and no migrate function.
    const migrate =
      network &&
      new nodejs.NodejsFunction(
        this,
        'Migrate',
        common('migrate', {
          memorySize: settings.migrateMemorySize,
          timeout: settings.migrateTimeout,
          vpc: props.vpc,
          vpcSubnets: network.subnets,
          securityGroups: [network.securityGroup],
          environment: {
            DB_SECRET_ARN: props.databaseSecret.secretArn,
            DB_HOST: props.database.host,
            DB_PORT: props.database.port,
            ...(props.databaseName ? { DB_NAME: props.databaseName } : {}),
            // The runtime ships the RDS CA bundle but does not load it by default; TLS verification needs it.
            NODE_EXTRA_CA_CERTS: '/var/runtime/ca-cert.pem',
            LOCK_WAIT_SECONDS: String(settings.migrationLockWait.toSeconds()),
            HISTORY_TABLE: settings.historyTable,
            LOCK_TIMEOUT_MS: String(settings.lockTimeout.toMilliseconds()),
            LOCK_RETRIES: String(settings.lockRetries),
            STATEMENT_TIMEOUT_MS: String(settings.statementTimeout?.toMilliseconds() ?? 0),
            LINT_FAIL_ON: settings.lint.failOn,
            LINT_SMALL_TABLE_BYTES: String(settings.lint.smallTable.toBytes()),
            LINT_LARGE_TABLE_BYTES: String(settings.lint.largeTable.toBytes()),
            LINT_LONG_TRANSACTION_SECONDS: String(settings.lint.longTransaction.toSeconds()),
            ...s3Env,
          },
          bundling: {
            ...BUNDLING,
            commandHooks: {
              beforeBundling: () => [],
              beforeInstall: () => [],
              // Bundled migrations go beside the bundle as checked and split here, at synth, with their manifest: the
              // function runs from it and has no SQL parser.
              afterBundling: (_inputDir: string, outputDir: string) =>
                bundledMigrations ? [`cp -R "${bundledMigrations}" "${outputDir}/migrations"`] : [],
            },
          },
        }),
      );
    const deploy = new nodejs.NodejsFunction(
      this,
      'Deploy',
      common('deploy', {
        environment: {
          ECS_CLUSTER: props.service.cluster.clusterName,
          ECS_SERVICE: props.service.serviceName,
          CONTAINER_NAME: props.containerName,
          DEPLOY_TIMEOUT_SECONDS: String(settings.deployTimeout.toSeconds()),
          ...(props.imageParameter ? { IMAGE_PARAMETER: props.imageParameter.parameterName } : {}),
        },
      }),
    );
    const restore = new nodejs.NodejsFunction(
      this,
      'Restore',
      common('restore', { environment: restoreEnvironment(props.database, rollback) }),
    );
    const task = settings.migrationTask;
    const migrationTask = task
      ? new nodejs.NodejsFunction(
          this,
          'MigrationTask',
          common('migration-task', {
            environment: {
              ECS_CLUSTER: props.service.cluster.clusterName,
              CONTAINER_NAME: task.containerName,
              MIGRATION_TIMEOUT_SECONDS: String(task.timeout.toSeconds()),
              ...(task.pendingCheck
                ? { PENDING_CHECK_TIMEOUT_SECONDS: String(task.pendingCheck.timeout.toSeconds()) }
                : {}),
            },
          }),
        )
      : undefined;
    // The release's gate and the rollback's confirmation: each passes its own timeout in its event.
    const approval = new nodejs.NodejsFunction(
      this,
      'Approval',
      common('approval', {
        environment: {
          LOCK_TABLE: this.lockTable.tableName,
          DB_IDENTIFIER: props.database.identifier,
          ALERT_TOPIC_ARN: this.alertTopic.topicArn,
        },
      }),
    );
    return {
      preflight,
      snapshot,
      ...(migrate ? { migrate } : {}),
      deploy,
      ...(migrationTask ? { migrationTask } : {}),
      approval,
      restore,
    };
  }

  /** Least privilege: what each function's step needs, on its resources only; nag acknowledgements with reasons. */
  private grantFunctions(
    props: ReleaseFlowProps,
    settings: Settings,
    fns: FunctionSet,
    stateMachineNames: readonly string[],
  ): void {
    const { preflight, snapshot, migrate, deploy } = fns;
    const stack = Stack.of(this);
    const xray = XRAY;
    acknowledgeWildcard(preflight.role, '*', xray);
    acknowledgeWildcard(snapshot.role, '*', xray);
    if (migrate) grantMigrate(migrate, props, xray);
    if (props.migrations.bucket) {
      for (const fn of migrate ? [preflight, migrate] : [preflight])
        grantMigrationsRead(fn, props.migrations.bucket, props.migrations.prefix);
    }
    this.lockTable.grant(preflight, 'dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:DeleteItem');
    // Whether the lock's owner still runs: any execution of the release or the rollback state machine (both take it).
    const executions = stateMachineNames.map((name) =>
      stack.formatArn({
        service: 'states',
        resource: 'execution',
        resourceName: `${name}:*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    );
    preflight.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: executions }),
    );
    for (const arn of executions)
      acknowledgeWildcard(
        preflight.role,
        arn,
        'Preflight asks whether the execution holding the release lock still runs; executions are named per release or rollback, and only this construct’s two state machines’ may be described.',
      );
    grantSnapshots(snapshot, props.database, stack);
    grantDeploy(deploy, props.service, stack, xray);
    const task = settings.migrationTask;
    if (fns.migrationTask && task)
      grantMigrationTask(fns.migrationTask, props.service, task.containerName, stack, xray);
    if (props.imageParameter) this.recordImageIn(props.imageParameter, deploy, props);
    this.grantApprovalRequest(fns.approval, props, xray);
  }

  /**
   * The approval function: UpdateItem on the lock table (the token, on the item its execution holds) and Publish to the
   * alert topic (and its key). Nothing else: it never reads the token back, nor decides.
   */
  private grantApprovalRequest(fn: lambda.Function, props: ReleaseFlowProps, xray: string): void {
    this.lockTable.grant(fn, 'dynamodb:UpdateItem');
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [this.alertTopic.topicArn] }),
    );
    (props.alertTopicKey ?? this.alertTopic.masterKey)?.grant(fn, 'kms:Decrypt', 'kms:GenerateDataKey');
    acknowledgeWildcard(fn.role, '*', xray);
  }

  /**
   * Lets `grantee` decide at the approval gate (`lockstep approve` / `lockstep reject`): read the lock table, where the
   * waiting release's task token is (dynamodb:Scan, consistent), and send the decision (states:SendTaskSuccess and
   * states:SendTaskFailure). Those two actions have no resource-level permissions (Service Authorization Reference,
   * AWS Step Functions: no resource type for SendTaskSuccess or SendTaskFailure, so "you must specify all resources
   * ("*")"): holding a token is what lets someone decide, which is why only the lock table holds it. Who decided is
   * sts:GetCallerIdentity, which needs no permission.
   */
  grantDecide(grantee: iam.IGrantable): iam.Grant {
    const read = this.lockTable.grant(grantee, 'dynamodb:Scan');
    const decide = iam.Grant.addToPrincipal({
      grantee,
      actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
      resourceArns: ['*'],
    });
    if (Construct.isConstruct(grantee))
      acknowledgeWildcard(
        grantee,
        '*',
        'states:SendTaskSuccess and states:SendTaskFailure support no resource-level permissions; a task token, kept only in the release-lock table, is what lets someone decide (lockstep ReleaseFlow.grantDecide).',
      );
    return read.combine(decide);
  }

  /** The state machine (./release-definition.ts) with its execution log group, allowed to alert. */
  private createStateMachine(
    props: ReleaseFlowProps,
    settings: Settings,
    stateMachineName: string,
  ): sfn.StateMachine {
    // Step Functions Developer Guide, "Avoiding Amazon CloudWatch Logs resource policy size restrictions": "CloudWatch
    // Logs resource policies are limited to 5120 characters … To avoid reaching the CloudWatch Logs resource policy
    // size limit, prefix your CloudWatch Logs log group names with /aws/vendedlogs/".
    const logGroup = new logs.LogGroup(this, 'ExecutionLogs', {
      logGroupName: `/aws/vendedlogs/states/${stateMachineName}`,
      retention: settings.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(
        buildReleaseDefinition(new Construct(this, 'Definition'), {
          preflight: this.functions.preflight,
          snapshot: this.functions.snapshot,
          migrate: this.functions.migrate,
          deploy: this.functions.deploy,
          ...(settings.migrationTask && this.functions.migrationTask
            ? {
                migrationTask: {
                  spec: settings.migrationTask,
                  launch: serviceLaunch(props.service),
                  check: this.functions.migrationTask,
                },
              }
            : {}),
          alertTopic: this.alertTopic,
          lockTable: this.lockTable,
          records: { table: this.recordsTable, database: props.database.identifier },
          snapshots: settings.snapshot.enabled,
          snapshotPollInterval: settings.snapshot.pollInterval,
          deployPollInterval: settings.deployPollInterval,
          notifyOnSuccess: settings.notifyOnSuccess,
          ...(settings.approval
            ? { approval: { fn: this.functions.approval, timeout: settings.approval.timeout } }
            : {}),
          migrateTimeout: settings.migrateTimeout,
          functionTimeout: Duration.seconds(60),
        }),
      ),
      timeout: settings.releaseTimeout,
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    // Publishing to a KMS-encrypted topic needs the key too (the SnsPublish tasks grant sns:Publish only).
    const alertKey = props.alertTopicKey ?? this.alertTopic.masterKey;
    alertKey?.grant(stateMachine, 'kms:Decrypt', 'kms:GenerateDataKey');
    if (settings.migrationTask) {
      for (const statement of migrationTaskPolicy(props.service)) stateMachine.addToRolePolicy(statement);
      acknowledgeMigrationTaskPolicy(stateMachine.role, props.service);
    }
    for (const fn of Object.values(this.functions) as lambda.IFunction[]) {
      acknowledgeWildcard(
        stateMachine.role,
        `${fn.functionArn}:*`,
        'The LambdaInvoke tasks grant the function and its versions and aliases (`<arn>:*`); only the release functions (the migration-task function in command mode) are named.',
      );
    }
    acknowledgeWildcard(stateMachine.role, '*', STATE_MACHINE_WILDCARD_REASON);
    return stateMachine;
  }

  /** Fires on failed, timed-out and aborted executions, including failures no Catch sees; notifies the topic. */
  private createFailureAlarm(machine: sfn.StateMachine, id: string, what: string): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, {
      alarmDescription: `A lockstep ${what} execution failed, timed out or was aborted.`,
      metric: new cloudwatch.MathExpression({
        expression: 'failed + timedOut + aborted',
        usingMetrics: {
          failed: machine.metricFailed({ statistic: 'Sum' }),
          timedOut: machine.metricTimedOut({ statistic: 'Sum' }),
          aborted: machine.metricAborted({ statistic: 'Sum' }),
        },
        period: Duration.minutes(1),
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new cloudwatchActions.SnsAction(this.alertTopic));
    this.allowAlarmToAlert(alarm);
    return alarm;
  }

  /**
   * Lets `alarm` publish to the alert topic. An SNS access policy replaces SNS's default one, and `enforceSSL`
   * gives the topic a policy with only a Deny: without this statement CloudWatch is implicitly denied sns:Publish and
   * the alarm never notifies (AWS Knowledge Center, "Why didn't I receive an SNS notification for my CloudWatch
   * alarm trigger?": grant `cloudwatch.amazonaws.com` sns:Publish, restricted to the alarm with aws:SourceArn).
   * A topic imported from elsewhere cannot be changed here: a warning says what its policy needs.
   */
  allowAlarmToAlert(alarm: cloudwatch.IAlarm): void {
    const added = this.alertTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: `AllowAlarm${Names.nodeUniqueId(alarm.node)}`.slice(0, 100),
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.alertTopic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: { 'aws:SourceArn': alarm.alarmArn },
        },
      }),
    );
    if (!added.statementAdded) {
      Annotations.of(this).addWarningV2(
        'lockstep:alertTopicPolicy',
        `alertTopic is imported: its access policy must allow cloudwatch.amazonaws.com sns:Publish for ${alarm.node.path}, or the alarm stays silent`,
      );
    }
  }

  /**
   * The image to give the app's container so that CloudFormation and lockstep agree on it: the value of the SSM
   * parameter `parameterName` (pass the same parameter as `imageParameter`), read through a stack parameter of type
   * AWS::SSM::Parameter::Value<String>, which CloudFormation resolves again at every stack update. Pulling from
   * `repository`, if given, is granted to the task's execution role. The parameter must exist before the stack is
   * created: create it, with a first image that runs, in a stack deployed before this one. See ./released-image.ts.
   */
  static imageFromParameter(
    scope: Construct,
    parameterName: string,
    repository?: ecr.IRepository,
  ): ecs.ContainerImage {
    return imageFromParameter(scope, parameterName, repository);
  }

  /**
   * Starts a release whenever an image is pushed to `repository` with a tag (never `latest`), optionally only
   * tags with one of `options.tagPrefixes`. The release input names the image by digest; see ./release-triggers.ts.
   */
  onImagePush(repository: ecr.IRepository, options: ImagePushOptions = {}): events.Rule {
    return onImagePush(this, repository, options);
  }

  /**
   * A CodePipeline action that runs a release and succeeds only if the release does: put it in a stage and the
   * stage fails when the release fails. See ./release-triggers.ts.
   */
  pipelineAction(props: PipelineActionProps): codepipelineActions.StepFunctionInvokeAction {
    return pipelineAction(this, props);
  }

  /**
   * Isolated subnets without `vpcEndpoints` fail at synth, however they are selected; subnets the VPC does not list
   * (imported by ID) are warned about, since nothing here can tell whether they route to AWS's APIs.
   */
  private checkRouteToAws(props: ReleaseFlowProps, subnets: ec2.SubnetSelection): void {
    if (props.vpcEndpoints) return;
    const routes = classifySubnets(props.vpc, subnets);
    if (routes.isolated.length > 0)
      throw new Error(
        `ReleaseFlow: vpcEndpoints must be true when vpcSubnets selects isolated subnets (${routes.isolated.join(', ')}): ` +
          'the migrate function reaches Secrets Manager and S3 only through VPC endpoints there',
      );
    if (routes.unclassified.length > 0)
      Annotations.of(this).addWarningV2(
        'lockstep:vpcSubnets',
        `the migrate function's subnets ${routes.unclassified.join(', ')} are not among the VPC's public, private or isolated subnets, so lockstep cannot tell whether they reach Secrets Manager and S3: ` +
          'if they have no NAT route, set vpcEndpoints: true, or the migrate step fails on its first AWS call',
      );
  }

  /** The deploy function writes the released image to `parameter`, and may write nothing else. */
  private recordImageIn(
    parameter: ssm.IStringParameter,
    deploy: lambda.Function,
    props: ReleaseFlowProps,
  ): void {
    const name = parameter.parameterName;
    if (!Token.isUnresolved(name) && !SSM_PARAMETER_NAME.test(name))
      throw new Error(
        `ReleaseFlow: imageParameter must be an SSM parameter name such as /app/image, got ${name}`,
      );
    deploy.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['ssm:PutParameter'], resources: [parameter.parameterArn] }),
    );
    const container = props.service.taskDefinition.findContainer(props.containerName);
    if (container && !Token.isUnresolved(name) && !readsImageFrom(container, name)) {
      Annotations.of(this).addWarningV2(
        'lockstep:imageParameter',
        `container "${props.containerName}" does not read its image from imageParameter ${name}: a stack update would put the template's image back (use ReleaseFlow.imageFromParameter)`,
      );
    }
  }

  private createTopic(): sns.Topic {
    const key = new kms.Key(this, 'AlertKey', {
      description: 'Encrypts lockstep release alerts',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // CloudWatch alarms publish to the encrypted topic too.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );
    return new sns.Topic(this, 'Alerts', {
      displayName: 'lockstep release alerts',
      masterKey: key,
      enforceSSL: true,
    });
  }
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** The SQL flow's migrate function: the database port from its security group, its network interfaces, the secret. */
function grantMigrate(migrate: lambda.Function, props: ReleaseFlowProps, xray: string): void {
  // The database port from the migrate function's security group, and nothing else.
  props.database.connections.allowDefaultPortFrom(migrate, 'lockstep migrate function');
  grantNetworkInterfaces(migrate);
  acknowledgeWildcard(
    migrate.role,
    '*',
    `${xray} The VPC network-interface actions Lambda needs (ec2:CreateNetworkInterface, DescribeNetworkInterfaces, ` +
      'DescribeSubnets, DeleteNetworkInterface, Assign/UnassignPrivateIpAddresses) act on interfaces Lambda creates, ' +
      'whose IDs are not known in advance; the Describe actions support no resource-level permissions.',
  );
  props.databaseSecret.grantRead(migrate);
}

/** What AWSLambdaVPCAccessExecutionRole grants, minus its logs statement: Lambda manages the function's ENIs. */
function grantNetworkInterfaces(fn: lambda.Function): void {
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: [
        'ec2:CreateNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeSubnets',
        'ec2:DeleteNetworkInterface',
        'ec2:AssignPrivateIpAddresses',
        'ec2:UnassignPrivateIpAddresses',
      ],
      resources: ['*'],
    }),
  );
}

/**
 * Read access to the migrations under `prefix`: GetObject on its keys (HeadObject is authorized by it too), and
 * ListBucket on the bucket — unconditioned, because S3 answers a missing key with 404 (not 403) only to a caller
 * who may list the bucket, and preflight tells "not published" from "denied" by that.
 */
function grantMigrationsRead(fn: lambda.Function, bucket: s3.IBucket, prefix: string): void {
  const keys = bucket.arnForObjects(prefix ? `${prefix}/*` : '*');
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [keys] }));
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
  bucket.encryptionKey?.grantDecrypt(fn);
  acknowledgeWildcard(
    fn.role,
    keys,
    'Each release publishes its own folder `<prefix>/<release>/` under the migrations prefix; read-only (s3:GetObject), nothing outside the prefix.',
  );
}

function grantSnapshots(fn: lambda.Function, database: ReleaseDatabase, stack: Stack): void {
  const snapshotType = database.kind === 'instance' ? 'snapshot' : 'cluster-snapshot';
  const snapshots = stack.formatArn({
    service: 'rds',
    resource: snapshotType,
    resourceName: `${SNAPSHOT_PREFIX}-*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  const anySnapshot = stack.formatArn({
    service: 'rds',
    resource: snapshotType,
    resourceName: '*',
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  const [create, describe, remove, describeDatabase] =
    database.kind === 'instance'
      ? ['rds:CreateDBSnapshot', 'rds:DescribeDBSnapshots', 'rds:DeleteDBSnapshot', 'rds:DescribeDBInstances']
      : [
          'rds:CreateDBClusterSnapshot',
          'rds:DescribeDBClusterSnapshots',
          'rds:DeleteDBClusterSnapshot',
          'rds:DescribeDBClusters',
        ];
  // Create is authorized against both the database and the new snapshot; the tags given at create need AddTagsToResource on the snapshot.
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: [create], resources: [database.arn, snapshots] }));
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['rds:AddTagsToResource'], resources: [snapshots] }));
  // Describe*Snapshots accepts the database and snapshot resource types (both optional in the Service Authorization
  // Reference). Listing the database's manual snapshots returns others' snapshots too (prune skips them), so
  // the read is granted on every snapshot of the account and region, never only on lockstep's.
  fn.addToRolePolicy(
    new iam.PolicyStatement({ actions: [describe], resources: [database.arn, anySnapshot] }),
  );
  // A create refused for the database's state asks whether it is stopped (fail at once) or only busy (retry).
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: [describeDatabase], resources: [database.arn] }));
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: [remove],
      resources: [snapshots],
      conditions: { StringEquals: { 'aws:ResourceTag/lockstep:managed': 'true' } },
    }),
  );
  acknowledgeWildcard(
    fn.role,
    anySnapshot,
    `${describe} only (read-only): listing the database's manual snapshots returns snapshots lockstep did not take, which prune must see to leave alone.`,
  );
  acknowledgeWildcard(
    fn.role,
    snapshots,
    `Snapshot names are generated per release under the \`${SNAPSHOT_PREFIX}-\` prefix, so they cannot be listed in advance; ` +
      'deletes are further conditioned on the lockstep:managed=true tag.',
  );
}

/**
 * The migration-task function stops a timed-out migration task, found by its startedBy: ecs:ListTasks (no
 * resource-level permissions; the `ecs:cluster` condition keeps it to the service's cluster) and ecs:StopTask on
 * that cluster's tasks.
 */
function grantMigrationTask(
  fn: lambda.Function,
  service: ecs.BaseService,
  container: string,
  stack: Stack,
  xray: string,
): void {
  const cluster = { ArnEquals: { 'ecs:cluster': service.cluster.clusterArn } };
  // A failed command's last lines: the revision names the container's log configuration (DescribeTaskDefinition
  // supports no resource-level permissions), and GetLogEvents (resource type log-stream, Service Authorization
  // Reference) reads only the migration container's awslogs streams, `<prefix>/<container>/<task id>`.
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ecs:DescribeTaskDefinition'], resources: ['*'] }));
  const streams = migrationLogStreams(service, container, stack);
  if (streams) {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['logs:GetLogEvents'], resources: [streams] }));
    if (fn.role)
      acknowledgeWildcard(
        fn.role,
        streams,
        'A failed migration command’s last lines: GetLogEvents on the migration container’s awslogs streams only (`<prefix>/<container>/<task id>`); the task ID is known only once it runs.',
      );
  }
  fn.addToRolePolicy(
    new iam.PolicyStatement({ actions: ['ecs:ListTasks'], resources: ['*'], conditions: cluster }),
  );
  const clusterTasks = stack.formatArn({
    service: 'ecs',
    resource: 'task',
    resourceName: `${service.cluster.clusterName}/*`,
  });
  fn.addToRolePolicy(
    new iam.PolicyStatement({ actions: ['ecs:StopTask'], resources: [clusterTasks], conditions: cluster }),
  );
  if (fn.role) {
    acknowledgeWildcard(
      fn.role,
      '*',
      `${xray} ecs:ListTasks supports no resource-level permissions; the ecs:cluster condition limits it to the service’s cluster. ` +
        'ecs:DescribeTaskDefinition (read-only: where the migration container logs) supports no resource-level permissions.',
    );
    acknowledgeWildcard(
      fn.role,
      clusterTasks,
      'The timed-out migration task’s ID is not known in advance: StopTask on the service cluster’s tasks only.',
    );
  }
}

/**
 * The ARN of the migration container's awslogs streams, from its log driver's options at synth; undefined when it
 * does not log with awslogs and a stream prefix (the function then says so in the alert and reads nothing).
 */
function migrationLogStreams(service: ecs.BaseService, container: string, stack: Stack): string | undefined {
  const config = service.taskDefinition.findContainer(container)?.logDriverConfig;
  const group = config?.options?.['awslogs-group'];
  const prefix = config?.options?.['awslogs-stream-prefix'];
  if (config?.logDriver !== 'awslogs' || !group || !prefix) return undefined;
  const region = config.options?.['awslogs-region'];
  return stack.formatArn({
    service: 'logs',
    resource: 'log-group',
    resourceName: `${group}:log-stream:${prefix}/${container}/*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    ...(region ? { region } : {}),
  });
}

/** The nag acknowledgements for {@link migrationTaskPolicy}'s wildcards, each with its reason. */
function acknowledgeMigrationTaskPolicy(role: iam.IRole, service: ecs.BaseService): void {
  const stack = Stack.of(service);
  acknowledgeWildcard(
    role,
    stack.formatArn({
      service: 'ecs',
      resource: 'task-definition',
      resourceName: `${service.taskDefinition.family}:*`,
    }),
    'The migration task runs the revision the release registers, whose number is unknown in advance: RunTask on the service’s family only, on its cluster (ecs:cluster).',
  );
  acknowledgeWildcard(
    role,
    stack.formatArn({ service: 'ecs', resource: 'task', resourceName: `${service.cluster.clusterName}/*` }),
    'The migration task’s ID is known only once it runs: the .sync integration describes and stops it, and RunTask tags it, on the service cluster’s tasks only.',
  );
}

function grantDeploy(fn: lambda.Function, service: ecs.BaseService, stack: Stack, xray: string): void {
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['ecs:DescribeServices', 'ecs:UpdateService'],
      resources: [service.serviceArn],
    }),
  );
  // DescribeTaskDefinition supports no resource-level permissions; RegisterTaskDefinition requires the
  // task-definition resource type (Service Authorization Reference), so it is scoped to the service's family.
  fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ecs:DescribeTaskDefinition'], resources: ['*'] }));
  const revisions = stack.formatArn({
    service: 'ecs',
    resource: 'task-definition',
    resourceName: `${service.taskDefinition.family}:*`,
  });
  fn.addToRolePolicy(
    new iam.PolicyStatement({ actions: ['ecs:RegisterTaskDefinition'], resources: [revisions] }),
  );
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['ecs:TagResource'],
      resources: [revisions],
      conditions: { StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } },
    }),
  );
  const roles = [service.taskDefinition.taskRole, service.taskDefinition.executionRole].filter(
    (r): r is iam.IRole => r !== undefined,
  );
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ['iam:PassRole'],
      resources: roles.map((r) => r.roleArn),
      conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
    }),
  );
  acknowledgeWildcard(
    fn.role,
    '*',
    `${xray} ecs:DescribeTaskDefinition supports no resource-level permissions.`,
  );
  acknowledgeWildcard(
    fn.role,
    revisions,
    'Each release registers a new revision of the service’s task-definition family, whose number is unknown in advance: RegisterTaskDefinition, and tagging only at RegisterTaskDefinition (ecs:CreateAction), on that family alone.',
  );
}

type Settings = ReturnType<typeof resolveSettings>;

/** Applies the defaults in one place and rejects combinations that cannot work, naming the prop. */
function resolveSettings(props: ReleaseFlowProps) {
  const snapshot = {
    enabled: props.snapshot?.enabled ?? true,
    pollInterval: props.snapshot?.pollInterval ?? Duration.seconds(30),
    timeout: props.snapshot?.timeout ?? Duration.hours(2),
    keep: props.snapshot?.keep ?? 10,
  };
  const s = {
    snapshot,
    migrationLockWait: props.migrationLockWait ?? Duration.minutes(1),
    historyTable: props.historyTable ?? 'lockstep.schema_history',
    lockTimeout: props.lockTimeout ?? Duration.seconds(5),
    lockRetries: props.lockRetries ?? 5,
    statementTimeout: props.statementTimeout,
    migrateMemorySize: props.migrateMemorySize ?? 512,
    migrateTimeout: props.migrateTimeout ?? Duration.minutes(15),
    lint: {
      failOn: props.lint?.failOn ?? 'error',
      smallTable: props.lint?.smallTable ?? Size.mebibytes(10),
      largeTable: props.lint?.largeTable ?? Size.gibibytes(1),
      longTransaction: props.lint?.longTransaction ?? Duration.minutes(1),
    },
    deployPollInterval: props.deployPollInterval ?? Duration.seconds(30),
    deployTimeout: props.deployTimeout ?? Duration.minutes(30),
    notifyOnSuccess: props.notifyOnSuccess ?? false,
    releaseTimeout: props.releaseTimeout ?? Duration.hours(6),
    approval: props.approval ? { timeout: props.approval.timeout ?? Duration.hours(1) } : undefined,
    logRetention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
  };
  const migrationTask = props.migrations.command
    ? resolveMigrationTask(props.migrations.command, props.containerName, s.lockTimeout)
    : undefined;
  const fail = (prop: string, problem: string) => {
    throw new Error(`ReleaseFlow: ${prop} ${problem}`);
  };
  if (
    props.vpcSubnets?.subnetType === ec2.SubnetType.PRIVATE_ISOLATED &&
    !props.vpcEndpoints &&
    !migrationTask
  )
    fail(
      'vpcEndpoints',
      'must be true when vpcSubnets selects isolated subnets: the migrate function reaches Secrets Manager and S3 only through VPC endpoints there',
    );
  if (!props.containerName.trim())
    fail('containerName', 'must name a container of the service’s task definition');
  if (!Number.isInteger(snapshot.keep) || snapshot.keep < 1)
    fail('snapshot.keep', 'must be a whole number ≥ 1');
  if (
    snapshot.pollInterval.toSeconds() < 1 ||
    snapshot.pollInterval.toSeconds() >= snapshot.timeout.toSeconds()
  ) {
    fail('snapshot.pollInterval', 'must be at least 1 s and shorter than snapshot.timeout');
  }
  if (
    s.deployPollInterval.toSeconds() < 1 ||
    s.deployPollInterval.toSeconds() >= s.deployTimeout.toSeconds()
  ) {
    fail('deployPollInterval', 'must be at least 1 s and shorter than deployTimeout');
  }
  if (s.migrateTimeout.toSeconds() < 60 || s.migrateTimeout.toSeconds() > 900)
    fail('migrateTimeout', 'must be between 1 and 15 minutes (the Lambda limit)');
  if (s.migrationLockWait.toSeconds() >= s.migrateTimeout.toSeconds() - 20)
    fail(
      'migrationLockWait',
      'must leave the migrate function time to migrate: keep it well under migrateTimeout',
    );
  if (!/^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/.test(s.historyTable))
    fail('historyTable', 'must be `<schema>.<table>` (letters, digits and underscores)');
  if (s.lockTimeout.toMilliseconds() < 1 || s.lockTimeout.toSeconds({ integral: false }) >= 60)
    fail(
      'lockTimeout',
      'must be at least 1 ms and under a minute: each attempt blocks the table’s traffic for up to this long',
    );
  if (!Number.isInteger(s.lockRetries) || s.lockRetries < 0 || s.lockRetries > 100)
    fail('lockRetries', 'must be a whole number from 0 to 100');
  if (s.statementTimeout && s.statementTimeout.toMilliseconds() < 1)
    fail('statementTimeout', 'must be at least 1 ms (leave it out for none)');
  if (!['info', 'warning', 'error', 'never'].includes(s.lint.failOn))
    fail('lint.failOn', 'must be info, warning, error or never');
  if (s.lint.smallTable.toBytes() > s.lint.largeTable.toBytes())
    fail('lint.smallTable', 'must not be larger than lint.largeTable');
  if (s.migrateMemorySize < 128 || s.migrateMemorySize > 10240)
    fail('migrateMemorySize', 'must be 128–10240 MB');
  if (s.approval) {
    const seconds = s.approval.timeout.toSeconds({ integral: false });
    if (!Number.isInteger(seconds) || seconds < 60)
      fail('approval.timeout', 'must be a whole number of seconds, at least a minute');
  }
  // A release may first wait for the one before it (ReleaseInProgressError's retries in ERROR_POLICY).
  const lockQueue = ERROR_POLICY.ReleaseInProgressError;
  const longest =
    lockQueue.intervalSeconds * lockQueue.maxAttempts +
    snapshot.timeout.toSeconds() * (snapshot.enabled ? 1 : 0) +
    s.deployTimeout.toSeconds() +
    (s.approval?.timeout.toSeconds() ?? 0) +
    (migrationTask
      ? migrationTask.timeout.toSeconds() + (migrationTask.pendingCheck?.timeout.toSeconds() ?? 0)
      : // The SQL flow migrates twice: before the deploy, and its after-deploy migrations after it.
        2 * s.migrateTimeout.toSeconds());
  if (s.releaseTimeout.toSeconds() <= longest)
    fail(
      'releaseTimeout',
      migrationTask
        ? `must be longer than the wait for an earlier release (30 min) and the snapshot, ${migrationTask.pendingCheck ? 'pending check, ' : ''}${s.approval ? 'approval, ' : ''}migration command and deploy timeouts together`
        : `must be longer than the wait for an earlier release (30 min) and the snapshot, ${s.approval ? 'approval, ' : ''}migrate (twice: before and after the deploy) and deploy timeouts together`,
    );
  if (props.migrations.kind === 'bundled') {
    const dir = props.migrations.directory as string;
    if (!existsSync(dir) || !statSync(dir).isDirectory())
      fail('migrations', `bundled directory ${dir} does not exist`);
    else if (!readdirSync(dir).some((f) => f.endsWith('.sql')))
      fail('migrations', `bundled directory ${dir} holds no .sql files`);
  }
  if (
    props.snapshot &&
    !snapshot.enabled &&
    (props.snapshot.keep !== undefined || props.snapshot.timeout !== undefined)
  ) {
    fail('snapshot', 'sets keep or timeout but enabled is false');
  }
  return { ...s, migrationTask };
}

/** Command mode's settings with their defaults applied; throws naming the `migrations.command` prop at fault. */
function resolveMigrationTask(
  props: CommandMigrationsProps,
  containerName: string,
  lockTimeout: Duration,
): MigrationTaskSpec {
  const fail = (prop: string, problem: string): never => {
    throw new Error(`ReleaseFlow: migrations.command ${prop} ${problem}`);
  };
  const spec: MigrationTaskSpec = {
    command: [...props.command],
    containerName: props.container ?? containerName,
    environment: { ...props.environment },
    pgOptions:
      props.pgOptions === false
        ? undefined
        : (props.pgOptions ?? `-c lock_timeout=${lockTimeout.toMilliseconds()}`),
    cpu: props.cpu,
    memory: props.memory,
    timeout: props.timeout ?? Duration.hours(1),
    pendingCheck: props.pendingCheck
      ? { command: [...props.pendingCheck], timeout: props.pendingCheckTimeout ?? Duration.minutes(10) }
      : undefined,
  };
  if (spec.command.length === 0 || spec.command.some((word) => word.length === 0))
    fail('command', 'must be a non-empty list of non-empty words');
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(spec.containerName))
    fail(
      'container',
      'must name a container of the service’s task definition (letters, digits, "-" and "_")',
    );
  const seconds = spec.timeout.toSeconds({ integral: false });
  if (!Number.isInteger(seconds) || seconds < 60)
    fail('timeout', 'must be a whole number of seconds, at least a minute');
  if (props.pendingCheckTimeout && !props.pendingCheck)
    fail('pendingCheckTimeout', 'is set but pendingCheck is not');
  if (spec.pendingCheck) {
    const { command, timeout } = spec.pendingCheck;
    if (command.length === 0 || command.some((word) => word.length === 0))
      fail('pendingCheck', 'must be a non-empty list of non-empty words');
    const notACheck = knownNonCheck(command);
    if (notACheck) fail('pendingCheck', notACheck);
    const checkSeconds = timeout.toSeconds({ integral: false });
    if (!Number.isInteger(checkSeconds) || checkSeconds < 60 || checkSeconds > seconds)
      fail(
        'pendingCheckTimeout',
        'must be a whole number of seconds, at least a minute and at most the migration timeout',
      );
  }
  for (const name of Object.keys(spec.environment)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      fail(
        'environment',
        `names a variable "${name}" that is not a valid name (letters, digits, underscores)`,
      );
    if (name === 'PGOPTIONS') fail('environment', 'sets PGOPTIONS: use pgOptions');
  }
  if (spec.pgOptions !== undefined && !spec.pgOptions.trim())
    fail('pgOptions', 'must not be empty (false sets none)');
  for (const [prop, value] of [
    ['cpu', spec.cpu],
    ['memory', spec.memory],
  ] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1))
      fail(prop, 'must be a whole number ≥ 1 (leave it out to keep the task definition’s)');
  }
  return spec;
}

/**
 * Checks and splits the bundled migrations with PostgreSQL's parser, here at synth, into a directory the migrate
 * function's bundling copies: the files and their manifest. A file that cannot run as written throws
 * InvalidMigrationError naming file, line and column, and the synth fails.
 */
function checkBundledMigrations(directory: string): string {
  const out = FileSystem.mkdtemp('lockstep-migrations');
  // The bundling copies it into the asset during this synth; nothing needs it afterwards.
  process.once('exit', () => rmSync(out, { recursive: true, force: true }));
  bundleMigrationsSync(directory, out);
  return out;
}
