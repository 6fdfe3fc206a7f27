/**
 * `lockstep exec [options] -- <command> [args…]`: runs any command under lockstep's migration lock, the one
 * `migrate` takes, so an exec and a migrate (or two execs) on one database never overlap. The order:
 *
 * 1. connect (the URL, or the embedded PostgreSQL), on a connection of lockstep's own;
 * 2. take the lock, waiting at most `--lock-wait` (then exit 4, naming the holder);
 * 3. start the command, no shell, stdio inherited, with `DATABASE_URL`, `PG*` and `PGOPTIONS` set; while it runs,
 *    watch the lock's connection, pass on SIGINT/SIGTERM/SIGHUP, enforce `--timeout`;
 * 4. record the run in `<schema>.exec_runs`, release the lock, exit with the command's code.
 *
 * If the lock's connection is lost while the command runs, the lock is gone with it and another run may start:
 * lockstep says so, stops the command (SIGTERM, SIGKILL after the grace period) and exits 4. A lockstep killed
 * outright (SIGKILL) frees the lock with its connection; its command, outside a container, runs on unlocked.
 */
import { HistoryTable } from '../../engine/history.ts';
import { MigrationLock } from '../../engine/lock.ts';
import { pgSession, type SqlSession } from '../../engine/session.ts';
import {
  applicationName,
  type Connection,
  classifyRunError,
  connect,
  startEmbeddedDatabase,
} from '../database.ts';
import { type RunningCommand, shellExitCode, startCommand } from '../exec/child.ts';
import { commandEnvironment } from '../exec/environment.ts';
import { CommandTimeoutError, ExecLockLostError } from '../exec/errors.ts';
import { KEEPALIVE_SQL, watchLock } from '../exec/lock-watch.ts';
import { type ExecOptions, parseExecOptions, type RawExecOptions } from '../exec/options.ts';
import { describeEnd, type ExecRun, ExecRunsTable } from '../exec/runs-table.ts';
import { exitCodeFor, signalExitCode } from '../exit-codes.ts';
import { urlSecrets } from '../options.ts';
import { formatDuration, type Output } from '../output.ts';
import { failed, type Outcome } from '../report.ts';
import type { Shutdown } from '../shutdown.ts';

export interface ExecDeps {
  readonly output: Output;
  readonly shutdown: Shutdown;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly hostname: string;
  readonly now: () => number;
  /** Recorded with each run; undefined when it cannot be known. */
  readonly osUser: string | undefined;
  /** Whether stdin is a terminal: the command then stays in the terminal's process group (exec/child.ts). */
  readonly terminal: boolean;
}

/** How long recording the run and releasing the lock may take before lockstep drops the connection instead. */
const CLEANUP_TIMEOUT_MS = 15_000;

/** Runs `argv` under the lock; every path releases it (or drops the connection that holds it). */
export async function run(argv: readonly string[], raw: RawExecOptions, deps: ExecDeps): Promise<Outcome> {
  const { output, shutdown } = deps;
  let connection: Connection | undefined;
  const progress = { started: false };
  try {
    const options = parseExecOptions(raw, { env: deps.env, hostname: deps.hostname, now: deps.now() });
    for (const secret of options.databaseUrl ? urlSecrets(options.databaseUrl) : []) output.addSecret(secret);
    const url = options.databaseUrl ?? (await startEmbeddedDatabase(deps.cwd, output, shutdown));
    connection = await connect(url, {
      applicationName: applicationName(`exec ${options.release}`),
      output,
      shutdown,
    });
    return await underLock(argv, url, options, connection, deps, progress);
  } catch (err) {
    // A signal before the command started destroyed the connection: the signal handler has reported it.
    if (shutdown.signal && !progress.started)
      return { exitCode: signalExitCode(shutdown.signal), silent: true };
    return failed(classifyRunError(err, connection));
  } finally {
    await connection?.close();
  }
}

