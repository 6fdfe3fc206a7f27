/**
 * Rolls the ECS service onto the release image: copy its current task definition with one container's image
 * replaced, register the copy, point the service at it, then report on the rollout until ECS calls it done.
 * Why a Lambda and not Step Functions ECS SDK integrations: the copy must drop the describe-only fields and
 * replace one container's image inside the containerDefinitions array, which JSONPath intrinsics cannot
 * express cleanly (the state machine stays JSONPath, not JSONata), and here the copy is unit-testable.
 */

import type { Logger } from '@aws-lambda-powertools/logger';
import {
  type ContainerDefinition,
  type Deployment,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  type ECSClient,
  RegisterTaskDefinitionCommand,
  type RegisterTaskDefinitionCommandInput,
  type Service,
  type Tag,
  type TaskDefinition,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import type { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod/mini';
import {
  ConfigError,
  DeploymentFailedError,
  DeployTargetInvalidError,
  InvalidInputError,
  RolloutTimeoutError,
} from '../shared/errors.ts';
import { parseEvent } from '../shared/events.ts';
import { invocationKeys, runHandler } from '../shared/handler.ts';
import type { Log } from '../shared/logger.ts';
import { type ReleaseInput, releaseInputSchema } from '../shared/release-input.ts';
import { isPastWaitUntil, waitUntilAfter, waitUntilSchema } from '../shared/wait-until.ts';
import { recordReleasedImage } from './record-image.ts';

export interface DeployConfig {
  /** Cluster name or ARN. */
  readonly cluster: string;
  /** Service name or ARN. */
  readonly service: string;
  /** The container whose image each release replaces. */
  readonly containerName: string;
  /** How long after `start` the rollout may take to finish; `status` then fails. */
  readonly deployTimeoutSeconds: number;
  /** The SSM parameter a completed rollout's image is written to (./record-image.ts); none, nothing is written. */
  readonly imageParameter?: string | undefined;
}

export interface DeployDeps {
  readonly ecs: ECSClient;
  /** Needed only with `config.imageParameter`. */
  readonly ssm?: SSMClient | undefined;
  readonly log: Log;
  readonly now: () => Date;
  readonly config: DeployConfig;
}

/** Which deployment `status` follows, and until when: what `start` returned. */
export interface DeploymentRef {
  readonly taskDefinitionArn: string;
  readonly deploymentId: string;
  /** ISO 8601. When given, `status` past it with the rollout not done throws {@link RolloutTimeoutError}. */
  readonly waitUntil?: string | undefined;
}

export interface DeploymentStarted extends DeploymentRef {
  /**
   * What the service ran before this release. `null` only when a retried start found the service already on
   * the release image and the earlier task definition's deployment has finished draining.
   */
  readonly previousTaskDefinitionArn: string | null;
  /** ISO 8601: now plus DEPLOY_TIMEOUT_SECONDS. Pass it back in `deployment` to `status`. */
  readonly waitUntil: string;
}

export interface DeploymentStatus {
  /** `null` when ECS reports none (see {@link checkDeployment}). A FAILED rollout is thrown, never returned. */
  readonly rolloutState: 'IN_PROGRESS' | 'COMPLETED' | null;
  readonly done: boolean;
  readonly desiredCount: number;
  readonly runningCount: number;
  readonly pendingCount: number;
  readonly failedTasks: number;
}

export type DeployEvent =
  | { readonly action: 'register'; readonly executionId: string; readonly release: ReleaseInput }
  | {
      readonly action: 'start';
      readonly executionId: string;
      readonly release: ReleaseInput;
      /** The revision `register` made (command mode); without it, `start` registers one itself. */
      readonly taskDefinitionArn?: string | undefined;
    }
  | {
      readonly action: 'status';
      readonly executionId: string;
      readonly release: ReleaseInput;
      readonly deployment: DeploymentRef;
    };

const text = z.string().check(z.minLength(1, 'must not be empty'));
const eventSchema = z.discriminatedUnion('action', [
  z.object({ action: z.literal('register'), executionId: text, release: releaseInputSchema }),
  z.object({
    action: z.literal('start'),
    executionId: text,
    release: releaseInputSchema,
    taskDefinitionArn: z.optional(text),
  }),
  z.object({
    action: z.literal('status'),
    executionId: text,
    release: releaseInputSchema,
    deployment: z.object({
      taskDefinitionArn: text,
      deploymentId: text,
      waitUntil: z.optional(waitUntilSchema),
    }),
  }),
]);

/** Validates the state machine's event; throws {@link InvalidInputError} naming the first bad field. */
export function parseDeployEvent(raw: unknown): DeployEvent {
  return parseEvent(eventSchema, raw);
}

/** What `register` returns: the revision the migration task and then the service run. */
export interface RevisionRegistered {
  readonly taskDefinitionArn: string;
  /** What the service runs now. */
  readonly previousTaskDefinitionArn: string;
  /** False when the service already runs the release image (a retried release): its revision is reused. */
  readonly registered: boolean;
}

/**
 * Registers a copy of the service's task definition with the configured container on `release.image`, and changes
 * nothing else: the command-mode migration task runs this revision before `start` points the service at it, so
 * both run the same image digest. When the service already runs the release image, its revision is returned.
 */
export async function registerRevision(deps: DeployDeps, release: ReleaseInput): Promise<RevisionRegistered> {
  try {
    const service = await describeService(deps);
    const currentArn = service.taskDefinition;
    if (!currentArn)
      throw new DeployTargetInvalidError(`${describeTarget(deps.config)} has no task definition`);
    const registered = await registerCopy(deps, currentArn, release);
    return {
      taskDefinitionArn: registered ?? currentArn,
      previousTaskDefinitionArn: currentArn,
      registered: registered !== undefined,
    };
  } catch (err) {
    throw asTargetError(err, deps.config);
  }
}

/**
 * Registers a copy of `currentArn` with the release image; undefined (nothing registered) when the configured
 * container already runs it.
 */
async function registerCopy(
  deps: DeployDeps,
  currentArn: string,
  release: ReleaseInput,
): Promise<string | undefined> {
  const { ecs, log, config } = deps;
  const described = await ecs.send(
    new DescribeTaskDefinitionCommand({ taskDefinition: currentArn, include: ['TAGS'] }),
  );
  const current = described.taskDefinition;
  if (!current) throw new DeployTargetInvalidError(`task definition ${currentArn} could not be described`);
  const container = findContainer(current, config.containerName, currentArn);
  if (container.image === release.image) return undefined;
  const registered = await ecs.send(
    new RegisterTaskDefinitionCommand(
      copyTaskDefinition(current, described.tags, config.containerName, release.image),
    ),
  );
  const taskDefinitionArn = registered.taskDefinition?.taskDefinitionArn;
  if (!taskDefinitionArn) throw new Error('RegisterTaskDefinition returned no task definition ARN');
  log.info('registered task definition', { taskDefinitionArn, previousTaskDefinitionArn: currentArn });
  return taskDefinitionArn;
}

/**
 * Points the service at the release: at `revision` when `register` made one (command mode), else at a copy of its
 * task definition with the configured container on `release.image`, registered here. A retried start that finds
 * the service already there changes nothing. Either way it returns `waitUntil`, the deadline for `status`, counted
 * from this attempt.
 */
export async function startDeployment(
  deps: DeployDeps,
  release: ReleaseInput,
  revision?: string,
): Promise<DeploymentStarted> {
  const { ecs, log, config } = deps;
  try {
    const service = await describeService(deps);
    const currentArn = service.taskDefinition;
    if (!currentArn) throw new DeployTargetInvalidError(`${describeTarget(config)} has no task definition`);

    const target = revision
      ? revision === currentArn
        ? undefined
        : revision
      : await registerCopy(deps, currentArn, release);
    if (target === undefined) {
      // A retried start after success: the service already runs this release, so update nothing.
      const primary = primaryDeployment(service, config);
      const previous = service.deployments?.find((d) => d.taskDefinition !== currentArn)?.taskDefinition;
      log.info('service already runs the release; nothing updated', {
        taskDefinitionArn: currentArn,
        deploymentId: primary.id,
      });
      return {
        taskDefinitionArn: currentArn,
        deploymentId: primary.id,
        previousTaskDefinitionArn: previous ?? null,
        waitUntil: waitUntilAfter(deps.now(), config.deployTimeoutSeconds),
      };
    }

    const updated = await ecs.send(
      new UpdateServiceCommand({
        cluster: config.cluster,
        service: config.service,
        taskDefinition: target,
      }),
    );
    const primary = primaryDeployment(updated.service ?? {}, config);
    log.info('service updated', { taskDefinitionArn: target, deploymentId: primary.id });
    return {
      taskDefinitionArn: target,
      deploymentId: primary.id,
      previousTaskDefinitionArn: currentArn,
      waitUntil: waitUntilAfter(deps.now(), config.deployTimeoutSeconds),
    };
  } catch (err) {
    throw asTargetError(err, config);
  }
}

/**
 * Reports on the deployment `start` returned. COMPLETED is done; IN_PROGRESS is not; FAILED (the circuit breaker
 * stopped it, and rolled it back if so configured) and a deployment that another one replaced throw
 * {@link DeploymentFailedError}. Without a rolloutState (not a rolling-update service) it is done when it is the
 * only deployment left and runs every desired task. Not done after `ref.waitUntil` is a {@link RolloutTimeoutError};
 * a failure is reported as such however late, and a finished rollout as done.
 */
export async function checkDeployment(deps: DeployDeps, ref: DeploymentRef): Promise<DeploymentStatus> {
  const { log, config } = deps;
  try {
    const service = await describeService(deps);
    const deployments = service.deployments ?? [];
    const primary = deployments.find((d) => d.status === 'PRIMARY');
    const deployment =
      deployments.find((d) => d.id === ref.deploymentId) ??
      deployments.find((d) => d.taskDefinition === ref.taskDefinitionArn);
    if (!deployment) throw replaced(ref, primary, 'is no longer listed');

    const counts = {
      desiredCount: deployment.desiredCount ?? 0,
      runningCount: deployment.runningCount ?? 0,
      pendingCount: deployment.pendingCount ?? 0,
      failedTasks: deployment.failedTasks ?? 0,
    };
    const logged = { deploymentId: deployment.id, taskDefinitionArn: deployment.taskDefinition, ...counts };
    const rolloutState = deployment.rolloutState ?? null;

    if (rolloutState === 'FAILED') {
      log.warn('deployment failed', { ...logged, rolloutState });
      throw new DeploymentFailedError(
        `deployment ${deployment.id} of ${deployment.taskDefinition} failed: ${deployment.rolloutStateReason ?? 'ECS gave no reason'}` +
          `${primary && primary.taskDefinition !== deployment.taskDefinition ? ` (the service now runs ${primary.taskDefinition})` : ''}`,
        deployment.id,
      );
    }
    // Superseded mid-rollout by a deployment of something else: it will only drain from here.
    const superseded = primary !== undefined && primary.taskDefinition !== ref.taskDefinitionArn;
    if (rolloutState !== 'COMPLETED' && deployment.status !== 'PRIMARY' && superseded)
      throw replaced(ref, primary, 'was replaced before it completed');

    const done =
      rolloutState === null
        ? counts.runningCount === counts.desiredCount && counts.pendingCount === 0 && deployments.length === 1
        : rolloutState === 'COMPLETED';
    if (!done && isPastWaitUntil(ref.waitUntil, deps.now())) {
      log.warn('deployment did not finish in time', { ...logged, rolloutState, waitUntil: ref.waitUntil });
      throw new RolloutTimeoutError(deployment.id ?? ref.deploymentId, rolloutState, ref.waitUntil);
    }
    log.info('deployment status', { ...logged, rolloutState, done });
    return { rolloutState, done, ...counts };
  } catch (err) {
    throw asTargetError(err, config);
  }
}

/**
 * Every field RegisterTaskDefinition accepts that DescribeTaskDefinition returns, except `family` and
 * `containerDefinitions` (set explicitly) and `tags` (returned beside the task definition). The rest of a
 * described task definition (ARN, revision, status, requiresAttributes, compatibilities, registeredAt/By,
 * deregisteredAt, deleteRequestedAt) is describe-only and would be rejected.
 */
const COPIED_FIELDS = [
  'taskRoleArn',
  'executionRoleArn',
  'networkMode',
  'volumes',
  'placementConstraints',
  'requiresCompatibilities',
  'cpu',
  'memory',
  'pidMode',
  'ipcMode',
  'proxyConfiguration',
  'inferenceAccelerators',
  'ephemeralStorage',
  'runtimePlatform',
  'enableFaultInjection',
] as const satisfies readonly (keyof RegisterTaskDefinitionCommandInput & keyof TaskDefinition)[];

// Fails to compile when an SDK upgrade adds a register parameter the copy does not carry: add it above.
type Uncopied = Exclude<
  keyof RegisterTaskDefinitionCommandInput,
  (typeof COPIED_FIELDS)[number] | 'family' | 'containerDefinitions' | 'tags'
>;
const everyFieldCopied: [Uncopied] extends [never] ? true : Uncopied = true;
void everyFieldCopied;

/** The register input for `current` with `containerName` on `image`; every other container is passed as it was. */
export function copyTaskDefinition(
  current: TaskDefinition,
  tags: readonly Tag[] | undefined,
  containerName: string,
  image: string,
): RegisterTaskDefinitionCommandInput {
  const input: RegisterTaskDefinitionCommandInput = {
    family: current.family,
    containerDefinitions: (current.containerDefinitions ?? []).map((c) =>
      c.name === containerName ? { ...c, image } : c,
    ),
  };
  for (const field of COPIED_FIELDS) copyField(current, input, field);
  // Keys starting with "aws:" are reserved (CloudFormation adds some): ECS rejects a request that sets them.
  const userTags = (tags ?? []).filter((t) => !t.key?.toLowerCase().startsWith('aws:'));
  if (userTags.length > 0) input.tags = userTags;
  return input;
}

function copyField<K extends (typeof COPIED_FIELDS)[number]>(
  from: TaskDefinition,
  to: RegisterTaskDefinitionCommandInput,
  field: K,
): void {
  const value = from[field];
  if (value !== undefined) to[field] = value as RegisterTaskDefinitionCommandInput[K];
}

function findContainer(current: TaskDefinition, name: string, arn: string): ContainerDefinition {
  const containers = current.containerDefinitions ?? [];
  const container = containers.find((c) => c.name === name);
  if (container) return container;
  throw new DeployTargetInvalidError(
    `task definition ${arn} has no container named "${name}" (CONTAINER_NAME); its containers are: ` +
      `${containers.map((c) => `"${c.name}"`).join(', ') || 'none'}`,
  );
}

async function describeService({ ecs, config }: DeployDeps): Promise<Service> {
  const described = await ecs.send(
    new DescribeServicesCommand({ cluster: config.cluster, services: [config.service] }),
  );
  const service = described.services?.[0];
  if (!service) {
    const failure = described.failures?.[0];
    throw new DeployTargetInvalidError(
      `${describeTarget(config)} was not found${failure?.reason ? ` (${failure.reason})` : ''}`,
    );
  }
  if (service.status !== 'ACTIVE')
    throw new DeployTargetInvalidError(
      `${describeTarget(config)} is ${service.status ?? 'in an unknown state'}`,
    );
  const controller = service.deploymentController?.type ?? 'ECS';
  if (controller !== 'ECS')
    throw new DeployTargetInvalidError(
      `${describeTarget(config)} uses the ${controller} deployment controller; lockstep deploys with the ECS controller only`,
    );
  return service;
}

function primaryDeployment(service: Service, config: DeployConfig): Deployment & { id: string } {
  const primary = service.deployments?.find((d) => d.status === 'PRIMARY');
  if (!primary?.id)
    throw new DeployTargetInvalidError(`${describeTarget(config)} lists no PRIMARY deployment`);
  return { ...primary, id: primary.id };
}

function replaced(ref: DeploymentRef, primary: Deployment | undefined, what: string): DeploymentFailedError {
  return new DeploymentFailedError(
    `deployment ${ref.deploymentId} of ${ref.taskDefinitionArn} ${what}: the service now runs ` +
      `${primary?.taskDefinition ?? 'no PRIMARY deployment'}${primary?.id ? ` (deployment ${primary.id})` : ''}; ` +
      'it was rolled back, or another deployment replaced it',
    ref.deploymentId,
  );
}

function describeTarget(config: DeployConfig): string {
  return `ECS service "${config.service}" in cluster "${config.cluster}"`;
}

/** The service or cluster is gone: a target problem. Every other error (throttling, access, parameters) passes unchanged. */
const TARGET_MISSING = new Set([
  'ServiceNotFoundException',
  'ServiceNotActiveException',
  'ClusterNotFoundException',
]);

function asTargetError(err: unknown, config: DeployConfig): unknown {
  if (!(err instanceof Error) || !TARGET_MISSING.has(err.name)) return err;
  return new DeployTargetInvalidError(`${describeTarget(config)}: ${err.name}: ${err.message}`, {
    cause: err,
  });
}

/** The Lambda handler over these deps: ./handler.ts wires the AWS ones, the local rehearsal its stand-ins. */
export function createDeployHandler(deps: DeployDeps, logger: Logger) {
  return async (raw: unknown): Promise<RevisionRegistered | DeploymentStarted | DeploymentStatus> => {
    const { executionId, release, action } = invocationKeys(raw);
    return runHandler<RevisionRegistered | DeploymentStarted | DeploymentStatus>(
      logger,
      { executionId, release, step: `deploy:${action ?? '?'}` },
      async () => {
        const event = parseDeployEvent(raw);
        if (event.action === 'register') return registerRevision(deps, event.release);
        if (event.action === 'start') return startDeployment(deps, event.release, event.taskDefinitionArn);
        const status = await checkDeployment(deps, event.deployment);
        const parameter = deps.config.imageParameter;
        if (status.done && parameter) {
          if (!deps.ssm)
            throw new ConfigError(
              'IMAGE_PARAMETER',
              'is set, but the deploy function was given no SSM client',
            );
          await recordReleasedImage({ ssm: deps.ssm, log: deps.log }, parameter, event.release.image);
        }
        return status;
      },
    );
  };
}
