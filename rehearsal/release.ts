/**
 * `lockstep release --local` (what `npm start` runs): rehearse a whole release on this machine. The state
 * machine is the one the stack deploys — synthesized in-process, run by aws-local-stepfunctions — and each
 * Task state calls the real function handler with local stand-ins behind the AWS clients' interfaces: the
 * database is an embedded PostgreSQL (over verified TLS, as on AWS), a snapshot is a real copy of it, the
 * ECS service is a record of which image runs, and an alert is printed. With `--command`, the stack is synthesized in
 * command mode and the migration task is that command, run here in the working directory (./migration-command.ts).
 */

import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import {
  databaseUrl,
  EMBEDDED_DATABASE,
  ensureDatabase,
  type RunningPostgres,
  startEmbeddedPostgres,
  usableDataDir,
} from '../cli/embedded-postgres.ts';
import { ReleaseFailedError } from '../cli/start.ts';
import { InvalidInputError } from '../engine/errors.ts';
import { loadMigrations } from '../engine/migration-files.ts';
import { TAG_RELEASE, tagValue } from '../functions/snapshot/snapshot.ts';
import { bundleMigrations } from '../infra/constructs/bundled-migrations.ts';
import {
  type ApprovalPlan,
  localApprovalGate,
  parseApprovalPlan,
  type RehearsalApprovalOptions,
} from './approval.ts';
import type { ReleaseFunctionName } from './definition.ts';
import { cachedReleaseDefinition } from './definition-cache.ts';
import { handlerOf, invokeNamedFunction, localFunctions } from './functions.ts';
import {
  type Alert,
  deleteItemAsStepFunctions,
  executionArnFor,
  invokeAsLambda,
  publishAsSns,
  putItemAsStepFunctions,
  runLocally,
  updateItemAsStepFunctions,
} from './interpreter.ts';
import { takeRehearsalLock } from './lock.ts';
import {
  commandContext,
  localMigrationTasks,
  type MigrationCommand,
  parseMigrationCommand,
  withMigrationTimeout,
} from './migration-command.ts';
import { LOCAL_ACCOUNT } from './stand-ins/account.ts';
import { LocalDynamoTable } from './stand-ins/dynamodb.ts';
import { LocalEcsService } from './stand-ins/ecs.ts';
import { LocalExecutions } from './stand-ins/executions.ts';
import { LocalRds, PostgresSnapshots } from './stand-ins/rds.ts';
import { localRecordsTable } from './stand-ins/records.ts';
import { NoS3Client } from './stand-ins/s3.ts';
import { LocalSecrets } from './stand-ins/secrets.ts';
import { localTopicClient } from './stand-ins/sns.ts';
import { LocalParameters } from './stand-ins/ssm.ts';
import { LocalTaskTokens } from './stand-ins/task-tokens.ts';
import { localCertificate } from './tls.ts';

export const FAIL_AT = ['snapshot', 'migrate', 'deploy'] as const;
export type FailAt = (typeof FAIL_AT)[number];

export interface LocalReleaseOptions extends RehearsalApprovalOptions {
  /** The SQL migrations. @default './migrations' (none with `command`) */
  readonly dir?: string | undefined;
  /** Command mode: the migration command, one string as `cdk synth -c migrationCommand=…` takes it. */
  readonly command?: string | undefined;
  /** Command mode's pending check, one string as `cdk synth -c pendingCheckCommand=…` takes it. @default - none */
  readonly pendingCheck?: string | undefined;
  /** Command mode: the migration task's timeout for this rehearsal (`90s`, `15m`). @default - the synthesized one */
  readonly migrationTimeout?: string | undefined;
  readonly image?: string | undefined;
  readonly release?: string | undefined;
  readonly failAt?: string | undefined;
  readonly run?: string | undefined;
  readonly cwd: string;
  readonly print: (line: string) => void;
  readonly now: () => Date;
  /** Who approves or rejects at the gate (`--approval`): a user name. @default 'rehearsal' */
  readonly approver?: string | undefined;
}

export interface LocalReleaseResult {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly release: string;
  readonly image: string;
  readonly snapshotId: string;
  readonly migrationsApplied: number;
  readonly runningImage: string | undefined;
  readonly alerts: readonly Alert[];
  readonly error?: string | undefined;
}

const DATABASE = EMBEDDED_DATABASE;

export interface LocalDatabase {
  readonly server: RunningPostgres;
  readonly caFile: string;
  /** What the app (`--run`) connects with. */
  readonly appUrl: string;
}

/** Runs `work` with the local PostgreSQL and its app database, and stops the server after if it started it. */
export async function withLocalDatabase<T>(
  cwd: string,
  print: (line: string) => void,
  work: (db: LocalDatabase) => Promise<T>,
): Promise<T> {
  const db = await localDatabase(cwd, print);
  try {
    return await work(db);
  } finally {
    if (db.server.startedHere) await db.server.stop();
  }
}

