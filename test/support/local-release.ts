/**
 * Runs the release state machine as synthesized, locally (aws-local-stepfunctions): each Lambda Task state
 * invokes the real handler of its function, each SNS Publish state a stub that records the alert. AWS is
 * mocked with aws-sdk-client-mock behind small stateful fakes (an RDS instance that snapshots, an ECS service
 * that rolls out); the migrate function runs against the test PostgreSQL over verified TLS.
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
import { DeleteItemCommand, type DeleteItemCommandInput } from '@aws-sdk/client-dynamodb';
import {
  type Deployment,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  type DescribeTaskDefinitionCommandInput,
  ECSClient,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  type Service,
  type TaskDefinition,
  UpdateServiceCommand,
  type UpdateServiceCommandInput,
} from '@aws-sdk/client-ecs';
import {
  CreateDBSnapshotCommand,
  type CreateDBSnapshotCommandInput,
  type DBSnapshot,
  DBSnapshotNotFoundFault,
  DeleteDBSnapshotCommand,
  type DeleteDBSnapshotCommandInput,
  DescribeDBSnapshotsCommand,
  type DescribeDBSnapshotsCommandInput,
  type DescribeDBSnapshotsCommandOutput,
  RDSClient,
} from '@aws-sdk/client-rds';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import type pg from 'pg';
import { bundleMigrations } from '../../infra/constructs/bundled-migrations.ts';
import {
  type LocalDefinition,
  PLACEHOLDER,
  type ReleaseFunctionName,
  synthesizeReleaseDefinition,
} from '../../infra/local-definition.ts';
import {
  type Alert,
  type Handler,
  invokeAsLambda,
  type LambdaContext,
  publishAsSns,
  runLocally,
} from '../../infra/local-runner.ts';
import { LOCAL_CREDENTIALS, type LocalDynamo, startDynamo } from './dynalite.ts';

/** The AWS resources the functions are configured for. */
export const TARGET = {
  dbIdentifier: 'app-db',
  secretArn: `arn:aws:secretsmanager:${PLACEHOLDER.region}:${PLACEHOLDER.account}:secret:lockstep-db-AbCdEf`,
  cluster: 'app-cluster',
  service: 'app-service',
  container: 'app',
  family: 'app',
  initialImage: `${PLACEHOLDER.account}.dkr.ecr.${PLACEHOLDER.region}.amazonaws.com/app:initial`,
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
}

