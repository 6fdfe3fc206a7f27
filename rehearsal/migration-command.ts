/**
 * Command mode in the rehearsal (`lockstep release --local --command "<command>"`): the example stack synthesized
 * with the command as `cdk synth -c migrationCommand=…` gives it (so the definition cache's key covers it), and the
 * state machine's `ecs:runTask.sync` task run as a child process in the working directory
 * (./stand-ins/migration-process.ts) through the ECS stand-in, with the embedded database in its environment.
 */

import { commandEnvironment } from '../cli/exec/environment.ts';
import { parseDuration } from '../cli/exec/options.ts';
import { InvalidInputError } from '../engine/errors.ts';
import { commandWords } from '../infra/command-words.ts';
import { knownNonCheck } from '../infra/constructs/pending-check-commands.ts';
import { STATE } from '../infra/constructs/state-names.ts';
import type { LocalDefinition } from './definition.ts';
import type { TaskLauncher } from './stand-ins/ecs.ts';
import { startMigrationProcess } from './stand-ins/migration-process.ts';

export interface MigrationCommandFlags {
  /** `--command`: the migration command, one string as `-c migrationCommand` takes it. */
  readonly command?: string | undefined;
  /** `--pending-check`: a command that exits 0 when nothing is pending, one string as `-c pendingCheckCommand` takes it. */
  readonly pendingCheck?: string | undefined;
  /** `--migration-timeout`: a duration (`90s`, `15m`, `2h`). */
  readonly migrationTimeout?: string | undefined;
  /** `--dir`, when given: SQL migrations, which a command excludes. */
  readonly dir?: string | undefined;
}

/** Command mode's settings, checked. */
export interface MigrationCommand {
  /** As given: the CDK context value. */
  readonly command: string;
  /** The pending check as given, the CDK context value. @default - none: always snapshot and migrate */
  readonly pendingCheck: string | undefined;
  /** The state's TimeoutSeconds for this rehearsal. @default - the synthesized one */
  readonly timeoutSeconds: number | undefined;
}

/**
 * Checks the flags before anything starts; throws {@link InvalidInputError} naming the flag. Undefined without
 * `--command`: the SQL engine's rehearsal.
 */
export function parseMigrationCommand(flags: MigrationCommandFlags): MigrationCommand | undefined {
  if (flags.command === undefined) {
    if (flags.migrationTimeout !== undefined)
      throw new InvalidInputError('--migration-timeout', 'applies to --command only');
    if (flags.pendingCheck !== undefined)
      throw new InvalidInputError(
        '--pending-check',
        'applies to --command only: it is command mode’s pending check',
      );
    return undefined;
  }
  if (flags.dir !== undefined)
    throw new InvalidInputError(
      '--dir',
      'names SQL migrations for lockstep’s engine, but --command runs your tool’s own migrations instead: give one of them',
    );
  // Split here as the synth splits it, so that a command the synth would refuse is refused before a database starts.
  commandWords(flags.command, '--command', (problem) => new InvalidInputError('--command', problem));
  if (flags.pendingCheck !== undefined) {
    const check = commandWords(
      flags.pendingCheck,
      '--pending-check',
      (problem) => new InvalidInputError('--pending-check', problem),
    );
    const problem = knownNonCheck(check);
    if (problem) throw new InvalidInputError('--pending-check', problem);
  }
  const timeoutMs =
    flags.migrationTimeout === undefined
      ? undefined
      : parseDuration('--migration-timeout', flags.migrationTimeout);
  // TimeoutSeconds is a whole number of seconds.
  return {
    command: flags.command,
    pendingCheck: flags.pendingCheck,
    timeoutSeconds: timeoutMs === undefined ? undefined : Math.ceil(timeoutMs / 1000),
  };
}

/** The CDK context that synthesizes command mode with this command. */
export function commandContext(command: MigrationCommand): Record<string, string> {
  return {
    migrationCommand: command.command,
    ...(command.pendingCheck === undefined ? {} : { pendingCheckCommand: command.pendingCheck }),
  };
}

/** The name of the definition's migration task state (with a pending check there is a second RunTask state). */
export function migrationTaskState(local: LocalDefinition): string {
  if (local.taskStates[STATE.runMigrationTask] !== 'ecsRunTask')
    throw new Error(
      `the definition has no "${STATE.runMigrationTask}" ecs:runTask.sync state: is it command mode?`,
    );
  return STATE.runMigrationTask;
}

/**
 * The definition with another migration timeout, for a rehearsal that should not wait the deployed one (an hour
 * by default): the migration task's TimeoutSeconds, and MIGRATION_TIMEOUT_SECONDS, which the migration-task
 * function names in its alert. Nothing else changes: the state times out as on AWS, and the function stops the
 * task through StopTask.
 */
export function withMigrationTimeout(local: LocalDefinition, seconds: number): LocalDefinition {
  const name = migrationTaskState(local);
  const definition = structuredClone(local.definition);
  const state = definition.States[name];
  if (!state) throw new Error(`the migration task state "${name}" is not a top-level state`);
  definition.States[name] = { ...state, TimeoutSeconds: seconds };
  const migrationTask = local.environments.migrationTask;
  return {
    ...local,
    definition,
    environments: {
      ...local.environments,
      ...(migrationTask
        ? { migrationTask: { ...migrationTask, MIGRATION_TIMEOUT_SECONDS: String(seconds) } }
        : {}),
    },
  };
}

export interface LocalMigrationTaskOptions {
  /** The working tree: the new image. */
  readonly cwd: string;
  /** The container whose command override is the migration (the migration-task function's CONTAINER_NAME). */
  readonly container: string;
  /** What the command connects to, without TLS parameters: the URL `--run` gets too. */
  readonly databaseUrl: string;
  readonly release: string;
  /** Between StopTask's SIGTERM and SIGKILL. @default 30 s, as ECS */
  readonly graceMs?: number;
  /** Where the task's output goes, line by line. */
  readonly print: (line: string) => void;
  /** lockstep's environment, passed on to the command. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Runs each migration task as a child process, with `DATABASE_URL` and libpq's `PG*` variables for the database
 * (as `lockstep exec` gives them) and the state's overrides (its `PGOPTIONS`) over them.
 */
export function localMigrationTasks(options: LocalMigrationTaskOptions): TaskLauncher {
  const url = new URL(options.databaseUrl);
  const env = commandEnvironment({
    env: options.env ?? process.env,
    url: options.databaseUrl,
    connection: {
      host: url.hostname,
      port: Number(url.port || 5432),
      database: decodeURIComponent(url.pathname.slice(1)) || undefined,
      user: decodeURIComponent(url.username) || undefined,
      password: decodeURIComponent(url.password) || undefined,
    },
    // The state's container override sets PGOPTIONS, as the AWS task gets it.
    pgOptions: '',
    release: options.release,
  });
  return (params) =>
    startMigrationProcess(params, {
      cwd: options.cwd,
      container: options.container,
      env,
      ...(options.graceMs !== undefined ? { graceMs: options.graceMs } : {}),
      print: options.print,
    });
}
