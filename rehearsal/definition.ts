/**
 * The release state machine's definition and its functions' environments as deployed, as plain values a local
 * interpreter and the local functions can use: the example stack is synthesized in-process (no bundling, no AWS,
 * no network), the state machine's `DefinitionString` and each function's `Environment` are taken from the
 * template, and every CloudFormation reference in them is replaced by a placeholder of the right shape (a name,
 * an identifier or an ARN in the local account). Used by the state-machine tests and by the local rehearsal.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement, Stack, Token } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { contextCommands } from '../infra/command-words.ts';
import type { ReleaseFlow } from '../infra/constructs/release-flow.ts';
import { packageRoot } from '../infra/package-root.ts';
import { approvalContext, ReleaseStack } from '../infra/release-stack.ts';
import { LOCAL_ACCOUNT } from './stand-ins/account.ts';
import { LOCAL_RECORDS_TABLE } from './stand-ins/records.ts';

/**
 * The functions a Task state can invoke: three always, then migrate (the SQL flow) or the migration-task function
 * (command mode), the approval function with an approval gate, and the rollback state machine's restore function.
 */
export type ReleaseFunctionName =
  | 'preflight'
  | 'snapshot'
  | 'migrate'
  | 'deploy'
  | 'migrationTask'
  | 'approval'
  | 'restore';
/** A value per release function: migrate's only in the SQL flow, the migration-task function's only in command mode. */
export type PerFunction<T> = Record<
  Exclude<ReleaseFunctionName, 'migrate' | 'migrationTask' | 'approval' | 'restore'>,
  T
> & {
  readonly migrate?: T;
  readonly migrationTask?: T;
  readonly approval?: T;
  readonly restore?: T;
};
/**
 * What a Task state calls: a release function, SNS Publish, DynamoDB DeleteItem (the release lock), DynamoDB PutItem
 * (`record`: the release record), ECS RunTask.sync (command mode), or, with an approval gate, Lambda Invoke
 * .waitForTaskToken (`awaitToken`: the approval function, then the wait for a decision) and DynamoDB UpdateItem
 * (`dynamodbUpdate`: the token taken off the lock item).
 */
export type TaskKind =
  | ReleaseFunctionName
  | 'sns'
  | 'dynamodb'
  | 'record'
  | 'ecsRunTask'
  | 'awaitToken'
  | 'dynamodbUpdate';

/** An Amazon States Language definition, as JSON. */
export interface AslDefinition {
  readonly StartAt: string;
  readonly States: Record<string, AslState>;
  readonly TimeoutSeconds?: number;
  readonly [field: string]: unknown;
}

export interface AslState {
  readonly Type: string;
  readonly Resource?: string;
  readonly Retry?: readonly unknown[];
  readonly [field: string]: unknown;
}

export interface LocalDefinitionOptions {
  /** CDK context for the app, as `cdk synth -c key=value` would give it. @default - none */
  readonly context?: Record<string, unknown>;
  /**
   * Builds the stack to synthesize in `app` and returns its ReleaseFlow. @default - the example ReleaseStack, in
   * command mode when the context has `migrationCommand`, with the approval gate when it has `approval: 'true'`
   */
  readonly build?: (app: App) => ReleaseFlow;
  /** Which of the construct's state machines: the release, or the rollback (issue 16). @default 'release' */
  readonly machine?: 'release' | 'rollback';
}

export interface LocalDefinition {
  /** The definition, with placeholder ARNs for the functions, the alert topic, region, account and partition. */
  readonly definition: AslDefinition;
  /** Every Task state, by name, and what it calls. */
  readonly taskStates: Readonly<Record<string, TaskKind>>;
  /** The names of the Wait states. */
  readonly waitStates: readonly string[];
  /** The names of the states with a Retry field. */
  readonly retryStates: readonly string[];
  /** The placeholder ARN of each function, as the Task states' Resource holds it (also of those this stack lacks). */
  readonly functionArns: Readonly<Record<ReleaseFunctionName, string>>;
  /** The placeholder ARN of the alert topic, as the SNS Publish states' TopicArn holds it. */
  readonly alertTopicArn: string;
  /** The ARN the deployed state machine would have (its name is fixed at synth time). */
  readonly stateMachineArn: string;
  /** The placeholder name of the release-lock table, as the DynamoDB states' TableName holds it. */
  readonly lockTableName: string;
  /** The placeholder name of the release-records table, as the record states' TableName holds it. */
  readonly recordsTableName: string;
  /** Each function's environment variables as the template sets them, references resolved to placeholders. */
  readonly environments: Readonly<PerFunction<Readonly<Record<string, string>>>>;
}

/** Placeholder values: what the pseudo-parameters resolve to. */
export const PLACEHOLDER = LOCAL_ACCOUNT;

