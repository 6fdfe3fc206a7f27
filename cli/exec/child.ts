/**
 * Runs `lockstep exec`'s command: started without a shell, stdio inherited, stopped on request with SIGTERM and
 * then SIGKILL once the grace period is over.
 *
 * Without a terminal on stdin (a container, a CI job, a Kubernetes Job) the command gets a process group of its
 * own and every signal goes to the whole group, so a `sh -c "…"` and what it started stop together. On a terminal
 * the command stays in the terminal's foreground group so it can prompt; the terminal itself sends Ctrl-C (SIGINT)
 * and a hang-up (SIGHUP) to it, so lockstep passes on only SIGTERM, which a terminal never sends.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { constants } from 'node:os';
import { CommandNotExecutableError, CommandNotFoundError } from './errors.ts';

export interface CommandOptions {
  readonly env: Readonly<Record<string, string>>;
  /** `stderr`: the command's stdout goes to lockstep's stderr (`--json` keeps stdout for its document). */
  readonly stdout: 'inherit' | 'stderr';
  /** Whether stdin is a terminal (see the module comment). */
  readonly terminal: boolean;
  /** Between SIGTERM and SIGKILL. */
  readonly graceMs: number;
  readonly now: () => number;
}

/** How the command ended. */
export interface CommandEnd {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly durationMs: number;
}

export interface RunningCommand {
  /** Epoch milliseconds, when it started. */
  readonly startedAt: number;
  readonly ended: Promise<CommandEnd>;
  /** Passes on a signal lockstep received; a second one (or one after {@link stop}) sends SIGKILL at once. */
  forward(signal: NodeJS.Signals): void;
  /** Sends SIGTERM, then SIGKILL when the grace period is over. Idempotent. */
  stop(): void;
}

/** The exit code a shell reports for how a command ended: its own code, or 128 + the signal's number. */
export function shellExitCode(end: {
  readonly exitCode: number | null;
  readonly signal: string | null;
}): number {
  if (end.signal !== null) return 128 + (constants.signals[end.signal as NodeJS.Signals] ?? 0);
  return end.exitCode ?? 1;
}

/** Starts `argv`; rejects with {@link CommandNotFoundError} or {@link CommandNotExecutableError} if it cannot. */
export function startCommand(argv: readonly string[], options: CommandOptions): Promise<RunningCommand> {
  const [file, ...args] = argv;
  if (file === undefined) throw new Error('startCommand without a command: the CLI requires one');
  const ownGroup = !options.terminal;
  const child = spawn(file, args, {
    env: options.env,
    stdio: ['inherit', options.stdout === 'stderr' ? 2 : 'inherit', 'inherit'],
    // A new session, so a process group of its own: signals reach what the command starts, too.
    detached: ownGroup,
  });
  return new Promise((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (child.pid !== undefined) return; // started: a failed kill() reports here; 'exit' still comes
      reject(
        err.code === 'ENOENT'
          ? new CommandNotFoundError(file, { cause: err })
          : new CommandNotExecutableError(file, err.code ?? err.message, { cause: err }),
      );
    });
    child.once('spawn', () => resolve(running(child, ownGroup, options)));
  });
}

function running(child: ChildProcess, ownGroup: boolean, options: CommandOptions): RunningCommand {
  const startedAt = options.now();
  let exited = false;
  let stopping = false;
  let killTimer: NodeJS.Timeout | undefined;
  const send = (signal: NodeJS.Signals) => {
    if (exited || child.pid === undefined) return;
    try {
      if (ownGroup) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch {
      // gone already (ESRCH): its exit event is on its way
    }
  };
  const escalate = () => {
    if (stopping) {
      send('SIGKILL');
      return;
    }
    stopping = true;
    killTimer = setTimeout(() => send('SIGKILL'), options.graceMs);
  };
  const ended = new Promise<CommandEnd>((resolve) => {
    child.once('exit', (exitCode, signal) => {
      exited = true;
      clearTimeout(killTimer);
      resolve({ exitCode, signal, durationMs: options.now() - startedAt });
    });
  });
  return {
    startedAt,
    ended,
    forward(signal) {
      const wasStopping = stopping;
      // On a terminal, the terminal already sent SIGINT and SIGHUP to the command: sending them again would be a
      // second Ctrl-C, which many tools take as "quit now".
      if (wasStopping) escalate();
      else if (ownGroup || signal === 'SIGTERM') send(signal);
      if (!wasStopping) escalate();
    },
    stop() {
      if (stopping) return;
      send('SIGTERM');
      escalate();
    },
  };
}
