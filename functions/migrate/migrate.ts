/**
 * The migrate function's core: load this release's migrations (bundled or from S3, verified against the manifest
 * that carries their statements, split and checked at synth or `lockstep publish`: nothing here parses SQL), connect
 * with the secret, and run the engine in `plan` or `apply` mode. The connection is closed on every path, so a warm
 * container never holds one between invocations.
 */

import type { Logger } from '@aws-lambda-powertools/logger';
import type { S3Client } from '@aws-sdk/client-s3';
import * as z from 'zod/mini';
import type { MigrationPhase } from '../../engine/directives.ts';
import { lintRelease, unsafeMigrationError } from '../../engine/lint/lint-release.ts';
import { type FailOn, LINT_DEFAULTS, type LintThresholds } from '../../engine/lint/report.ts';
import type { MigrationFile } from '../../engine/migration.ts';
import { planProblem } from '../../engine/plan.ts';
import { type EngineOptions, migrate, plan } from '../../engine/runner.ts';
import { pgSession, type SqlSession } from '../../engine/session.ts';
import { type ConnectDeps, connectToDatabase, type DatabaseTarget } from '../shared/database.ts';
import { InvalidInputError } from '../shared/errors.ts';
import { parseEvent } from '../shared/events.ts';
import { invocationKeys, runHandler } from '../shared/handler.ts';
import type { Log } from '../shared/logger.ts';
import { downloadMigrations, type S3Location } from '../shared/migrations-s3.ts';
import { type ReleaseInput, releaseInputSchema } from '../shared/release-input.ts';
import { readBundledMigrations } from './bundled-migrations.ts';
import { type RecordedMigrations, recordMigrations } from './record-migrations.ts';

export interface MigrateConfig {
  readonly target: DatabaseTarget;
  /** Directory of the migrations bundled with the function, with the manifest the synth wrote. */
  readonly bundledDir: string;
  /** Where `lockstep publish` put per-release migrations, when the stack uses S3. */
  readonly s3: S3Location | undefined;
  readonly engine: Omit<EngineOptions, 'appliedBy' | 'deadline'>;
  /**
   * The plan step's migration lint: `never` reports findings in the log and the output and stops nothing.
   * @default { failOn: 'error', thresholds: LINT_DEFAULTS }
   */
  readonly lint?: { readonly failOn: FailOn; readonly thresholds: LintThresholds };
}

export interface MigrateDeps extends ConnectDeps {
  readonly s3: S3Client;
  readonly log: Log;
  readonly config: MigrateConfig;
  readonly now: () => number;
}

export interface MigrateEvent {
  readonly mode: 'plan' | 'apply';
  /** The phase an `apply` runs: the state machine applies before-deploy migrations, deploys, then after-deploy ones. */
  readonly phase?: MigrationPhase;
  readonly executionId: string;
  readonly release: ReleaseInput;
}

/**
 * A list cut to its first and last few entries: what goes into the execution state, which Step Functions caps at
 * 256 KiB (a release of thousands of migrations would not fit). The full list goes to the function's log.
 */
export interface NameSample {
  readonly count: number;
  readonly first: readonly string[];
  readonly last: readonly string[];
}

/** How many names a {@link NameSample} keeps at each end, and how long each may be. */
const SAMPLE_SIZE = 5;
const MAX_TEXT = 500;

const clip = (text: string) => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text);

export function sampleNames(names: readonly string[]): NameSample {
  const cut = names.map(clip);
  return {
    count: cut.length,
    first: cut.slice(0, SAMPLE_SIZE),
    last: cut.length > SAMPLE_SIZE ? cut.slice(Math.max(SAMPLE_SIZE, cut.length - SAMPLE_SIZE)) : [],
  };
}

export interface PlanOutput {
  readonly mode: 'plan';
  /** Pending migrations of both phases. */
  readonly pendingCount: number;
  /** How many of them run after the rollout (`-- lockstep:after-deploy`): the state machine runs that phase when > 0. */
  readonly afterDeployCount: number;
  readonly pending: NameSample;
  readonly databaseAhead: NameSample;
  /** Pending migrations and snapshots not skipped: the state machine takes a snapshot first. */
  readonly needsSnapshot: boolean;
  /** The pending migrations with their checksums, for the release record (functions/migrate/record-migrations.ts). */
  readonly record: RecordedMigrations;
  /** The migration lint of the pending files (every finding is in the log). */
  readonly lint: { readonly findings: number; readonly failing: number; readonly rules: NameSample };
}

export interface ApplyOutput {
  readonly mode: 'apply';
  readonly phase: MigrationPhase;
  /** The files this invocation applied (every one is in the log, with its duration). */
  readonly applied: NameSample;
  readonly appliedCount: number;
  readonly pendingCount: number;
  /** Time ran out before everything was applied: invoke again. */
  readonly incomplete: boolean;
  readonly warnings: NameSample;
}

const eventSchema = z.object({
  mode: z.enum(['plan', 'apply']),
  phase: z.optional(z.enum(['before-deploy', 'after-deploy'])),
  executionId: z.string().check(z.minLength(1)),
  release: releaseInputSchema,
});

/** Validates the state machine's event; a malformed one is an {@link InvalidInputError} naming the field. */
export function parseMigrateEvent(raw: unknown): MigrateEvent {
  return parseEvent(eventSchema, raw);
}

/** Time kept back from the Lambda's own limit: closing the connection and returning must fit in it. */
const RETURN_MARGIN_MS = 5_000;