const SNS_PUBLISH = 'arn:aws:states:::sns:publish';
const DYNAMODB_DELETE_ITEM = 'arn:aws:states:::dynamodb:deleteItem';
const DYNAMODB_PUT_ITEM = 'arn:aws:states:::dynamodb:putItem';
const RECORDS_TABLE_NAME = LOCAL_RECORDS_TABLE;
const ECS_RUN_TASK_SYNC = 'arn:aws:states:::ecs:runTask.sync';
const LAMBDA_INVOKE_WAIT_FOR_TOKEN = 'arn:aws:states:::lambda:invoke.waitForTaskToken';
const DYNAMODB_UPDATE_ITEM = 'arn:aws:states:::dynamodb:updateItem';
const LOCK_TABLE_NAME = 'ReleaseLocks';
const FUNCTION_NAMES: Readonly<Record<ReleaseFunctionName, string>> = {
  preflight: 'Preflight',
  snapshot: 'Snapshot',
  migrate: 'Migrate',
  deploy: 'Deploy',
  migrationTask: 'MigrationTask',
  approval: 'Approval',
  restore: 'Restore',
};

const repoRoot = packageRoot();

/** Synthesizes the stack and returns its release state machine's definition, resolved to plain ASL. */
export function synthesizeReleaseDefinition(options: LocalDefinitionOptions = {}): LocalDefinition {
  // Synthesized into a scratch directory, removed again: only the template is wanted.
  const outdir = mkdtempSync(join(tmpdir(), 'lockstep-synth-'));
  try {
    return resolveDefinition(outdir, options);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

function resolveDefinition(outdir: string, options: LocalDefinitionOptions): LocalDefinition {
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [], ...options.context } });
  // The example stack, in command mode when the context names a migration command (as `cdk synth -c` would).
  const build =
    options.build ??
    ((a: App) => {
      const { migrationCommand, pendingCheckCommand } = contextCommands({
        migrationCommand: a.node.tryGetContext('migrationCommand'),
        pendingCheckCommand: a.node.tryGetContext('pendingCheckCommand'),
      });
      return new ReleaseStack(a, 'LockstepRelease', {
        ...(migrationCommand
          ? { repoRoot, migrationCommand, ...(pendingCheckCommand ? { pendingCheckCommand } : {}) }
          : { repoRoot, migrationsSource: 'bundled' as const }),
        approval: approvalContext(a.node.tryGetContext('approval')),
      }).releaseFlow;
    });
  const flow = build(app);
  const stack = Stack.of(flow);
  const template = app.synth().getStackArtifact(stack.artifactId).template as Template;

  const logicalId = (construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
  const functionArns = Object.fromEntries(
    (Object.keys(FUNCTION_NAMES) as ReleaseFunctionName[]).map((name) => [
      name,
      `arn:${PLACEHOLDER.partition}:lambda:${PLACEHOLDER.region}:${PLACEHOLDER.account}:function:${FUNCTION_NAMES[name]}`,
    ]),
  ) as Record<ReleaseFunctionName, string>;
  // An imported topic's ARN is a literal in the definition already; the stack's own topic is a Ref.
  const alertTopicArn = Token.isUnresolved(flow.alertTopic.topicArn)
    ? `arn:${PLACEHOLDER.partition}:sns:${PLACEHOLDER.region}:${PLACEHOLDER.account}:Alerts`
    : flow.alertTopic.topicArn;
  /** What `Fn::GetAtt [id, Arn]` and `Ref id` stand for, by logical id. */
  /** The functions this stack has: migrate in the SQL flow, the migration-task function in command mode. */
  const present = (Object.keys(FUNCTION_NAMES) as ReleaseFunctionName[]).flatMap((name) => {
    const fn = flow.functions[name];
    return fn ? [[name, fn] as const] : [];
  });
  const arns = new Map<string, string>(present.map(([name, fn]) => [logicalId(fn), functionArns[name]]));
  if (flow.alertTopic.node.defaultChild) arns.set(logicalId(flow.alertTopic), alertTopicArn);
  arns.set(logicalId(flow.lockTable), LOCK_TABLE_NAME);
  arns.set(logicalId(flow.recordsTable), RECORDS_TABLE_NAME);

  const machineId = logicalId(options.machine === 'rollback' ? flow.rollbackStateMachine : flow.stateMachine);
  const machine = template.Resources[machineId];
  if (!machine) throw new Error(`the template has no state machine ${machineId}`);
  const properties = machine.Properties as { DefinitionString: unknown; StateMachineName?: unknown };
  const placeholder = (ref: Reference) => placeholderFor(template, ref, arns);
  const text = resolveValue(properties.DefinitionString, placeholder, template.Conditions);
  if (typeof text !== 'string')
    throw new Error('the state machine DefinitionString did not resolve to a string');
  const definition = JSON.parse(text) as AslDefinition;
  const name = resolveValue(properties.StateMachineName, placeholder);
  const stateMachineArn = `arn:${PLACEHOLDER.partition}:states:${PLACEHOLDER.region}:${PLACEHOLDER.account}:stateMachine:${String(name)}`;

  const environments = Object.fromEntries(
    present.map(([fn, construct]) => {
      const resource = template.Resources[logicalId(construct)];
      const variables = (resource?.Properties as { Environment?: { Variables?: unknown } } | undefined)
        ?.Environment?.Variables;
      return [fn, environmentOf(fn, variables, (ref) => placeholderFor(template, ref, arns))];
    }),
  ) as PerFunction<Record<string, string>>;

  const byArn = new Map<string, TaskKind>(
    (Object.entries(functionArns) as [ReleaseFunctionName, string][]).map(([fn, arn]) => [arn, fn]),
  );
  byArn.set(SNS_PUBLISH, 'sns');
  byArn.set(DYNAMODB_DELETE_ITEM, 'dynamodb');
  byArn.set(DYNAMODB_PUT_ITEM, 'record');
  byArn.set(ECS_RUN_TASK_SYNC, 'ecsRunTask');
  byArn.set(LAMBDA_INVOKE_WAIT_FOR_TOKEN, 'awaitToken');
  byArn.set(DYNAMODB_UPDATE_ITEM, 'dynamodbUpdate');
  const taskStates: Record<string, TaskKind> = {};
  const waitStates: string[] = [];
  const retryStates: string[] = [];
  for (const [stateName, state] of allStates(definition)) {
    if (state.Retry) retryStates.push(stateName);
    if (state.Type === 'Wait') waitStates.push(stateName);
    if (state.Type !== 'Task') continue;
    const kind = byArn.get(String(state.Resource));
    if (!kind)
      throw new Error(
        `Task state "${stateName}" calls ${String(state.Resource)}, which runs nowhere locally`,
      );
    taskStates[stateName] = kind;
  }
  return {
    definition,
    taskStates,
    waitStates,
    retryStates,
    functionArns,
    alertTopicArn,
    stateMachineArn,
    lockTableName: LOCK_TABLE_NAME,
    recordsTableName: RECORDS_TABLE_NAME,
    environments,
  };
}

