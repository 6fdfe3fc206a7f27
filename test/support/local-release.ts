/**
 * Runs the release state machine as synthesized, locally (aws-local-stepfunctions): each Lambda Task state
 * invokes the real handler of its function, built by the function's own setup from its environment as the
 * template sets it (rehearsal/functions.ts, as the local rehearsal builds them); each SNS Publish state a stub
 * that records the alert. AWS is mocked with aws-sdk-client-mock in front of the rehearsal's stand-ins (an RDS
 * instance that snapshots, an ECS service that rolls out), so a test can both assert on the calls and override
 * one; the release lock runs on dynalite; the migrate function runs against the test PostgreSQL over verified TLS.
 *
 * Fidelity notes — what this harness does the way the deployed state machine would:
 * - A handler's thrown error reaches Retry/Catch by its `name`, as Lambda's errorType does; its Cause is the
 *   JSON Lambda reports ({"errorType","errorMessage","trace"}), not the bare message.
 * - Events and results pass through JSON, as a Lambda invocation's payload does.
 * - SNS Publish rejects what SNS rejects (a subject over 100 characters, or not printable ASCII on one line).
 * - Wait states and retry intervals take 0 ms unless a run asks otherwise.
 * Where the interpreter differs: it sets $$.Execution.StartTime itself (to when the run starts), it gives a
 * Task with no TimeoutSeconds 60 s (Step Functions: no limit but the function's own), and an explicit
 * `"ResultPath": "$"` needs {@link forInterpreter}.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DeleteItemCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  StopTaskCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import {
  CreateDBSnapshotCommand,
  DeleteDBSnapshotCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import type pg from 'pg';
import { bundleMigrations } from '../../infra/constructs/bundled-migrations.ts';
import { READABLE_CAUSE } from '../../infra/constructs/readable-cause.ts';
import { STATE } from '../../infra/constructs/release-definition.ts';
import { ROLLBACK_STATE } from '../../infra/constructs/rollback-state-names.ts';
import {
  type LocalDefinition,
  type PerFunction,
  PLACEHOLDER,
  synthesizeReleaseDefinition,
} from '../../rehearsal/definition.ts';
import {
  handlerOf,
  invokeNamedFunction,
  localEnvironments,
  localFunctions,
} from '../../rehearsal/functions.ts';
import {
  type Alert,
  awaitTaskToken,
  deleteItemAsStepFunctions,
  type Handler,
  invokeAsLambda,
  type LambdaContext,
  publishAsSns,
  putItemAsStepFunctions,
  runLocally,
  updateItemAsStepFunctions,
} from '../../rehearsal/interpreter.ts';
import { withMigrationTimeout } from '../../rehearsal/migration-command.ts';
import { LOCAL_ACCOUNT, LOCAL_CLIENT_CONFIG } from '../../rehearsal/stand-ins/account.ts';
import { LocalEcsService } from '../../rehearsal/stand-ins/ecs.ts';
import { LocalLogs } from '../../rehearsal/stand-ins/logs.ts';
import { LocalRds, MemorySnapshots } from '../../rehearsal/stand-ins/rds.ts';
import { LocalSecrets } from '../../rehearsal/stand-ins/secrets.ts';
import { LocalParameters } from '../../rehearsal/stand-ins/ssm.ts';
import { LocalTaskTokens } from '../../rehearsal/stand-ins/task-tokens.ts';
import { LOCAL_CREDENTIALS, type LocalDynamo, startDynamo } from './dynalite.ts';

/**
 * The AWS resources the functions are configured for: what the example stack's references resolve to locally
 * (rehearsal/definition.ts). {@link createLocalRelease} checks them against the synthesized environments.
 */