async function localDatabase(cwd: string, print: (line: string) => void): Promise<LocalDatabase> {
  const lockstepDir = join(cwd, '.lockstep');
  const { dir, movedBecause } = usableDataDir(join(lockstepDir, 'pg'));
  if (movedBecause) print(`note: keeping the embedded PostgreSQL in ${dir} (${movedBecause})`);
  const certificate = await localCertificate(join(lockstepDir, 'tls'));
  const server = await startEmbeddedPostgres({ dataDir: dir, tls: certificate });
  await ensureDatabase(server.url, DATABASE);
  print(
    `embedded PostgreSQL: ${dir} (port ${server.port}), database "${DATABASE}", TLS verified against ${certificate.caFile}`,
  );
  return { server, caFile: certificate.caFile, appUrl: databaseUrl(server.url, DATABASE) };
}

export function localSnapshots(server: RunningPostgres): PostgresSnapshots {
  return new PostgresSnapshots(server.url, DATABASE);
}

/** `restore --local <id>`: not while a rehearsal runs, which the restore would pull the database from under. */
export function restoreLocal(id: string): (db: LocalDatabase) => Promise<void> {
  return async ({ server }) => {
    const unlock = await takeRehearsalLock(server.url, `restore --local ${id}`);
    try {
      await localSnapshots(server).restore(id);
    } finally {
      await unlock();
    }
  };
}

export async function releaseLocal(options: LocalReleaseOptions): Promise<LocalReleaseResult> {
  const failAt = options.failAt as FailAt | undefined;
  if (failAt !== undefined && !FAIL_AT.includes(failAt)) {
    throw new InvalidInputError('--fail-at', `must be one of ${FAIL_AT.join(', ')}`);
  }
  const stamp = options.now().toISOString().replace(/\D/g, '').slice(0, 14);
  const release = options.release ?? `local-${stamp}`;
  const image = options.image ?? `local/app:${release}`;
  const print = options.print;
  // Up front, before a database starts: a bad command, a missing directory or a file the engine would refuse is a
  // usage error now, not an alert from the migrate step later.
  const command = parseMigrationCommand(options);
  const approval = parseApprovalPlan(options);
  const dir = command ? undefined : resolve(options.cwd, options.dir ?? 'migrations');
  if (dir) await loadMigrations(dir);

  return withLocalDatabase(options.cwd, print, async (db) => {
    const unlock = await takeRehearsalLock(db.server.url, `release --local ${release}`);
    try {
      return await rehearse(options, db, { failAt, release, image, dir, command, approval });
    } finally {
      await unlock();
    }
  });
}