/** A function's variables, every value a string (as Lambda passes them). */
function environmentOf(
  fn: ReleaseFunctionName,
  variables: unknown,
  placeholder: (ref: Reference) => string,
): Record<string, string> {
  const resolved = resolveValue(variables ?? {}, placeholder) as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(resolved).map(([name, value]) => {
      if (typeof value !== 'string')
        throw new Error(`the ${fn} function's ${name} did not resolve to a string`);
      return [name, value];
    }),
  );
}

/**
 * What a `Ref` or `Fn::GetAtt` of a resource stands for locally: the functions, the topic and the lock table by
 * the names the definition uses, anything else by a value shaped as CloudFormation would return it for that
 * resource type. A reference to something new fails here, naming it, rather than reaching a function as junk.
 */
function placeholderFor(template: Template, ref: Reference, arns: ReadonlyMap<string, string>): string {
  const known = ref.attribute === undefined || ref.attribute === 'Arn' ? arns.get(ref.id) : undefined;
  if (known !== undefined) return known;
  const type = template.Resources[ref.id]?.Type;
  const { region, account, partition } = PLACEHOLDER;
  // Without the hash CDK appends to logical IDs: `DatabaseB269D8BB` stands for a database named `database`.
  const id = ref.id.replace(/(?<=.)[0-9A-F]{8}$/, '');
  const name = id.toLowerCase();
  const shapes: Record<string, Record<string, string>> = {
    'AWS::RDS::DBInstance': {
      Ref: name,
      'Endpoint.Address': `${name}.abcdefghijkl.${region}.rds.amazonaws.com`,
      'Endpoint.Port': '5432',
    },
    'AWS::RDS::DBCluster': {
      Ref: name,
      'Endpoint.Address': `${name}.cluster-abcdefghijkl.${region}.rds.amazonaws.com`,
      'Endpoint.Port': '5432',
    },
    'AWS::SecretsManager::Secret': {
      Ref: `arn:${partition}:secretsmanager:${region}:${account}:secret:${id}-AbCdEf`,
    },
    'AWS::SecretsManager::SecretTargetAttachment': {
      Ref: `arn:${partition}:secretsmanager:${region}:${account}:secret:${id}-AbCdEf`,
    },
    'AWS::ECS::Cluster': { Ref: id, Arn: `arn:${partition}:ecs:${region}:${account}:cluster/${id}` },
    'AWS::ECS::Service': { Name: id },
    // Command mode's migration task runs in the service's network.
    'AWS::EC2::Subnet': { Ref: `subnet-${hex(id)}` },
    'AWS::EC2::SecurityGroup': { GroupId: `sg-${hex(id)}` },
    'AWS::DynamoDB::Table': { Ref: id },
    'AWS::S3::Bucket': { Ref: name, Arn: `arn:${partition}:s3:::${name}` },
    'AWS::SNS::Topic': { Ref: `arn:${partition}:sns:${region}:${account}:${id}` },
    'AWS::SSM::Parameter': { Ref: `/${id}` },
  };
  const value = type === undefined ? undefined : shapes[type]?.[ref.attribute ?? 'Ref'];
  if (value === undefined)
    throw new Error(
      `the template refers to ${ref.id}${ref.attribute ? `.${ref.attribute}` : ''} (${type ?? 'no such resource'}), which has no local placeholder`,
    );
  return value;
}