export const TARGET = {
  dbIdentifier: 'database',
  secretArn: `arn:aws:secretsmanager:${PLACEHOLDER.region}:${PLACEHOLDER.account}:secret:DatabaseSecretAttachment-AbCdEf`,
  cluster: 'Cluster',
  service: 'AppService',
  container: 'app',
  family: 'app',
  initialImage: `${PLACEHOLDER.account}.dkr.ecr.${PLACEHOLDER.region}.amazonaws.com/app:initial`,
  /** The awslogs group the release container writes to (stream prefix: the container's name). */
  logGroup: '/ecs/app',
} as const;

/** Three migrations for the release tests to apply. */
export const FIXTURE_MIGRATIONS: Readonly<Record<string, string>> = {
  '0001_create_accounts.sql': 'CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);',
  '0002_create_projects.sql':
    'CREATE TABLE projects (id bigint PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts (id), name text NOT NULL);',
  '0003_add_account_name.sql': 'ALTER TABLE accounts ADD COLUMN name text;',
};

/** A release input as a pipeline would start the state machine with. */
export function releaseInput(
  extra: Record<string, unknown> = {},
): { release: string; image: string } & Record<string, unknown> {
  return {
    release: 'v1.4.0',
    image: `${PLACEHOLDER.account}.dkr.ecr.${PLACEHOLDER.region}.amazonaws.com/app:v1.4.0`,
    ...extra,
  };
}

/** Drops what the fixture migrations and the engine created, so each test starts from an empty database. */
export async function resetDatabase(client: pg.Client): Promise<void> {
  await client.query(
    'DROP SCHEMA IF EXISTS lockstep CASCADE; DROP TABLE IF EXISTS projects, accounts CASCADE',
  );
}

export interface LocalReleaseSetup {
  /** The test database the migrate function connects to (its credentials go into the mocked secret). */
  readonly databaseUrl: string;
  /** The migrations bundled with the migrate function. */
  readonly migrationsDir: string;
  /** More environment variables for the functions, or overrides (SNAPSHOT_TIMEOUT_SECONDS, LOCK_WAIT_SECONDS…). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Command mode: the example stack with this migration command, given as `-c migrationCommand` (a JSON array).
   * @default - none: bundled SQL migrations
   */
  readonly migrationCommand?: readonly string[];
  /** Command mode: the migration task's TimeoutSeconds, as the rehearsal's `--migration-timeout` sets it. */
  readonly migrationTimeoutSeconds?: number;
  /** Command mode's pending check, given as `-c pendingCheckCommand` (a JSON array). @default - none */
  readonly pendingCheckCommand?: readonly string[];
  /** The example stack with its approval gate (`-c approval=true`). @default false */
  readonly approval?: boolean;
  /**
   * With `approval`, or the rollback machine: the gate's (the confirmation's) TimeoutSeconds for these runs; the
   * function's notification says the same.
   */
  readonly approvalTimeoutSeconds?: number;
  /** Which state machine `runRelease` executes: the release, or the rollback (issue 16). @default 'release' */
  readonly machine?: 'release' | 'rollback';
}

const mockAws = () => ({
  logs: mockClient(CloudWatchLogsClient),
  rds: mockClient(RDSClient),
  ecs: mockClient(ECSClient),
  sfn: mockClient(SFNClient),
  secrets: mockClient(SecretsManagerClient),
  ssm: mockClient(SSMClient),
  sns: mockClient(SNSClient),
});
/** The aws-sdk-client-mock stubs of the four clients the functions use. */
export type AwsMocks = ReturnType<typeof mockAws>;

/**
 * Replaces a Task state's local handler for one run. `invoke` calls what the state would call — the real
 * function (with a Lambda context of your choosing) or the SNS stub; `attempt` counts this state's
 * invocations in the run, from 1.
 */
export type TaskOverride = (
  input: unknown,
  invoke: (input: unknown, context?: LambdaContext) => Promise<unknown>,
  attempt: number,
) => unknown;