async function underLock(
  argv: readonly string[],
  url: string,
  options: ExecOptions,
  connection: Connection,
  deps: ExecDeps,
  progress: { started: boolean },
): Promise<Outcome> {
  const { output } = deps;
  const session = pgSession(connection.client);
  const history = new HistoryTable(options.historyTable);
  await session.script(KEEPALIVE_SQL);
  const lock = new MigrationLock(session, history);
  if (!(await lock.tryAcquire())) {
    const holder = await lock.holder();
    const who = holder ? `pid ${holder.pid} (${holder.applicationName ?? 'unknown'})` : 'another session';
    output.note(
      options.lockWaitMs === 0
        ? `the lock on ${history.display} is held by ${who}; not waiting (--lock-wait 0)`
        : `waiting for the lock on ${history.display}, held by ${who} (for up to ${formatDuration(options.lockWaitMs)})`,
    );
    await lock.acquire(options.lockWaitMs, {
      now: Date.now,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    });
  }
  // Not withAdvisoryLock: once the command has run, a failed release must not replace its exit code. Closing the
  // connection, which run() always does, releases the lock anyway.
  let lost: string | undefined;
  try {
    const result = await runLocked(argv, url, options, { connection, session, history }, deps, progress);
    lost = result.lost;
    return result.outcome;
  } finally {
    if (lost === undefined) {
      await bounded(lock.release(), connection).catch((err: unknown) =>
        output.note(
          `warning: could not release the lock cleanly (${(err as Error).message}); closing the connection releases it`,
        ),
      );
    }
  }
}

interface Locked {
  readonly connection: Connection;
  readonly session: SqlSession;
  readonly history: HistoryTable;
}

/** What happened to the command, as far as lockstep saw. */
interface Supervised {
  readonly run: ExecRun;
  /** Why it could not start, when it did not. */
  readonly notStarted?: unknown;
  readonly timedOut: boolean;
  /** The first signal lockstep got while the command ran. */
  readonly interruptedBy: NodeJS.Signals | undefined;
  /** Why the lock counts as lost, if it does. */
  readonly lost: string | undefined;
}

/** Under the lock: make sure runs can be recorded, run the command, record it, say what happened. */
async function runLocked(
  argv: readonly string[],
  url: string,
  options: ExecOptions,
  locked: Locked,
  deps: ExecDeps,
  progress: { started: boolean },
): Promise<{ outcome: Outcome; lost?: string }> {
  const { output } = deps;
  const { session, connection, history } = locked;
  const runs = new ExecRunsTable(history);
  const recordable = await runs.ensure(session).then(
    () => true,
    (err: unknown) => {
      output.note(
        `warning: cannot record this run in ${runs.display} (${(err as Error).message}); running the command anyway`,
      );
      return false;
    },
  );
  const client = connection.client;
  const env = commandEnvironment({
    env: deps.env,
    url,
    connection: {
      host: client.host,
      port: client.port,
      database: client.database,
      user: client.user,
      password: typeof client.password === 'string' ? client.password : undefined,
    },
    pgOptions: options.pgOptions,
    release: options.release,
  });

  const s = await supervise(argv, env, options, locked, deps, progress);

  const { run } = s;
  let recorded = false;
  if (s.lost !== undefined)
    output.note('the run was not recorded: the connection that would record it is gone');
  else if (recordable) recorded = await record(runs, run, { session, connection, output });
  if (s.notStarted === undefined) {
    output.note(
      `${output.redact(joinArgv(argv.slice(0, 1)))}: ${describeEnd(run)} in ${formatDuration(run.durationMs)}` +
        (recorded ? `; recorded in ${runs.display}` : ''),
    );
  }
  const ended = describeEnd({ ...run, outcome: 'exited' });
  const error =
    s.notStarted ??
    (s.lost !== undefined
      ? new ExecLockLostError(s.lost, ended)
      : s.timedOut
        ? new CommandTimeoutError(options.timeoutMs ?? 0, ended)
        : undefined);
  // After a signal the process exits 128 + its number whatever the command did (cli/shutdown.ts): say so here too.
  const exitCode = s.interruptedBy
    ? signalExitCode(s.interruptedBy)
    : error !== undefined
      ? exitCodeFor(error)
      : shellExitCode(run);
  const json = { run: { ...run, recorded }, lock: history.display, runsTable: runs.display };
  return {
    outcome: { exitCode, json, ...(error === undefined ? {} : { error }) },
    ...(s.lost === undefined ? {} : { lost: s.lost }),
  };
}

/**
 * Starts the command and sees it to its end: signals passed on, `--timeout` enforced, the lock's connection
 * watched (a loss stops the command).
 */
