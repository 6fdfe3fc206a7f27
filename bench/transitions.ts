/**
 * State transitions per release: the synthesized definition run locally (rehearsal/interpreter.ts) with every Task
 * state answered by a stub returning what the real function returns (the shapes are the functions' own output
 * types), counting StateEntered events — what Standard workflows bill as state transitions.
 */
import type { DeploymentStarted, DeploymentStatus } from '../functions/deploy/deploy.ts';
import { type ApplyOutput, type PlanOutput, sampleNames } from '../functions/migrate/migrate.ts';
import type { PreflightOutput } from '../functions/preflight/preflight.ts';
import type { ReleaseInput } from '../functions/shared/release-input.ts';
import type { CreatedSnapshot, PruneResult, SnapshotStatus } from '../functions/snapshot/snapshot.ts';
import { PLACEHOLDER, synthesizeReleaseDefinition } from '../rehearsal/definition.ts';
import { publishAsSns, runLocally } from '../rehearsal/interpreter.ts';

/**
 * Step Functions Standard workflows, US East (N. Virginia): USD 0.025 per 1,000 state transitions, as on the
 * AWS pricing page (not re-checked from here: no network). The free tier (4,000 transitions a month) is ignored.
 */
export const PRICE_PER_1000_TRANSITIONS_USD = 0.025;

export interface Scenario {
  readonly name: string;
  /** Migrations the plan reports pending (0: nothing to migrate, no snapshot). */
  readonly pending: number;
  /** Snapshot status calls until `available` (the first answers available when 1). */
  readonly snapshotPolls: number;
  /** Rollout status calls until `done`. */
  readonly rolloutPolls: number;
}

export interface TransitionCount {
  readonly scenario: Scenario;
  readonly status: string;
  /** StateEntered events: the billed state transitions. */
  readonly transitions: number;
  /** The states entered, in order. */
  readonly states: readonly string[];
}

const RELEASE: ReleaseInput = {
  release: 'v1.4.0',
  image: `${PLACEHOLDER.account}.dkr.ecr.${PLACEHOLDER.region}.amazonaws.com/app:v1.4.0`,
  migrations: 'bundled',
  options: { skipSnapshot: false, dryRun: false },
};

/** Canned outputs shaped like the real functions', the status calls turning ready on poll number N. */
function stubs(scenario: Scenario) {
  let snapshotPolls = 0;
  let rolloutPolls = 0;
  const pending = Array.from(
    { length: scenario.pending },
    (_, i) => `${String(i + 1).padStart(4, '0')}_m.sql`,
  );
  const waitUntil = new Date(Date.now() + 3_600_000).toISOString();
  const snapshotId = 'lockstep-app-db-20250101000000-release1';
  return async (_state: string, kind: string, params: unknown): Promise<unknown> => {
    const p = params as { action?: string; mode?: string; execution?: { id: string } };
    switch (kind) {
      case 'preflight':
        return {
          release: RELEASE,
          executionId: p.execution?.id ?? '',
          database: 'app-db',
        } satisfies PreflightOutput;
      case 'migrate':
        if (p.mode === 'plan')
          return {
            mode: 'plan',
            pendingCount: pending.length,
            afterDeployCount: 0,
            pending: sampleNames(pending),
            databaseAhead: sampleNames([]),
            needsSnapshot: pending.length > 0,
            record: {
              phase: 'before-deploy',
              count: pending.length,
              afterDeployCount: 0,
              truncated: false,
              migrations: [],
            },
            lint: { findings: 0, failing: 0, rules: sampleNames([]) },
          } satisfies PlanOutput;
        return {
          mode: 'apply',
          phase: 'before-deploy',
          applied: sampleNames(pending),
          appliedCount: pending.length,
          pendingCount: 0,
          incomplete: false,
          warnings: sampleNames([]),
        } satisfies ApplyOutput;
      case 'snapshot':
        if (p.action === 'create')
          return {
            snapshotId,
            snapshotArn: `arn:aws:rds:${PLACEHOLDER.region}:${PLACEHOLDER.account}:snapshot:${snapshotId}`,
            status: 'creating',
            waitUntil,
          } satisfies CreatedSnapshot;
        if (p.action === 'status') {
          const available = ++snapshotPolls >= scenario.snapshotPolls;
          return {
            snapshotId,
            status: available ? 'available' : 'creating',
            percentProgress: available ? 100 : 50,
            available,
          } satisfies SnapshotStatus;
        }
        return { kept: [snapshotId], deleted: [], failed: [] } satisfies PruneResult;
      case 'deploy':
        if (p.action === 'start')
          return {
            taskDefinitionArn: `arn:aws:ecs:${PLACEHOLDER.region}:${PLACEHOLDER.account}:task-definition/app:8`,
            deploymentId: 'ecs-svc/1234567890123456789',
            previousTaskDefinitionArn: `arn:aws:ecs:${PLACEHOLDER.region}:${PLACEHOLDER.account}:task-definition/app:7`,
            waitUntil,
          } satisfies DeploymentStarted;
        {
          const done = ++rolloutPolls >= scenario.rolloutPolls;
          return {
            rolloutState: done ? 'COMPLETED' : 'IN_PROGRESS',
            done,
            desiredCount: 2,
            runningCount: 2,
            pendingCount: 0,
            failedTasks: 0,
          } satisfies DeploymentStatus;
        }
      case 'dynamodb':
      case 'record':
        return {};
      case 'sns':
        return publishAsSns(params, () => {});
      default:
        throw new Error(`no stub for ${kind}`);
    }
  };
}

/** Synthesizes the example stack's state machine once and runs each scenario on it. */
export async function countTransitions(scenarios: readonly Scenario[]): Promise<TransitionCount[]> {
  const local = synthesizeReleaseDefinition();
  const counts: TransitionCount[] = [];
  for (const scenario of scenarios) {
    const run = await runLocally(
      local,
      { release: RELEASE.release, image: RELEASE.image },
      { invoke: stubs(scenario) },
    );
    const states = run.events.filter((e) => e.type === 'StateEntered').map((e) => e.state?.name ?? '?');
    counts.push({ scenario, status: run.status, transitions: states.length, states });
  }
  return counts;
}

/** USD per 1,000 releases of `transitions` each. */
export const costPer1000Releases = (transitions: number) =>
  (transitions * 1000 * PRICE_PER_1000_TRANSITIONS_USD) / 1000;