export interface RunReleaseOptions {
  /** Per Task state name: run this instead of the plain real handler. */
  readonly tasks?: Readonly<Record<string, TaskOverride>>;
  /** Per Wait state name: how long it pauses, in ms. @default 0 for every Wait state */
  readonly waits?: Readonly<Record<string, number>>;
  /** The execution's name, the last part of its ARN. @default - a unique one */
  readonly executionName?: string;
}

export interface TaskCall {
  readonly state: string;
  readonly input: unknown;
  readonly output?: unknown;
  /** The error's name, when the invocation threw. */
  readonly error?: string;
}

/** The events aws-local-stepfunctions logs, as far as the tests read them. */
export interface ExecutionEvent {
  readonly type: string;
  readonly state?: { readonly name: string; readonly input?: unknown; readonly output?: unknown };
  readonly retry?: { readonly attempt: number; readonly retrier: { readonly ErrorEquals: string[] } };
  readonly Error?: string;
  readonly Cause?: unknown;
}

export interface ReleaseRun {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly executionArn: string;
  /** The execution's error, as Step Functions reports it, when it failed. */
  readonly error?: string;
  readonly cause?: string;
  readonly output?: unknown;
  /**
   * Every state entered, in order (a retried state once per entry, not per attempt), except the release-record
   * states and the failure path's readable-cause states, which are bookkeeping beside every path: those are in
   * {@link recordStates} and {@link causeStates}.
   */
  readonly states: readonly string[];
  /** The release-record states entered (`Record view (…)`, `Record release (…)`, their alert), in order. */
  readonly recordStates: readonly string[];
  /** The failure path's readable-cause states entered (infra/constructs/readable-cause.ts), in order. */
  readonly causeStates: readonly string[];
  /** Messages published by SNS Publish states. */
  readonly alerts: readonly Alert[];
  /** Every Task state invocation, in order, retries included. */
  readonly calls: readonly TaskCall[];
  readonly events: readonly ExecutionEvent[];
}

export interface LocalRelease {
  readonly definition: LocalDefinition;
  /** The release-lock and release-records tables' DynamoDB (dynalite): preflight and the lock and record states use it for real. */
  readonly dynamo: LocalDynamo;
  /** The functions' real handlers, as the Task states invoke them. */
  readonly handlers: Readonly<PerFunction<Handler>>;
  readonly aws: AwsMocks;
  readonly rds: LocalRds;
  /** Where `rds` keeps its snapshots: seed an earlier release's here. */
  readonly snapshots: MemorySnapshots;
  readonly ecs: LocalEcsService;
  /** The release container's CloudWatch Logs streams (group {@link TARGET}.logGroup): write a task's output here. */
  readonly logs: LocalLogs;
  /** Resets every mock and fake to a healthy instance and service. Call it in beforeEach. */
  reset(): void;
  /** Deletes the database's release lock, whoever holds it. Call it in beforeEach too. */
  clearLock(): Promise<void>;
  /** Which execution holds the database's release lock, read consistently; undefined when none does. */
  lockOwner(): Promise<string | undefined>;
  /** The approval gate's task tokens: `nextWait()` resolves when a run waits for a decision; decide through `client()`. */
  readonly tokens: LocalTaskTokens;
  /** Starts an execution with `input` and runs it to its end. */
  runRelease(input: unknown, options?: RunReleaseOptions): Promise<ReleaseRun>;
}

/** What a Lambda with the default 15-minute migrate timeout has left when invoked. */
const FULL_TIME: LambdaContext = { getRemainingTimeInMillis: () => 900_000 };

/**
 * Synthesizes the definition, builds the functions from their synthesized environments (each reads its
 * configuration once, as at a cold start) and mocks AWS. Once per test file: the handlers stay built.
 */