async function supervise(
  argv: readonly string[],
  env: Record<string, string>,
  options: ExecOptions,
  { session, connection, history }: Locked,
  deps: ExecDeps,
  progress: { started: boolean },
): Promise<Supervised> {
  const { output } = deps;
  const client = connection.client;
  const base = {
    command: output.redact(joinArgv(argv)),
    release: options.release,
    osUser: deps.osUser ?? null,
  };
  let command: RunningCommand | undefined;
  let interruptedBy: NodeJS.Signals | undefined;
  let timedOut = false;
  const watch = watchLock(session, client, history, (reason) => {
    output.note(
      `LOCK LOST: lockstep's connection to PostgreSQL, which holds the lock on ${history.display}, is gone (${reason}). ` +
        `Another exec or migrate may start now. Stopping the command: SIGTERM, then SIGKILL after ${formatDuration(options.graceMs)}.`,
    );
    output.flush();
    // A connection that stopped answering is dropped, so nothing waits on it: not the watch, not the exit.
    client.connection.stream.destroy();
    command?.stop();
  });
  const restoreSignals = deps.shutdown.takeOverSignals((signal) => {
    const first = interruptedBy === undefined;
    interruptedBy ??= signal;
    output.note(
      first
        ? `got ${signal}: passing it to the command; SIGKILL if it has not exited in ${formatDuration(options.graceMs)}`
        : `got ${signal} again: sending SIGKILL to the command`,
    );
    output.flush();
    command?.forward(signal);
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    output.note(
      `took the lock on ${history.display}; running: ${base.command}` +
        (options.timeoutMs === undefined ? '' : ` (timeout ${formatDuration(options.timeoutMs)})`),
    );
    output.flush();
    const startedAt = deps.now();
    try {
      command = await startCommand(argv, {
        env,
        stdout: options.json ? 'stderr' : 'inherit',
        terminal: deps.terminal,
        graceMs: options.graceMs,
        now: deps.now,
      });
    } catch (err) {
      const run: ExecRun = {
        ...base,
        startedAt: new Date(startedAt).toISOString(),
        durationMs: 0,
        exitCode: null,
        signal: null,
        outcome: 'not-started',
        error: (err as Error).message,
      };
      return { run, notStarted: err, timedOut, interruptedBy, lost: watch.lost };
    }
    progress.started = true;
    if (interruptedBy) command.forward(interruptedBy);
    if (watch.lost) command.stop();
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        output.note(
          `the command ran past --timeout ${formatDuration(timeoutMs)}: SIGTERM, then SIGKILL after ${formatDuration(options.graceMs)}`,
        );
        command?.stop();
      }, timeoutMs);
    }
    const end = await command.ended;
    const run: ExecRun = {
      ...base,
      startedAt: new Date(command.startedAt).toISOString(),
      durationMs: end.durationMs,
      exitCode: end.exitCode,
      signal: end.signal,
      outcome: timedOut ? 'timeout' : interruptedBy ? 'interrupted' : 'exited',
      error: timedOut ? `ran past --timeout (${formatDuration(timeoutMs ?? 0)})` : null,
    };
    return { run, timedOut, interruptedBy, lost: watch.lost };
  } finally {
    clearTimeout(timer);
    restoreSignals();
    watch.stop();
  }
}

/** Writes the run's row; a failure is a warning, never the command's exit code. */
async function record(
  runs: ExecRunsTable,
  run: ExecRun,
  { session, connection, output }: { session: SqlSession; connection: Connection; output: Output },
): Promise<boolean> {
  try {
    await bounded(runs.record(session, run), connection);
    return true;
  } catch (err) {
    output.note(`warning: could not record the run in ${runs.display}: ${(err as Error).message}`);
    return false;
  }
}

/** `work` on `connection`, or, past {@link CLEANUP_TIMEOUT_MS}, the connection dropped (freeing the lock) and an error. */
async function bounded<T>(work: Promise<T>, connection: Connection): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      connection.client.connection.stream.destroy();
      reject(
        new Error(`PostgreSQL did not answer within ${CLEANUP_TIMEOUT_MS / 1000} s; dropped the connection`),
      );
    }, CLEANUP_TIMEOUT_MS);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** argv for people and the runs table: arguments a shell would split or expand go in single quotes. */
export function joinArgv(argv: readonly string[]): string {
  return argv
    .map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`))
    .join(' ');
}
