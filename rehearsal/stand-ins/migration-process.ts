/**
 * The migration task of command mode, for the rehearsal (`lockstep release --local --command …`): the
 * `ecs:runTask.sync` state's command runs as a child process in the current directory (the release's image is the
 * working tree), with `DATABASE_URL` and libpq's `PG*` variables pointing at the embedded database and the state's
 * container overrides (PGOPTIONS, extra environment) applied. Its output is printed as the task's logs. It ends as a
 * finished ECS task would, in the shapes of ./ecs-task-shapes.ts: a stopped task with the container's exit code;
 * a task that never started (the command could not be run); or the state's `States.Timeout`, the child stopped
 * first (SIGTERM, then SIGKILL after the grace period, as ECS's StopTask does).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { RecordedTask } from './ecs-task-shapes.ts';

export interface MigrationProcessOptions {
  readonly cwd: string;
  /** The container whose command override is the migration. */
  readonly container: string;
  /** DATABASE_URL and the PG* variables, beside the inherited environment. */
  readonly env: Readonly<Record<string, string>>;
  /** The state's TimeoutSeconds, in ms. */
  readonly timeoutMs: number;
  /** Between SIGTERM and SIGKILL. @default 30 s, ECS's default stop timeout */
  readonly graceMs?: number;
  readonly print: (line: string) => void;
}

interface Override {
  readonly Name?: string;
  readonly Command?: readonly string[];
  readonly Environment?: ReadonlyArray<{ readonly Name?: string; readonly Value?: string }>;
}

/** Runs the state's command; resolves with the stopped task, or rejects with the state's error. */
export async function runMigrationProcess(
  params: unknown,
  options: MigrationProcessOptions,
): Promise<RecordedTask> {
  const p = (params ?? {}) as {
    Overrides?: { ContainerOverrides?: readonly Override[] };
    TaskDefinition?: string;
  };
  const override = p.Overrides?.ContainerOverrides?.find((o) => o.Name === options.container);
  const command = override?.Command ?? [];
  const [file, ...args] = command;
  const stopped = (fields: Record<string, unknown>, container: Record<string, unknown>): RecordedTask => ({
    TaskArn: `local-task/${process.pid}-${Date.now()}`,
    TaskDefinitionArn: p.TaskDefinition,
    LastStatus: 'STOPPED',
    DesiredStatus: 'STOPPED',
    StoppedAt: new Date().toISOString(),
    ...fields,
    Containers: [{ Name: options.container, LastStatus: 'STOPPED', ...container }],
  });
  if (!file) {
    const reason = `CannotStartContainerError: the container override of ${options.container} has no command`;
    return stopped({ StopCode: 'TaskFailedToStart', StoppedReason: reason }, { Reason: reason });
  }
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  for (const { Name, Value } of override?.Environment ?? []) if (Name) env[Name] = Value ?? '';

  const startedAt = new Date().toISOString();
  const child = spawn(file, args, { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr])
    createInterface({ input: stream }).on('line', (line) => options.print(`  │ ${line}`));

  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  const timeout = setTimeout(() => {
    timedOut = true;
    child.kill('SIGTERM');
    killTimer = setTimeout(() => child.kill('SIGKILL'), options.graceMs ?? 30_000);
  }, options.timeoutMs);
  // A rehearsal that exits (Ctrl-C) takes its migration with it, as a stopped execution's task would be stopped.
  const stopChild = () => child.kill('SIGKILL');
  process.once('exit', stopChild);

  const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null } | { error: Error }>(
    (resolve) => {
      child.once('error', (error) => resolve({ error }));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    },
  );
  clearTimeout(timeout);
  if (killTimer) clearTimeout(killTimer);
  process.removeListener('exit', stopChild);

  if ('error' in ended) {
    const reason = `CannotStartContainerError: ${file}: ${(ended.error as NodeJS.ErrnoException).code ?? ended.error.message}`;
    return stopped({ StopCode: 'TaskFailedToStart', StoppedReason: reason }, { Reason: reason });
  }
  if (timedOut) {
    throw Object.assign(
      new Error(`the migration command ran past ${Math.round(options.timeoutMs / 1000)} s`),
      {
        name: 'States.Timeout',
      },
    );
  }
  // A container killed by a signal reports 128 + its number, as Docker does.
  const exitCode = ended.code ?? 128 + (ended.signal === 'SIGKILL' ? 9 : ended.signal === 'SIGTERM' ? 15 : 0);
  return stopped(
    {
      StopCode: 'EssentialContainerExited',
      StoppedReason: 'Essential container in task exited',
      StartedAt: startedAt,
    },
    { ExitCode: exitCode },
  );
}