export async function runMigrate(
  deps: MigrateDeps,
  event: MigrateEvent,
  limits: { readonly remainingMs: number },
): Promise<PlanOutput | ApplyOutput> {
  const { release } = event;
  if (event.mode === 'apply' && release.options.dryRun) {
    throw new InvalidInputError('release.options.dryRun', 'a dry run only plans; apply was not expected');
  }
  // Named, never defaulted: an after-deploy migration run before the deploy is the harm the phase exists to prevent.
  if (event.mode === 'apply' && event.phase === undefined) {
    throw new InvalidInputError('phase', 'apply needs the phase it runs: before-deploy or after-deploy');
  }
  const files = await loadReleaseMigrations(deps, release);
  const client = await connectToDatabase(deps, deps.config.target, `lockstep ${release.release}`);
  try {
    const session = pgSession(client);
    if (event.mode === 'plan') {
      const p = await plan({ session }, files, deps.config.engine);
      const problem = planProblem(p, deps.config.engine);
      if (problem) throw problem;
      const pending = p.pending.map((m) => m.file);
      const databaseAhead = p.databaseAhead.map((m) => m.file);
      deps.log.info('plan', { pendingCount: pending.length, pending, databaseAhead });
      const lint = await lintPending(deps, files, pending, session);
      return {
        mode: 'plan',
        pendingCount: p.pending.length,
        afterDeployCount: p.pending.filter((m) => m.phase === 'after-deploy').length,
        pending: sampleNames(pending),
        databaseAhead: sampleNames(databaseAhead),
        needsSnapshot: p.pending.length > 0 && !release.options.skipSnapshot,
        record: recordMigrations(p.pending, files),
        lint,
      };
    }
    const result = await migrate(
      {
        session,
        now: deps.now,
        onEvent: (e) => {
          if (e.type === 'migration-applied') deps.log.info('applied', { ...e.migration });
          else if (e.type === 'migration-retry')
            deps.log.warn('lock not available, retrying', {
              file: e.file,
              attempt: e.attempt,
              delayMs: e.delayMs,
            });
          else if (e.type === 'lock-wait')
            deps.log.info('waiting for the migration lock', { holder: e.holder });
          else if (e.type === 'deadline-stop')
            deps.log.info('stopping before the Lambda times out; the state machine invokes again');
          else if (e.type === 'cleanup-failed')
            deps.log.warn('cleanup after a failure failed too', { action: e.action, reason: e.reason });
        },
      },
      files,
      {
        ...deps.config.engine,
        phase: event.phase,
        appliedBy: release.release,
        deadline: deps.now() + limits.remainingMs - RETURN_MARGIN_MS,
      },
    );
    for (const warning of result.warnings) deps.log.warn(warning);
    return {
      mode: 'apply',
      phase: event.phase ?? 'before-deploy',
      applied: sampleNames(result.applied.map((m) => m.file)),
      appliedCount: result.applied.length,
      pendingCount: result.pending.length,
      incomplete: result.incomplete,
      warnings: sampleNames(result.warnings),
    };
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The migration lint of the pending files, in run order: each file's static lint from the manifest (made with the
 * parser at synth or `lockstep publish`), the live database read here. Throws {@link UnsafeMigrationError} when a
 * finding reaches the configured severity: the release stops before the snapshot, the findings in the alert.
 */
async function lintPending(
  deps: MigrateDeps,
  files: readonly MigrationFile[],
  pendingNames: readonly string[],
  session: SqlSession,
): Promise<PlanOutput['lint']> {
  const names = new Set(pendingNames);
  const pending = files.filter((m) => names.has(m.file));
  let unlinted = 0;
  const { failOn, thresholds } = deps.config.lint ?? { failOn: 'error', thresholds: LINT_DEFAULTS };
  const report = await lintRelease(
    pending,
    async (m) => {
      const { lint } = await m.analyze();
      if (!lint) unlinted++;
      return lint ?? { findings: [], events: [], locks: [] };
    },
    session,
    { failOn, thresholds },
  );
  if (unlinted > 0)
    deps.log.warn('migrations published by a lockstep without the lint: not linted; publish them again', {
      count: unlinted,
    });
  for (const f of report.findings) deps.log.info('lint finding', { ...f });
  const error = unsafeMigrationError(report);
  if (error) throw error;
  return {
    findings: report.findings.length,
    failing: report.failing,
    rules: sampleNames(report.findings.map((f) => `${f.file}:${f.line}:${f.column} ${f.severity} ${f.rule}`)),
  };
}

async function loadReleaseMigrations(deps: MigrateDeps, release: ReleaseInput): Promise<MigrationFile[]> {
  if (release.migrations === 'bundled') return readBundledMigrations(deps.config.bundledDir);
  if (release.migrations === 'command')
    throw new InvalidInputError('release.migrations', '"command": command mode has no migrate function');
  if (!deps.config.s3) {
    throw new InvalidInputError(
      'release.migrations',
      '"s3" was asked for, but this stack has no migrations bucket (MIGRATIONS_BUCKET)',
    );
  }
  return downloadMigrations(deps.s3, deps.config.s3, release.release);
}

/** The Lambda handler over these deps: ./handler.ts wires the AWS ones, the local rehearsal its stand-ins. */
export function createMigrateHandler(deps: MigrateDeps, logger: Logger) {
  return async (event: unknown, context: { getRemainingTimeInMillis(): number }) => {
    const { executionId, release, action } = invocationKeys(event);
    return runHandler(logger, { executionId, release, step: `migrate:${action ?? '?'}` }, () =>
      runMigrate(deps, parseMigrateEvent(event), { remainingMs: context.getRemainingTimeInMillis() }),
    );
  };
}