export async function createLocalRelease(setup: LocalReleaseSetup): Promise<LocalRelease> {
  const { migrationCommand, migrationTimeoutSeconds, pendingCheckCommand } = setup;
  const synthesized = synthesizeReleaseDefinition({
    context: {
      ...(migrationCommand
        ? {
            migrationCommand: JSON.stringify(migrationCommand),
            ...(pendingCheckCommand ? { pendingCheckCommand: JSON.stringify(pendingCheckCommand) } : {}),
          }
        : {}),
      ...(setup.approval ? { approval: 'true' } : {}),
    },
    ...(setup.machine ? { machine: setup.machine } : {}),
  });
  const timed =
    migrationTimeoutSeconds === undefined
      ? synthesized
      : withMigrationTimeout(synthesized, migrationTimeoutSeconds);
  const definition =
    setup.approvalTimeoutSeconds === undefined
      ? timed
      : withApprovalTimeout(timed, setup.approvalTimeoutSeconds);
  const url = new URL(setup.databaseUrl);
  const dynamo = await startDynamo();
  await dynamo.createLockTable(definition.lockTableName);
  await dynamo.createRecordsTable(definition.recordsTableName);
  const bundled = bundledMigrations(setup.migrationsDir);
  await bundled.update();
  const options = {
    database: { host: 'localhost', port: Number(url.port), caFile: process.env.LOCKSTEP_TEST_CA_FILE },
    migrationsDir: bundled.dir,
    env: { DB_NAME: decodeURIComponent(url.pathname.slice(1)), ...setup.env },
    logger: new Logger({ serviceName: 'lockstep-test', logLevel: 'ERROR' }),
  };
  checkTarget(localEnvironments(definition, options));
  const aws = mockAws();
  // Plain SDK clients, which aws-sdk-client-mock intercepts; the lock's DynamoDB client reaches dynalite.
  const handlers = localFunctions(
    definition,
    {
      sfn: new SFNClient(LOCAL_CLIENT_CONFIG),
      s3: new S3Client(LOCAL_CLIENT_CONFIG),
      dynamodb: new DynamoDBClient({
        region: LOCAL_ACCOUNT.region,
        endpoint: dynamo.endpoint,
        credentials: LOCAL_CREDENTIALS,
      }),
      rds: new RDSClient(LOCAL_CLIENT_CONFIG),
      secrets: new SecretsManagerClient(LOCAL_CLIENT_CONFIG),
      ecs: new ECSClient(LOCAL_CLIENT_CONFIG),
      ssm: new SSMClient(LOCAL_CLIENT_CONFIG),
      logs: new CloudWatchLogsClient(LOCAL_CLIENT_CONFIG),
      sns: new SNSClient(LOCAL_CLIENT_CONFIG),
    },
    options,
  );
  const tokens = new LocalTaskTokens();
  // The approval function's own notifications go to the alerts of the run in progress.
  let published: Alert[] = [];
  const snapshots = new MemorySnapshots(TARGET.dbIdentifier);
  const rds = new LocalRds({ account: LOCAL_ACCOUNT, instance: TARGET.dbIdentifier, store: snapshots });
  const ecs = new LocalEcsService({
    account: LOCAL_ACCOUNT,
    cluster: TARGET.cluster,
    service: TARGET.service,
    container: TARGET.container,
    family: TARGET.family,
    initialImage: TARGET.initialImage,
    desiredCount: 2,
    awslogs: { group: TARGET.logGroup, streamPrefix: TARGET.container },
  });
  const logs = new LocalLogs();
  const secrets = new LocalSecrets();
  secrets.putDatabaseCredentials(TARGET.secretArn, setup.databaseUrl);
  let parameters = new LocalParameters();

  const reset = () => {
    for (const mock of Object.values(aws)) mock.reset();
    rds.reset();
    snapshots.clear();
    ecs.reset();
    logs.clear();
    aws.logs.on(GetLogEventsCommand).callsFake((input) => logs.getLogEvents(input));
    aws.rds.on(CreateDBSnapshotCommand).callsFake((input) => rds.createDBSnapshot(input));
    aws.rds.on(DescribeDBSnapshotsCommand).callsFake((input) => rds.describeDBSnapshots(input));
    aws.rds.on(DeleteDBSnapshotCommand).callsFake((input) => rds.deleteDBSnapshot(input));
    aws.ecs.on(DescribeServicesCommand).callsFake((input) => ecs.describeServices(input));
    aws.ecs.on(DescribeTaskDefinitionCommand).callsFake((input) => ecs.describeTaskDefinition(input));
    aws.ecs.on(RegisterTaskDefinitionCommand).callsFake((input) => ecs.registerTaskDefinition(input));
    aws.ecs.on(UpdateServiceCommand).callsFake((input) => ecs.updateService(input));
    aws.ecs.on(ListTasksCommand).callsFake((input) => ecs.listTasks(input));
    aws.ecs.on(StopTaskCommand).callsFake((input) => ecs.stopTask(input));
    aws.secrets.on(GetSecretValueCommand).callsFake((input) => secrets.getSecretValue(input));
    parameters = new LocalParameters();
    aws.ssm.on(PutParameterCommand).callsFake((input) => parameters.putParameter(input));
    aws.ssm.on(GetParameterCommand).callsFake((input) => parameters.getParameter(input));
    // Every execution a lock names is still running unless a test says otherwise.
    aws.sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
    aws.sns.on(PublishCommand).callsFake((input) => publishAsSns(input, (alert) => published.push(alert)));
  };
  reset();

  async function runRelease(input: unknown, options: RunReleaseOptions = {}): Promise<ReleaseRun> {
    await bundled.update();
    for (const state of Object.keys(options.tasks ?? {})) {
      if (!(state in definition.taskStates))
        throw new Error(`no Task state named "${state}" in the definition`);
    }
    const name = options.executionName ?? `release-${randomBytes(4).toString('hex')}`;
    const alerts: Alert[] = [];
    published = alerts;
    const calls: TaskCall[] = [];
    const attempts = new Map<string, number>();
    for (const state of Object.keys(options.tasks ?? {})) {
      if (!(state in definition.taskStates))
        throw new Error(`no Task state named "${state}" in the definition`);
    }
    const run = await runLocally(definition, input, {
      executionName: name,
      taskTokens: tokens,
      waitMs: (state) => options.waits?.[state] ?? 0,
      invoke: async (state, kind, params) => {
        const invoke = async (p: unknown, context: LambdaContext = FULL_TIME) =>
          kind === 'sns'
            ? publishAsSns(p, (alert) => alerts.push(alert))
            : kind === 'dynamodb'
              ? deleteItemAsStepFunctions(dynamo.client, p)
              : kind === 'record'
                ? putItemAsStepFunctions(dynamo.client, p)
                : kind === 'ecsRunTask'
                  ? ecs.runTaskSync(p, state === STATE.runPendingCheck ? 'pendingCheck' : 'migration')
                  : kind === 'dynamodbUpdate'
                    ? updateItemAsStepFunctions(dynamo.client, p)
                    : kind === 'awaitToken'
                      ? awaitTaskToken(tokens, p, () => invokeNamedFunction(definition, handlers, p, context))
                      : invokeAsLambda(handlerOf(handlers, kind), p, context);
        const attempt = (attempts.get(state) ?? 0) + 1;
        attempts.set(state, attempt);
        const override = options.tasks?.[state];
        try {
          const output = await (override ? override(params, invoke, attempt) : invoke(params));
          calls.push({ state, input: params, output });
          return output;
        } catch (err) {
          calls.push({ state, input: params, error: (err as Error).name });
          throw err;
        }
      },
    });
    const entered = run.events.filter((e) => e.type === 'StateEntered').map((e) => e.state?.name as string);
    return {
      ...run,
      states: entered.filter((name) => !isRecordState(name) && !isCauseState(name)),
      recordStates: entered.filter(isRecordState),
      causeStates: entered.filter(isCauseState),
      alerts,
      calls,
      events: run.events as unknown as ExecutionEvent[],
    } as ReleaseRun;
  }

  const clearLock = async () => {
    await dynamo.client.send(
      new DeleteItemCommand({
        TableName: definition.lockTableName,
        Key: { lockId: { S: TARGET.dbIdentifier } },
      }),
    );
  };

  const lockOwner = async () => {
    const out = await dynamo.client.send(
      new GetItemCommand({
        TableName: definition.lockTableName,
        Key: { lockId: { S: TARGET.dbIdentifier } },
        ConsistentRead: true,
      }),
    );
    return out.Item?.owner?.S;
  };

  return {
    definition,
    dynamo,
    handlers,
    aws,
    rds,
    snapshots,
    ecs,
    logs,
    reset,
    clearLock,
    lockOwner,
    runRelease,
    tokens,
  };
}