async function rehearse(
  options: LocalReleaseOptions,
  { server, caFile, appUrl }: LocalDatabase,
  { failAt, release, image, dir, command, approval }: RehearsalPlan,
): Promise<LocalReleaseResult> {
  const print = options.print;
  const scratch = mkdtempSync(join(tmpdir(), 'lockstep-release-'));
  let ecs: LocalEcsService | undefined;
  try {
    // Checked and split as the synth bundles them: the migrate function runs from the manifest, without a parser.
    // Command mode has no migrate function: the directory stays empty.
    const migrationsDir = join(scratch, 'bundled-migrations');
    if (dir) await bundleMigrations(rehearsalMigrations(dir, scratch, failAt), migrationsDir);
    else mkdirSync(migrationsDir);
    mkdirSync(join(options.cwd, '.lockstep'), { recursive: true });
    const logger = new Logger({ serviceName: 'lockstep-local', logLevel: 'SILENT' });

    const cacheDir = join(options.cwd, '.lockstep', 'cache');
    const cached = await cachedReleaseDefinition(cacheDir, {
      context: { ...(command ? commandContext(command) : {}), ...(approval ? { approval: 'true' } : {}) },
      onSynthesize: () =>
        print(
          `synthesizing the release state machine (infra/)${command ? ' in command mode' : ''}${approval ? ' with its approval gate' : ''}; kept in .lockstep/cache …`,
        ),
    });
    const local =
      command?.timeoutSeconds === undefined
        ? cached.local
        : withMigrationTimeout(cached.local, command.timeoutSeconds);
    const env = local.environments;
    const executionName = release.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 80);
    const executionArn = executionArnFor(local, executionName);

    // The AWS side, standing in locally: what each function is configured to call, by the template's names.
    const rds = new LocalRds({
      account: LOCAL_ACCOUNT,
      instance: DATABASE,
      store: localSnapshots(server),
    });
    if (failAt === 'snapshot')
      rds.failCreate = 'rehearsed failure (--fail-at snapshot): manual snapshot quota reached';
    ecs = new LocalEcsService({
      account: LOCAL_ACCOUNT,
      cluster: env.deploy.ECS_CLUSTER ?? 'app',
      service: env.deploy.ECS_SERVICE ?? 'app',
      container: env.deploy.CONTAINER_NAME ?? 'app',
      initialImage: 'local/app:initial',
      stateFile: join(options.cwd, '.lockstep', 'deploy.json'),
    });
    if (failAt === 'deploy') ecs.rollouts = ['IN_PROGRESS', 'FAILED'];
    if (command) {
      const launch = localMigrationTasks({
        cwd: options.cwd,
        container: env.migrationTask?.CONTAINER_NAME ?? 'app',
        databaseUrl: appUrl,
        release,
        print,
      });
      ecs.launcher = failAt === 'migrate' ? (params) => launch(failingCommand(params)) : launch;
    }
    const secrets = new LocalSecrets();
    // The migrate function's secret; command mode's task gets its credentials from its own environment.
    if (env.migrate?.DB_SECRET_ARN) secrets.putDatabaseCredentials(env.migrate.DB_SECRET_ARN, server.url);
    const executions = new LocalExecutions();
    executions.start(executionArn);
    const locks = new LocalDynamoTable(local.lockTableName, 'lockId');
    const records = localRecordsTable(options.cwd, local.recordsTableName).client();
    const parameters = new LocalParameters();
    // The approval function's notification is printed when it is sent: the person at the terminal decides on it.
    const notifications: Alert[] = [];
    const sns = localTopicClient((notification) => {
      notifications.push(notification);
      printBlock(print, 'NOTIFICATION', notification);
    });
    const tokens = new LocalTaskTokens();
    const clients = {
      sfn: executions.client(),
      s3: new NoS3Client(),
      dynamodb: locks.client(),
      rds: rds.client(),
      secrets: secrets.client(),
      ecs: ecs.client(),
      ssm: parameters.client(),
      sns,
    };
    const gate =
      approval &&
      localApprovalGate(approval, {
        tokens,
        locks: clients.dynamodb,
        lockTable: local.lockTableName,
        executionArn,
        approver: options.approver ?? 'rehearsal',
        now: options.now,
        print,
      });
    const handlers = localFunctions(local, clients, {
      database: { host: 'localhost', port: server.port, caFile, identifier: DATABASE },
      migrationsDir,
      logger,
    });

    print(
      `release ${release}: image ${image}${command ? `, migrated by: ${command.command}` : ''}${failAt ? ` (rehearsing a failure at ${failAt})` : ''}`,
    );
    const services = ecs;
    const startedAt = Date.now();
    const alerts: Alert[] = [];
    const entered = new Map<string, number>();
    const failed = new Set<string>();
    const run = await runLocally(
      local,
      { image, release },
      {
        executionName,
        waitMs: 200,
        taskTokens: tokens,
        invoke: (_state, kind, params) =>
          kind === 'sns'
            ? Promise.resolve(publishAsSns(params, (alert) => alerts.push(alert)))
            : kind === 'dynamodb'
              ? deleteItemAsStepFunctions(clients.dynamodb, params)
              : kind === 'record'
                ? putItemAsStepFunctions(records, params)
                : kind === 'ecsRunTask'
                  ? services.runTaskSync(params)
                  : kind === 'dynamodbUpdate'
                    ? updateItemAsStepFunctions(clients.dynamodb, params)
                    : kind === 'awaitToken' && gate
                      ? gate(params, () => invokeNamedFunction(local, handlers, params, FULL_TIME))
                      : invokeAsLambda(handlerOf(handlers, kind as ReleaseFunctionName), params, FULL_TIME),
        onEvent: (event) => {
          const name = event.state?.name;
          if (!name) return;
          if (event.type === 'StateEntered') entered.set(name, event.timestamp);
          else if (event.type === 'StateExited')
            print(
              `  ✓ ${name.padEnd(24)} ${duration(event.timestamp - (entered.get(name) ?? event.timestamp))}`,
            );
          else if (event.type === 'StateFailed') {
            failed.add(name);
            print(`  ✗ ${name.padEnd(24)} ${event.Error ?? 'failed'}`);
          } else if (event.type === 'StateRetried') print(`  ↻ ${name.padEnd(24)} retrying`);
        },
      },
    );

    for (const alert of alerts) printBlock(print, 'ALERT', alert);
    const output = (run.output ?? {}) as {
      snapshot?: { snapshotId?: string };
      plan?: { pendingCount?: number };
    };
    const snapshots = await localSnapshots(server).list();
    // This release's snapshot: the one its output names ("none" when it took none), or (a failed execution
    // has no output) the one tagged with this release since it started. Never an older release's.
    const reported = output.snapshot?.snapshotId;
    const snapshotId =
      (reported === 'none' ? undefined : reported) ??
      snapshots.find(
        (s) =>
          s.createdAt.getTime() >= startedAt - 1000 &&
          s.tags.some((t) => t.Key === TAG_RELEASE && t.Value === tagValue(release)),
      )?.id;
    const older = snapshotId === undefined ? snapshots[0] : undefined;
    const result: LocalReleaseResult = {
      status: run.status,
      release,
      image,
      snapshotId: snapshotId ?? 'none',
      migrationsApplied: run.status === 'SUCCEEDED' ? (output.plan?.pendingCount ?? 0) : 0,
      runningImage: ecs.image,
      alerts,
      error: run.error,
    };
    print('');
    print(`release    ${release}`);
    print(`image      ${image} (the service now runs ${result.runningImage ?? 'nothing'})`);
    print(
      `migrations ${run.status !== 'SUCCEEDED' ? 'see the alert' : command ? `${command.command}: exit 0` : `${result.migrationsApplied} applied`}`,
    );
    print(
      snapshotId === undefined
        ? `snapshot   none taken by this release${older ? ` (the newest, older one: ${older.id}, ${older.createdAt.toISOString()})` : ''}`
        : `snapshot   ${snapshotId}  (restore: lockstep restore --local ${snapshotId})`,
    );
    print(`result     ${run.status}${run.error ? `: ${run.error}` : ''}`);
    print(`record     lockstep releases show ${release} --local`);

    if (run.status !== 'SUCCEEDED') {
      throw Object.assign(new ReleaseFailedError(run.executionArn, 'FAILED', run.error, undefined), {
        result,
      });
    }
    if (options.run) {
      print(`\nthe release succeeded: starting ${options.run}`);
      const code = await runApp(options.run, {
        DATABASE_URL: appUrl,
        LOCKSTEP_IMAGE: image,
        LOCKSTEP_RELEASE: release,
      });
      if (code !== 0) throw new InvalidInputError('--run', `the command exited ${code}`);
    }
    return result;
  } finally {
    // A migration task still running (its state timed out and StopTask's grace period has not ended) ends with the run.
    await ecs?.stopAll();
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** What a Lambda with the migrate function's 15 minutes has left when invoked. */
const FULL_TIME = { getRemainingTimeInMillis: () => 15 * 60_000 };

/** An alert (or the approval notification) as the rehearsal prints it, between rules. */
function printBlock(print: (line: string) => void, label: string, alert: Alert): void {
  print('');
  print('!'.repeat(78));
  print(`${label}  ${alert.subject ?? ''}`);
  print('!'.repeat(78));
  print(alert.message);
  print('!'.repeat(78));
}

interface RehearsalPlan {
  readonly failAt: FailAt | undefined;
  readonly release: string;
  readonly image: string;
  /** The SQL migrations, resolved; undefined in command mode. */
  readonly dir: string | undefined;
  readonly command: MigrationCommand | undefined;
  /** How the approval gate is decided; undefined without `--approval`. */
  readonly approval: ApprovalPlan | undefined;
}

/** `--fail-at migrate` in command mode: the task runs a command that fails in its place, saying so. */
function failingCommand(params: Record<string, unknown>): Record<string, unknown> {
  const failing = [
    process.execPath,
    '-e',
    'console.error("--fail-at migrate: the migration command is not run; this task exits 1 in its place"); process.exit(1)',
  ];
  const overrides = params.Overrides as { ContainerOverrides?: Record<string, unknown>[] } | undefined;
  return {
    ...params,
    Overrides: {
      ...overrides,
      ContainerOverrides: (overrides?.ContainerOverrides ?? []).map((o) => ({ ...o, Command: failing })),
    },
  };
}

/** The migrations to run: the directory as it is, plus a file that fails (or is pending) when rehearsing a failure. */
function rehearsalMigrations(dir: string, scratch: string, failAt: FailAt | undefined): string {
  if (failAt !== 'migrate' && failAt !== 'snapshot') return dir;
  const copy = join(scratch, 'migrations');
  mkdirSync(copy);
  for (const file of readdirSync(dir))
    if (file.endsWith('.sql')) copyFileSync(join(dir, file), join(copy, file));
  // The highest version, so every real migration runs first; it is never recorded: it fails, or never runs.
  writeFileSync(
    join(copy, '9223372036854775806_rehearsed_failure.sql'),
    failAt === 'migrate'
      ? '-- Added by --fail-at migrate: a change, then an error, to show that the change is rolled back.\nCREATE TABLE rehearsed_failure (id int);\nSELECT 1 / 0;\n'
      : '-- Added by --fail-at snapshot: something pending, so that the snapshot step runs (and fails).\nSELECT 1;\n',
  );
  return copy;
}

function duration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function runApp(command: string, env: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, { shell: true, stdio: 'inherit', env: { ...process.env, ...env } });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