/** A stable 17-digit hex suffix for an EC2 identifier, from the logical ID. */
function hex(id: string): string {
  let h = 0;
  for (const c of id) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h.toString(16).padStart(17, '0');
}

interface Template {
  readonly Resources: Record<string, { readonly Type: string; readonly Properties?: unknown }>;
  /** The stack's conditions (infra/constructs/console-host.ts adds two on `AWS::Partition`). */
  readonly Conditions?: Record<string, unknown>;
}

/** Every state, including those nested in Parallel branches and Map item processors. */
function* allStates(definition: { States: Record<string, AslState> }): Generator<[string, AslState]> {
  for (const [name, state] of Object.entries(definition.States)) {
    yield [name, state];
    const nested = [
      ...((state.Branches as { States: Record<string, AslState> }[] | undefined) ?? []),
      ...[state.ItemProcessor, state.Iterator].filter(
        (d): d is { States: Record<string, AslState> } => d !== undefined,
      ),
    ];
    for (const d of nested) yield* allStates(d);
  }
}

const PSEUDO: Readonly<Record<string, string>> = {
  'AWS::Region': PLACEHOLDER.region,
  'AWS::AccountId': PLACEHOLDER.account,
  'AWS::Partition': PLACEHOLDER.partition,
  'AWS::URLSuffix': PLACEHOLDER.urlSuffix,
};

/** A `Ref` (no attribute) or a `Fn::GetAtt` of a resource. */
export interface Reference {
  readonly id: string;
  readonly attribute?: string;
}

/**
 * Resolves `Fn::Join`, `Ref`, `Fn::GetAtt`, and `Fn::If` over a condition (one of the template's `conditions`) that is
 * an `Fn::Equals` of two such values; anything else is an error naming it. A `Ref` of a pseudo-parameter is its value
 * in `pseudo` (the local placeholders by default); any other reference is what `resolve` says it stands for.
 */
export function resolveValue(
  value: unknown,
  resolve: (ref: Reference) => string,
  conditions: Readonly<Record<string, unknown>> = {},
  pseudo: Readonly<Record<string, string>> = PSEUDO,
): unknown {
  if (value === null || typeof value !== 'object') return value;
  const again = (v: unknown) => resolveValue(v, resolve, conditions, pseudo);
  if (Array.isArray(value)) return value.map(again);
  const entries = Object.entries(value as Record<string, unknown>);
  const [key, arg] = entries[0] ?? [];
  if (entries.length === 1 && key === 'Fn::Join') {
    const [separator, parts] = arg as [string, unknown[]];
    return (again(parts) as unknown[]).map(String).join(separator);
  }
  if (entries.length === 1 && key === 'Fn::If') {
    const [name, whenTrue, whenFalse] = arg as [string, unknown, unknown];
    const condition = conditions[name] as { 'Fn::Equals'?: [unknown, unknown] } | undefined;
    const equals = condition?.['Fn::Equals'];
    if (!equals)
      throw new Error(`the template's condition ${name} is not an Fn::Equals, which is not resolved locally`);
    return again(again(equals[0]) === again(equals[1]) ? whenTrue : whenFalse);
  }
  if (entries.length === 1 && key === 'Ref') return pseudo[String(arg)] ?? resolve({ id: String(arg) });
  if (entries.length === 1 && key === 'Fn::GetAtt') {
    const [id, attribute] = arg as [string, string];
    return resolve({ id, attribute });
  }
  if (entries.length === 1 && key?.startsWith('Fn::'))
    throw new Error(`the template uses ${key}, which is not resolved locally`);
  return Object.fromEntries(entries.map(([k, v]) => [k, again(v)]));
}
