/**
 * The release state machine's definition as deployed, as a plain Amazon States Language object that a local
 * interpreter can run: the example stack is synthesized in-process (no bundling, no AWS, no network), the
 * state machine's `DefinitionString` is taken from the template, and every CloudFormation reference in it is
 * replaced by a placeholder ARN. Used by the state-machine tests and by the local rehearsal.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, type CfnElement, Stack, Token } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { ReleaseFlow } from './constructs/release-flow.ts';
import { ReleaseStack } from './release-stack.ts';

/** The four functions a Task state can invoke. */
export type ReleaseFunctionName = 'preflight' | 'snapshot' | 'migrate' | 'deploy';
/** What a Task state calls: one of the functions, SNS Publish (an alert), or DynamoDB DeleteItem (the release lock). */
export type TaskKind = ReleaseFunctionName | 'sns' | 'dynamodb';

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
  /** Builds the stack to synthesize in `app` and returns its ReleaseFlow. @default - the example ReleaseStack */
  readonly build?: (app: App) => ReleaseFlow;
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
  /** The placeholder ARN of each function, as the Task states' Resource holds it. */
  readonly functionArns: Readonly<Record<ReleaseFunctionName, string>>;
  /** The placeholder ARN of the alert topic, as the SNS Publish states' TopicArn holds it. */
  readonly alertTopicArn: string;
  /** The ARN the deployed state machine would have (its name is fixed at synth time). */
  readonly stateMachineArn: string;
  /** The placeholder name of the release-lock table, as the DynamoDB states' TableName holds it. */
  readonly lockTableName: string;
}

/** Placeholder values: what the pseudo-parameters resolve to. */
export const PLACEHOLDER = {
  region: 'eu-west-1',
  account: '123456789012',
  partition: 'aws',
  urlSuffix: 'amazonaws.com',
};

const SNS_PUBLISH = 'arn:aws:states:::sns:publish';
const DYNAMODB_DELETE_ITEM = 'arn:aws:states:::dynamodb:deleteItem';
const LOCK_TABLE_NAME = 'ReleaseLocks';
const FUNCTION_NAMES: Readonly<Record<ReleaseFunctionName, string>> = {
  preflight: 'Preflight',
  snapshot: 'Snapshot',
  migrate: 'Migrate',
  deploy: 'Deploy',
};

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

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
  const build =
    options.build ??
    ((a: App) =>
      new ReleaseStack(a, 'LockstepRelease', { repoRoot, migrationsSource: 'bundled' }).releaseFlow);
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
  const arns = new Map<string, string>(
    (Object.keys(FUNCTION_NAMES) as ReleaseFunctionName[]).map((name) => [
      logicalId(flow.functions[name]),
      functionArns[name],
    ]),
  );
  if (flow.alertTopic.node.defaultChild) arns.set(logicalId(flow.alertTopic), alertTopicArn);
  arns.set(logicalId(flow.lockTable), LOCK_TABLE_NAME);

  const machineId = logicalId(flow.stateMachine);
  const machine = template.Resources[machineId];
  if (!machine) throw new Error(`the template has no state machine ${machineId}`);
  const properties = machine.Properties as { DefinitionString: unknown; StateMachineName?: unknown };
  const text = resolveValue(properties.DefinitionString, arns);
  if (typeof text !== 'string')
    throw new Error('the state machine DefinitionString did not resolve to a string');
  const definition = JSON.parse(text) as AslDefinition;
  const name = resolveValue(properties.StateMachineName, arns);
  const stateMachineArn = `arn:${PLACEHOLDER.partition}:states:${PLACEHOLDER.region}:${PLACEHOLDER.account}:stateMachine:${String(name)}`;

  const byArn = new Map<string, TaskKind>(
    (Object.entries(functionArns) as [ReleaseFunctionName, string][]).map(([fn, arn]) => [arn, fn]),
  );
  byArn.set(SNS_PUBLISH, 'sns');
  byArn.set(DYNAMODB_DELETE_ITEM, 'dynamodb');
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
  };
}

interface Template {
  readonly Resources: Record<string, { readonly Type: string; readonly Properties?: unknown }>;
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

/** Resolves `Fn::Join`, `Ref` and `Fn::GetAtt … Arn` to strings; anything else is an error naming it. */
function resolveValue(value: unknown, arns: ReadonlyMap<string, string>): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => resolveValue(v, arns));
  const entries = Object.entries(value as Record<string, unknown>);
  const [key, arg] = entries[0] ?? [];
  if (entries.length === 1 && key === 'Fn::Join') {
    const [separator, parts] = arg as [string, unknown[]];
    return (resolveValue(parts, arns) as unknown[]).map(String).join(separator);
  }
  if (entries.length === 1 && key === 'Ref') {
    const ref = String(arg);
    const resolved = PSEUDO[ref] ?? arns.get(ref);
    if (resolved === undefined)
      throw new Error(`the definition refers to ${ref}, which has no local placeholder`);
    return resolved;
  }
  if (entries.length === 1 && key === 'Fn::GetAtt') {
    const [id, attribute] = arg as [string, string];
    const resolved = attribute === 'Arn' ? arns.get(id) : undefined;
    if (resolved === undefined)
      throw new Error(`the definition refers to ${id}.${attribute}, which has no local placeholder`);
    return resolved;
  }
  if (entries.length === 1 && key?.startsWith('Fn::'))
    throw new Error(`the definition uses ${key}, which is not resolved locally`);
  return Object.fromEntries(entries.map(([k, v]) => [k, resolveValue(v, arns)]));
}