/** The approval gate's TimeoutSeconds (the rollback's: its confirmation's), and the approval function's word for it. */
function withApprovalTimeout(local: LocalDefinition, seconds: number): LocalDefinition {
  const definition = structuredClone(local.definition);
  const name = [STATE.awaitApproval, ROLLBACK_STATE.confirmSwitch].find((n) => definition.States[n]);
  const state = name && definition.States[name];
  if (!name || !state) throw new Error('the definition has no approval gate: set approval');
  const parameters = state.Parameters as { Payload: Record<string, unknown> };
  definition.States[name] = {
    ...state,
    TimeoutSeconds: seconds,
    Parameters: { ...parameters, Payload: { ...parameters.Payload, timeoutSeconds: seconds } },
  };
  return { ...local, definition };
}

/** The failure path's readable-cause states (infra/constructs/readable-cause.ts). */
const isCauseState = (name: string) => (Object.values(READABLE_CAUSE) as string[]).includes(name);

/** The release-record states (infra/constructs/release-records.ts) and their alert's. */
const isRecordState = (name: string) =>
  /^(Record (view|release)|Alert: record|Send record alert) \(/.test(name);

/** {@link TARGET} must be what the functions are configured with, or the stand-ins answer for something else. */
function checkTarget(env: PerFunction<Record<string, string>>): void {
  const expected: Array<[string, string | undefined, string]> = [
    ['snapshot DB_IDENTIFIER', env.snapshot.DB_IDENTIFIER, TARGET.dbIdentifier],
    ['preflight DB_IDENTIFIER', env.preflight.DB_IDENTIFIER, TARGET.dbIdentifier],
    ...(env.migrate
      ? ([['migrate DB_SECRET_ARN', env.migrate.DB_SECRET_ARN, TARGET.secretArn]] as Array<
          [string, string | undefined, string]
        >)
      : []),
    ['deploy ECS_CLUSTER', env.deploy.ECS_CLUSTER, TARGET.cluster],
    ['deploy ECS_SERVICE', env.deploy.ECS_SERVICE, TARGET.service],
    ['deploy CONTAINER_NAME', env.deploy.CONTAINER_NAME, TARGET.container],
    ...(env.migrationTask
      ? ([
          ['migrationTask ECS_CLUSTER', env.migrationTask.ECS_CLUSTER, TARGET.cluster],
          ['migrationTask CONTAINER_NAME', env.migrationTask.CONTAINER_NAME, TARGET.container],
        ] as Array<[string, string | undefined, string]>)
      : []),
  ];
  for (const [what, actual, wanted] of expected)
    if (actual !== wanted) throw new Error(`the synthesized ${what} is ${actual}; TARGET says ${wanted}`);
}

/**
 * The migrations as the synth bundles them into the migrate function (checked, split, beside their manifest), in a
 * directory removed when the process exits. `update` bundles the directory as it is now, as a deploy before each
 * release would: tests change the files between releases.
 */
function bundledMigrations(source: string): { readonly dir: string; update(): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-bundled-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    async update() {
      rmSync(dir, { recursive: true, force: true });
      await bundleMigrations(source, dir);
    },
  };
}