const mockAws = () => ({
  rds: mockClient(RDSClient),
  ecs: mockClient(ECSClient),
  sfn: mockClient(SFNClient),
  secrets: mockClient(SecretsManagerClient),
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
  /** Every state entered, in order (a retried state once per entry, not per attempt). */
  readonly states: readonly string[];
  /** Messages published by SNS Publish states. */
  readonly alerts: readonly Alert[];
  /** Every Task state invocation, in order, retries included. */
  readonly calls: readonly TaskCall[];
  readonly events: readonly ExecutionEvent[];
}

export interface LocalRelease {
  readonly definition: LocalDefinition;
  /** The release-lock table's DynamoDB (dynalite): preflight and the lock states use it for real. */
  readonly dynamo: LocalDynamo;
  /** The functions' real handlers, as the Task states invoke them. */
  readonly handlers: Readonly<Record<ReleaseFunctionName, Handler>>;
  readonly aws: AwsMocks;
  readonly rds: FakeRds;
  readonly ecs: FakeEcs;
  /** Resets every mock and fake to a healthy instance and service. Call it in beforeEach. */
  reset(): void;
  /** Deletes the database's release lock, whoever holds it. Call it in beforeEach too. */
  clearLock(): Promise<void>;
  /** Starts an execution with `input` and runs it to its end. */
  runRelease(input: unknown, options?: RunReleaseOptions): Promise<ReleaseRun>;
}

/** What a Lambda with the default 15-minute migrate timeout has left when invoked. */
const FULL_TIME: LambdaContext = { getRemainingTimeInMillis: () => 900_000 };

/**
 * Synthesizes the definition, sets the functions' environment, loads their handlers (each reads its
 * configuration once, as at a cold start) and mocks AWS. Once per test file: the handlers stay loaded.
 */
export async function createLocalRelease(setup: LocalReleaseSetup): Promise<LocalRelease> {
  const definition = synthesizeReleaseDefinition();
  const url = new URL(setup.databaseUrl);
  const dynamo = await startDynamo();
  await dynamo.createLockTable(definition.lockTableName);
  const bundled = bundledMigrations(setup.migrationsDir);
  await bundled.update();
  Object.assign(process.env, {
    AWS_REGION: PLACEHOLDER.region,
    // The preflight function's DynamoDB client reaches dynalite; every other client is mocked.
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    POWERTOOLS_LOG_LEVEL: 'ERROR',
    // preflight
    MIGRATIONS_SOURCE: 'bundled',
    DB_IDENTIFIER: TARGET.dbIdentifier,
    LOCK_TABLE: definition.lockTableName,
    // snapshot
    DB_KIND: 'instance',
    SNAPSHOT_PREFIX: 'lockstep',
    SNAPSHOTS_TO_KEEP: '10',
    SNAPSHOT_TIMEOUT_SECONDS: '7200',
    // migrate
    DB_SECRET_ARN: TARGET.secretArn,
    DB_HOST: 'localhost',
    DB_PORT: url.port,
    DB_NAME: decodeURIComponent(url.pathname.slice(1)),
    DB_CA_FILE: process.env.LOCKSTEP_TEST_CA_FILE,
    MIGRATIONS_DIR: bundled.dir,
    LOCK_WAIT_SECONDS: '60',
    // deploy
    ECS_CLUSTER: TARGET.cluster,
    ECS_SERVICE: TARGET.service,
    CONTAINER_NAME: TARGET.container,
    DEPLOY_TIMEOUT_SECONDS: '1800',
    ...setup.env,
  });
  const aws = mockAws();
  const handlers: Record<ReleaseFunctionName, Handler> = {
    preflight: (await import('../../functions/preflight/handler.ts')).handler,
    snapshot: (await import('../../functions/snapshot/handler.ts')).handler,
    migrate: (await import('../../functions/migrate/handler.ts')).handler,
    deploy: (await import('../../functions/deploy/handler.ts')).handler,
  };
  const rds = new FakeRds(aws.rds);
  const ecs = new FakeEcs(aws.ecs);
  const credentials = {
    username: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    engine: 'postgres',
  };

  const reset = () => {
    for (const mock of Object.values(aws)) mock.reset();
    rds.reset();
    ecs.reset();
    aws.secrets.on(GetSecretValueCommand, { SecretId: TARGET.secretArn }).resolves({
      SecretString: JSON.stringify(credentials),
    });
    // Every execution a lock names is still running unless a test says otherwise.
    aws.sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
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
    const calls: TaskCall[] = [];
    const attempts = new Map<string, number>();
    for (const state of Object.keys(options.tasks ?? {})) {
      if (!(state in definition.taskStates))
        throw new Error(`no Task state named "${state}" in the definition`);
    }
    const run = await runLocally(definition, input, {
      executionName: name,
      waitMs: (state) => options.waits?.[state] ?? 0,
      invoke: async (state, kind, params) => {
        const invoke = async (p: unknown, context: LambdaContext = FULL_TIME) =>
          kind === 'sns'
            ? publishAsSns(p, (alert) => alerts.push(alert))
            : kind === 'dynamodb'
              ? deleteItemAsStepFunctions(dynamo, p)
              : invokeAsLambda(handlers[kind], p, context);
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
    return {
      ...run,
      states: run.events.filter((e) => e.type === 'StateEntered').map((e) => e.state?.name as string),
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

  return { definition, dynamo, handlers, aws, rds, ecs, reset, clearLock, runRelease };
}

/** The DynamoDB DeleteItem integration: the call itself, its errors named `DynamoDB.<exception>` as Step Functions names them. */
async function deleteItemAsStepFunctions(dynamo: LocalDynamo, params: unknown): Promise<unknown> {
  try {
    const { $metadata: _, ...out } = await dynamo.client.send(
      new DeleteItemCommand(params as DeleteItemCommandInput),
    );
    return out;
  } catch (err) {
    const e = err as Error;
    throw Object.assign(new Error(e.message), { name: `DynamoDB.${e.name}` });
  }
}

// ---------------------------------------------------------------------------------------------------------
// A fake RDS DB instance: snapshots are created, advance through `statuses` as they are checked, and list.

export class FakeRds {
  /** What successive status checks of a new snapshot report (it is created "creating"); the last one repeats. */
  statuses: string[] = ['creating', 'available'];
  readonly snapshots = new Map<string, DBSnapshot>();
  private readonly pending = new Map<string, string[]>();

  constructor(private readonly mock: AwsMocks['rds']) {}

  reset(): void {
    this.statuses = ['creating', 'available'];
    this.snapshots.clear();
    this.pending.clear();
    this.mock.on(CreateDBSnapshotCommand).callsFake(this.create);
    this.mock.on(DescribeDBSnapshotsCommand).callsFake(this.describe);
    this.mock.on(DeleteDBSnapshotCommand).callsFake(this.remove);
  }

  /** Adds an existing snapshot, such as one from an earlier release. */
  seed(snapshot: DBSnapshot & { DBSnapshotIdentifier: string }): void {
    this.snapshots.set(snapshot.DBSnapshotIdentifier, {
      DBInstanceIdentifier: TARGET.dbIdentifier,
      SnapshotType: 'manual',
      ...snapshot,
    });
  }

  readonly create = async (input: CreateDBSnapshotCommandInput) => {
    const id = input.DBSnapshotIdentifier as string;
    const snapshot: DBSnapshot = {
      DBSnapshotIdentifier: id,
      DBSnapshotArn: `arn:aws:rds:${PLACEHOLDER.region}:${PLACEHOLDER.account}:snapshot:${id}`,
      DBInstanceIdentifier: input.DBInstanceIdentifier,
      SnapshotType: 'manual',
      Status: 'creating',
      PercentProgress: 0,
      SnapshotCreateTime: new Date(),
      TagList: input.Tags ?? [],
    };
    this.snapshots.set(id, snapshot);
    this.pending.set(id, [...this.statuses]);
    return { DBSnapshot: snapshot };
  };

  /** By identifier: the next status of that snapshot. By instance: every manual snapshot, as they are. */
  readonly describe = async (
    input: DescribeDBSnapshotsCommandInput,
  ): Promise<Partial<DescribeDBSnapshotsCommandOutput>> => {
    if (input.DBSnapshotIdentifier) {
      const snapshot = this.snapshots.get(input.DBSnapshotIdentifier);
      if (!snapshot)
        throw new DBSnapshotNotFoundFault({
          message: `${input.DBSnapshotIdentifier} not found`,
          $metadata: {},
        });
      const next = this.pending.get(input.DBSnapshotIdentifier) ?? [];
      if (next.length > 0) {
        snapshot.Status = next.length > 1 ? next.shift() : next[0];
        snapshot.PercentProgress = snapshot.Status === 'available' ? 100 : 50;
      }
      return { DBSnapshots: [snapshot] };
    }
    return {
      DBSnapshots: [...this.snapshots.values()].filter(
        (s) =>
          (!input.DBInstanceIdentifier || s.DBInstanceIdentifier === input.DBInstanceIdentifier) &&
          (!input.SnapshotType || s.SnapshotType === input.SnapshotType),
      ),
    };
  };

  readonly remove = async (input: DeleteDBSnapshotCommandInput) => {
    const snapshot = this.snapshots.get(input.DBSnapshotIdentifier as string);
    if (!snapshot) throw new DBSnapshotNotFoundFault({ message: 'not found', $metadata: {} });
    this.snapshots.delete(input.DBSnapshotIdentifier as string);
    return { DBSnapshot: { ...snapshot, Status: 'deleted' } };
  };
}

// ---------------------------------------------------------------------------------------------------------
// A fake ECS service: a task definition per revision; an update starts a deployment whose rolloutState
// advances through `rollouts` as the service is described.

export class FakeEcs {
  /** What successive descriptions of a new deployment report as its rolloutState; the last one repeats. */
  rollouts: Array<'IN_PROGRESS' | 'COMPLETED' | 'FAILED'> = ['IN_PROGRESS', 'COMPLETED'];
  readonly taskDefinitions = new Map<string, TaskDefinition>();
  service: Service = {};
  private pending: Array<'IN_PROGRESS' | 'COMPLETED' | 'FAILED'> = [];
  private deploymentCount = 0;

  constructor(private readonly mock: AwsMocks['ecs']) {}

  reset(): void {
    this.rollouts = ['IN_PROGRESS', 'COMPLETED'];
    this.taskDefinitions.clear();
    this.pending = [];
    this.deploymentCount = 1;
    const initial = this.register({
      family: TARGET.family,
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '256',
      memory: '512',
      executionRoleArn: `arn:aws:iam::${PLACEHOLDER.account}:role/app-execution`,
      containerDefinitions: [{ name: TARGET.container, image: TARGET.initialImage, essential: true }],
    });
    this.service = {
      serviceName: TARGET.service,
      serviceArn: `arn:aws:ecs:${PLACEHOLDER.region}:${PLACEHOLDER.account}:service/${TARGET.cluster}/${TARGET.service}`,
      clusterArn: `arn:aws:ecs:${PLACEHOLDER.region}:${PLACEHOLDER.account}:cluster/${TARGET.cluster}`,
      status: 'ACTIVE',
      desiredCount: 2,
      taskDefinition: initial,
      deploymentController: { type: 'ECS' },
      deployments: [this.deployment('ecs-svc/1', initial, 'PRIMARY', 'COMPLETED')],
    };
    this.mock.on(DescribeServicesCommand).callsFake(this.describeServices);
    this.mock.on(DescribeTaskDefinitionCommand).callsFake(this.describeTaskDefinition);
    this.mock
      .on(RegisterTaskDefinitionCommand)
      .callsFake(async (input: RegisterTaskDefinitionCommandInput) => ({
        taskDefinition: this.taskDefinitions.get(this.register(input)),
      }));
    this.mock.on(UpdateServiceCommand).callsFake(this.update);
  }

  /** The image the service's task definition runs in the release container. */
  get image(): string | undefined {
    return this.taskDefinitions
      .get(this.service.taskDefinition as string)
      ?.containerDefinitions?.find((c) => c.name === TARGET.container)?.image;
  }

  private register(input: RegisterTaskDefinitionCommandInput): string {
    const revision = [...this.taskDefinitions.values()].filter((t) => t.family === input.family).length + 1;
    const arn = `arn:aws:ecs:${PLACEHOLDER.region}:${PLACEHOLDER.account}:task-definition/${input.family}:${revision}`;
    const { tags: _tags, ...definition } = input;
    this.taskDefinitions.set(arn, {
      ...definition,
      taskDefinitionArn: arn,
      revision,
      status: 'ACTIVE',
    } as TaskDefinition);
    return arn;
  }

  private deployment(id: string, taskDefinition: string, status: string, rolloutState: string): Deployment {
    const done = rolloutState === 'COMPLETED';
    return {
      id,
      status,
      taskDefinition,
      rolloutState: rolloutState as Deployment['rolloutState'],
      desiredCount: 2,
      runningCount: done ? 2 : 0,
      pendingCount: done ? 0 : 2,
      failedTasks: rolloutState === 'FAILED' ? 2 : 0,
      ...(rolloutState === 'FAILED'
        ? { rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.' }
        : {}),
    };
  }

  readonly describeServices = async () => {
    const [primary, ...others] = this.service.deployments ?? [];
    if (primary && this.pending.length > 0) {
      const state = (this.pending.length > 1 ? this.pending.shift() : this.pending[0]) as string;
      const next = this.deployment(primary.id as string, primary.taskDefinition as string, 'PRIMARY', state);
      this.service = { ...this.service, deployments: state === 'COMPLETED' ? [next] : [next, ...others] };
    }
    return { services: [structuredClone(this.service)], failures: [] };
  };

  readonly describeTaskDefinition = async (input: DescribeTaskDefinitionCommandInput) => {
    const taskDefinition = this.taskDefinitions.get(input.taskDefinition as string);
    if (!taskDefinition)
      throw Object.assign(new Error('Unable to describe task definition.'), { name: 'ClientException' });
    return { taskDefinition: structuredClone(taskDefinition), tags: [] };
  };

  readonly update = async (input: UpdateServiceCommandInput) => {
    const taskDefinition = input.taskDefinition as string;
    this.deploymentCount += 1;
    const previous = (this.service.deployments ?? []).map((d) => ({ ...d, status: 'ACTIVE' }));
    this.service = {
      ...this.service,
      taskDefinition,
      deployments: [
        this.deployment(`ecs-svc/${this.deploymentCount}`, taskDefinition, 'PRIMARY', 'IN_PROGRESS'),
        ...previous,
      ],
    };
    this.pending = [...this.rollouts];
    return { service: structuredClone(this.service) };
  };
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
