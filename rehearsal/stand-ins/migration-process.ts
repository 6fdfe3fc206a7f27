/**
 * The migration task of command mode, for the rehearsal (`lockstep release --local --command …`): the
 * `ecs:runTask.sync` state's command runs as a child process in the current directory (the release's image is the
 * working tree), with `DATABASE_URL` and libpq's `PG*` variables pointing at the embedded database and the state's
 * container overrides (PGOPTIONS, extra environment) applied. Its output is printed as the task's logs. It ends as a
 * finished ECS task would, in the shapes of ./ecs-task-shapes.ts: a stopped task with the container's exit code, or
 * a task that never started (the command could not be run).
 *
 * It has no timer of its own: the state's TimeoutSeconds ends the state, as on AWS, and the migration-task function
 * then stops the task through the ECS stand-in's StopTask, which calls the task's `stop`: SIGTERM, then
 * SIGKILL after the grace period, as ECS's StopTask does ("the equivalent of docker stop": ECS API Reference,
 * StopTask). A task stopped that way ends with stopCode UserInitiated and the signal's exit code.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { LaunchedTask } from './ecs.ts';
import type { RecordedTask } from './ecs-task-shapes.ts';

export interface MigrationProcessOptions {
  readonly cwd: string;
  /** The container whose command override is the migration. */
  readonly container: string;
  /** The environment the command gets before the state's overrides: DATABASE_URL and the PG* variables, and the rest. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Between SIGTERM and SIGKILL. @default 30 s, ECS's default stop timeout */
  readonly graceMs?: number;
  readonly print: (line: string) => void;
}

interface Override {
  readonly Name?: string;
  readonly Command?: readonly string[];
  readonly Environment?: ReadonlyArray<{ readonly Name?: string; readonly Value?: string }>;
}

/** Starts the state's command (`params` are the RunTask parameters the state sent). */
export function startMigrationProcess(params: unknown, options: MigrationProcessOptions): LaunchedTask {
  const p = (params ?? {}) as {
    Overrides?: { ContainerOverrides?: readonly Override[] };
    TaskDefinition?: string;
  };
  const override = p.Overrides?.ContainerOverrides?.find((o) => o.Name === options.container);
  const [file, ...args] = override?.Command ?? [];
  const stopped = (fields: Record<string, unknown>, container: Record<string, unknown>): RecordedTask => ({
    TaskArn: `local-task/${process.pid}-${Date.now()}`,
    TaskDefinitionArn: p.TaskDefinition,
    LastStatus: 'STOPPED',
    DesiredStatus: 'STOPPED',
    StoppedAt: new Date().toISOString(),
    ...fields,
    Containers: [{ Name: options.container, LastStatus: 'STOPPED', ...container }],
  });
  const neverStarted = (reason: string) =>
    stopped({ StopCode: 'TaskFailedToStart', StoppedReason: reason }, { Reason: reason });
  if (!file) {
    const task = neverStarted(
      `CannotStartContainerError: the container override of ${options.container} has no command`,
    );
    return { stopped: Promise.resolve(task), stop: () => {}, kill: async () => {} };
  }
  const env: Record<string, string | undefined> = { ...options.env };
  for (const { Name, Value } of override?.Environment ?? []) if (Name) env[Name] = Value ?? '';

  const startedAt = new Date().toISOString();
  // Its own process group, so that a stop reaches what it started too (`npx` starts the tool as its child).
  const child = spawn(file, args, {
    cwd: options.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  for (const stream of [child.stdout, child.stderr])
    createInterface({ input: stream }).on('line', (line) => options.print(`  │ ${line}`));

  let stoppedBy: string | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  // A rehearsal that exits (Ctrl-C) takes its migration with it, as a stopped execution's task would be stopped.
  const killOnExit = () => signal(child, 'SIGKILL');
  process.once('exit', killOnExit);

  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: Error }>(
    (resolve) => {
      child.once('error', (error) => resolve({ error }));
      // 'close': the process has exited and its output is read to the end.
      child.once('close', (code, sig) => resolve({ code, signal: sig }));
    },
  ).finally(() => {
    if (killTimer) clearTimeout(killTimer);
    process.removeListener('exit', killOnExit);
  });

  const task = ended.then((end) => {
    if ('error' in end) {
      const code = (end.error as NodeJS.ErrnoException).code ?? end.error.message;
      return neverStarted(`CannotStartContainerError: ${file}: ${code}`);
    }
    // A container killed by a signal reports 128 + its number, as Docker does.
    const exitCode = end.code ?? 128 + (end.signal === 'SIGKILL' ? 9 : end.signal === 'SIGTERM' ? 15 : 0);
    return stopped(
      stoppedBy === undefined
        ? {
            StopCode: 'EssentialContainerExited',
            StoppedReason: 'Essential container in task exited',
            StartedAt: startedAt,
          }
        : { StopCode: 'UserInitiated', StoppedReason: stoppedBy, StartedAt: startedAt },
      { ExitCode: exitCode },
    );
  });

  return {
    stopped: task,
    stop(reason) {
      if (stoppedBy !== undefined || child.exitCode !== null || child.signalCode !== null) return;
      stoppedBy = reason;
      signal(child, 'SIGTERM');
      killTimer = setTimeout(() => signal(child, 'SIGKILL'), options.graceMs ?? 30_000);
    },
    async kill() {
      signal(child, 'SIGKILL', { evenIfExited: true });
      await ended;
    },
  };
}

/**
 * Signals the child's process group (the command and what it started); the child alone if that fails. Once the
 * command has exited, only `evenIfExited` still signals the group: what it left behind.
 */
function signal(child: ChildProcess, name: NodeJS.Signals, { evenIfExited = false } = {}): void {
  const exited = child.exitCode !== null || child.signalCode !== null;
  if (child.pid === undefined || (exited && !evenIfExited)) return;
  try {
    process.kill(-child.pid, name);
  } catch {
    if (!exited) child.kill(name);
  }
}
