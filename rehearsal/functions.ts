/**
 * The release functions, built locally the way each Lambda builds itself at cold start: from its environment as
 * the synthesized template sets it (./definition.ts), through the function's own setup (functions/<name>/setup.ts),
 * with the AWS clients given here (the rehearsal's stand-ins, or the tests' mocked clients). What is local by
 * nature (where the database listens, its CA, the migrations directory) is an explicit override.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ECSClient } from '@aws-sdk/client-ecs';
import type { RDSClient } from '@aws-sdk/client-rds';
import type { S3Client } from '@aws-sdk/client-s3';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { approvalHandler } from '../functions/approval/setup.ts';
import { deployHandler } from '../functions/deploy/setup.ts';
import { migrateHandler } from '../functions/migrate/setup.ts';
import { migrationTaskHandler } from '../functions/migration-task/setup.ts';
import { preflightHandler } from '../functions/preflight/setup.ts';
import { restoreHandler } from '../functions/restore/setup.ts';
import { snapshotHandler } from '../functions/snapshot/setup.ts';
import type { LocalDefinition, PerFunction, ReleaseFunctionName } from './definition.ts';
import { type Handler, invokeAsLambda, type LambdaContext } from './interpreter.ts';
import { LocalLogs } from './stand-ins/logs.ts';

/** The AWS clients the four functions use between them. */
export interface FunctionClients {
  readonly sfn: SFNClient;
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
  readonly rds: RDSClient;
  readonly secrets: SecretsManagerClient;
  readonly ecs: ECSClient;
  readonly ssm: SSMClient;
  /** Where the migration-task function reads a failed command's output. @default - a stand-in with no streams */
  readonly logs?: CloudWatchLogsClient;
  /** Where the approval function publishes its notification (only with an approval gate). */
  readonly sns?: SNSClient;
}

export interface LocalDatabaseEndpoint {
  readonly host: string;
  readonly port: number;
  /** The CA that verifies the server's certificate, as the Lambda's bundle of RDS CAs does on AWS. */
  readonly caFile: string | undefined;
  /** The identifier preflight and snapshot name it by. @default - the template's placeholder */
  readonly identifier?: string;
}

export interface LocalFunctionsOptions {
  readonly database: LocalDatabaseEndpoint;
  /** The migrations the migrate function has bundled. */
  readonly migrationsDir: string;
  /** More variables, or overrides, for every function (SNAPSHOT_TIMEOUT_SECONDS, LOCK_WAIT_SECONDS…). */
  readonly env?: Readonly<Record<string, string>>;
  readonly logger?: Logger;
}

/** Each function's environment: the template's, then what is local by nature, then `options.env`. */
export function localEnvironments(
  local: LocalDefinition,
  options: LocalFunctionsOptions,
): PerFunction<Record<string, string>> {
  const { host, port, caFile, identifier } = options.database;
  const named: Record<string, string> = identifier ? { DB_IDENTIFIER: identifier } : {};
  const migrate = {
    DB_HOST: host,
    DB_PORT: String(port),
    ...(caFile ? { DB_CA_FILE: caFile } : {}),
    MIGRATIONS_DIR: options.migrationsDir,
  };
  const env = (fn: ReleaseFunctionName, localNature: Record<string, string> = {}) => ({
    ...local.environments[fn],
    ...localNature,
    ...options.env,
  });
  return {
    preflight: env('preflight', named),
    snapshot: env('snapshot', named),
    ...(local.environments.migrate ? { migrate: env('migrate', migrate) } : {}),
    deploy: env('deploy'),
    ...(local.environments.migrationTask ? { migrationTask: env('migrationTask') } : {}),
    ...(local.environments.approval ? { approval: env('approval', named) } : {}),
    ...(local.environments.restore ? { restore: env('restore', named) } : {}),
  };
}

/**
 * The Lambda Invoke of a `.waitForTaskToken` state (`arn:aws:states:::lambda:invoke.waitForTaskToken`, its parameters
 * `FunctionName` and `Payload`): the function it names by ARN, invoked with the payload.
 */
export function invokeNamedFunction(
  local: LocalDefinition,
  handlers: PerFunction<Handler>,
  params: unknown,
  context: LambdaContext,
): Promise<unknown> {
  const { FunctionName, Payload } = params as { FunctionName?: unknown; Payload?: unknown };
  const name = (Object.keys(local.functionArns) as ReleaseFunctionName[]).find(
    (fn) => local.functionArns[fn] === FunctionName,
  );
  if (!name) throw new Error(`the definition invokes ${String(FunctionName)}, which is no release function`);
  return invokeAsLambda(handlerOf(handlers, name), Payload, context);
}

/** The handler a Task state of `kind` invokes; throws if this stack has no such function. */
export function handlerOf(handlers: PerFunction<Handler>, kind: ReleaseFunctionName): Handler {
  const handler = handlers[kind];
  if (!handler)
    throw new Error(`the definition invokes the ${kind} function, which this stack does not have`);
  return handler;
}

/** The four handlers (migrate's or the migration-task function's), each having read its configuration once, as at a cold start. */
export function localFunctions(
  local: LocalDefinition,
  clients: FunctionClients,
  options: LocalFunctionsOptions,
): PerFunction<Handler> {
  const env = localEnvironments(local, options);
  const setup = options.logger ? { logger: options.logger } : {};
  return {
    preflight: preflightHandler(env.preflight, clients, setup),
    snapshot: snapshotHandler(env.snapshot, clients, setup),
    ...(env.migrate ? { migrate: migrateHandler(env.migrate, clients, options.migrationsDir, setup) } : {}),
    deploy: deployHandler(env.deploy, clients, setup),
    ...(env.migrationTask
      ? {
          migrationTask: migrationTaskHandler(
            env.migrationTask,
            { ecs: clients.ecs, logs: () => clients.logs ?? new LocalLogs().client() },
            setup,
          ),
        }
      : {}),
    ...(env.approval
      ? {
          approval: approvalHandler(
            env.approval,
            {
              dynamodb: clients.dynamodb,
              sns: required(clients.sns, 'the approval function publishes: pass clients.sns'),
            },
            setup,
          ),
        }
      : {}),
    ...(env.restore ? { restore: restoreHandler(env.restore, clients, setup) } : {}),
  };
}

function required<T>(value: T | undefined, problem: string): T {
  if (value === undefined) throw new Error(problem);
  return value;
}
