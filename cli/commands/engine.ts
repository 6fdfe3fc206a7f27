import { resolve } from 'node:path';
import { InvalidInputError, NoMigrationFilesError } from '../../engine/errors.ts';
import { HistoryTable } from '../../engine/history.ts';
import type { Project } from '../../engine/layouts/read.ts';
import { lintRelease } from '../../engine/lint/lint-release.ts';
import { loadProject, type MigrationFile } from '../../engine/migration-files.ts';
import { type Plan, planProblem } from '../../engine/plan.ts';
import { acceptChecksum, resolveInDoubt } from '../../engine/repair.ts';
import { migrate, plan, status } from '../../engine/runner.ts';
import { pgSession, type SqlSession } from '../../engine/session.ts';
import { installedAnalysisStore } from '../analysis-store.ts';
import {
  applicationName,
  type Connection,
  classifyRunError,
  connect,
  startEmbeddedDatabase,
} from '../database.ts';
import { ExecRunsTable, formatExecRuns } from '../exec/runs-table.ts';
import { ExitCode, exitCodeFor, signalExitCode } from '../exit-codes.ts';
import { formatLint } from '../lint-format.ts';
import {
  type CliOptions,
  type CommandName,
  DEFAULTS,
  parseOptions,
  type RawOptions,
  urlSecrets,
} from '../options.ts';
import {
  formatMigrate,
  formatPlan,
  formatRepair,
  formatStatus,
  type Output,
  progressReporter,
} from '../output.ts';
import { failed, type Outcome } from '../report.ts';
import type { Shutdown } from '../shutdown.ts';

/** The lint of a plan's pending files, in run order, with the live context (`lockstep lint` without flags). */
async function lintPending(files: readonly MigrationFile[], p: Plan, session: SqlSession) {
  if (p.pending.length === 0) return undefined;
  const { lintFile } = await import('../../engine/lint/lint-file.ts');
  const names = new Set(p.pending.map((m) => m.file));
  return lintRelease(
    files.filter((m) => names.has(m.file)),
    lintFile,
    session,
  );
}

/** How many of `lockstep exec`'s runs `status` shows. */
const RECENT_EXEC_RUNS = 5;

export interface RunDeps {
  readonly output: Output;
  readonly shutdown: Shutdown;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly hostname: string;
  readonly now: () => number;
  /** The operating-system user, recorded by `repair`; undefined when it cannot be known. */
  readonly osUser?: string | undefined;
}

/** Runs one engine command: validate flags, load files, connect, call the engine. */
export async function run(command: CommandName, raw: RawOptions, deps: RunDeps): Promise<Outcome> {
  const { output, shutdown } = deps;
  let connection: Connection | undefined;
  let outcome: Outcome;
  try {
    const options = parseOptions(raw, { env: deps.env, hostname: deps.hostname, now: deps.now() });
    for (const secret of options.databaseUrl ? urlSecrets(options.databaseUrl) : []) output.addSecret(secret);
    const project = await loadProject(options.dir, options.layout, installedAnalysisStore(deps.env));
    const url = options.databaseUrl ?? (await startEmbeddedDatabase(deps.cwd, output, shutdown));
    connection = await connect(url, { applicationName: applicationName(options.release), output, shutdown });
    outcome = withLayout(await runEngine(command, options, project.migrations, connection, deps), project);
  } catch (err) {
    // The connection was destroyed on purpose: the signal handler has reported it.
    if (shutdown.signal) return { exitCode: signalExitCode(shutdown.signal), silent: true };
    const error = classifyRunError(err, connection);
    outcome =
      error instanceof NoMigrationFilesError
        ? failed(error, `(--dir ${raw.dir ?? DEFAULTS.dir} is ${resolve(deps.cwd, raw.dir ?? DEFAULTS.dir)})`)
        : failed(error);
  } finally {
    await connection?.close();
  }
  if (shutdown.signal) return { exitCode: signalExitCode(shutdown.signal), silent: true };
  return outcome;
}

/** Which layout the directory was read in: in `--json` always, in text when it is not lockstep's own. */
function withLayout(outcome: Outcome, project: Project): Outcome {
  const layout = { name: project.layout, detected: project.detected };
  const line =
    project.layout === 'lockstep' || !outcome.text
      ? undefined
      : `layout: ${project.layout} (${project.detected ? 'detected' : '--layout'})`;
  return {
    ...outcome,
    ...(outcome.json ? { json: { layout, ...outcome.json } } : {}),
    ...(line ? { text: `${line}\n${outcome.text}` } : {}),
  };
}

async function runEngine(
  command: CommandName,
  options: CliOptions,
  files: Project['migrations'],
  connection: Connection,
  deps: RunDeps,
): Promise<Outcome> {
  const session = pgSession(connection.client);
  const { historyTable } = options.engine;
  switch (command) {
    case 'migrate': {
      const progress = progressReporter((line) => deps.output.note(line), options.engine);
      const started = deps.now();
      try {
        const result = await migrate({ session, onEvent: progress.onEvent }, files, options.engine);
        for (const warning of result.warnings) deps.output.note(`warning: ${warning}`);
        const durationMs = deps.now() - started;
        return {
          exitCode: result.incomplete ? ExitCode.Incomplete : ExitCode.Success,
          text: formatMigrate(result, durationMs, files.length),
          json: { ...result, durationMs },
        };
      } finally {
        progress.dispose();
      }
    }
    case 'plan': {
      const p = await plan({ session }, files, { historyTable, phase: options.engine.phase });
      const problem = planProblem(p, options.engine);
      // The lint of what would run, with the live database: shown, never a reason to exit non-zero here.
      const lint = problem ? undefined : await lintPending(files, p, session);
      return {
        exitCode: problem ? exitCodeFor(problem) : ExitCode.Success,
        text: lint ? `${formatPlan(p)}\n${formatLint(lint)}` : formatPlan(p),
        json: { ...p, ...(lint ? { lint } : {}) },
        ...(problem ? { error: problem } : {}),
      };
    }
    case 'repair': {
      const request = options.repair;
      if (!request) throw new InvalidInputError('--accept-checksum', 'give --accept-checksum or --resolve');
      const onCleanupFailure = (reason: string) =>
        deps.output.note(
          `warning: after the failure below, lockstep could not release the migration lock: ${reason}`,
        );
      const repairOptions = {
        historyTable,
        lockWaitMs: options.engine.lockWaitMs,
        reason: request.reason,
        repairedBy: options.release,
        osUser: deps.osUser,
      };
      if (request.resolve) {
        const resolved = await resolveInDoubt({ session, onCleanupFailure }, files, request.version, {
          ...repairOptions,
          outcome: request.resolve,
        });
        return {
          exitCode: ExitCode.Success,
          text: `${resolved.file}: recorded as ${request.resolve === 'applied' ? 'applied' : 'rolled back (it runs again on the next migrate)'}; logged in ${resolved.auditTable}`,
          json: { ...resolved },
        };
      }
      const result = await acceptChecksum(
        { session, onCleanupFailure },
        files,
        request.version,
        repairOptions,
      );
      return {
        exitCode: ExitCode.Success,
        text: formatRepair(result, options.release, deps.osUser),
        json: { ...result },
      };
    }
    case 'status': {
      const s = await status({ session }, files, { historyTable });
      const execRuns = new ExecRunsTable(new HistoryTable(historyTable));
      const runs = await execRuns.recent(session, RECENT_EXEC_RUNS);
      return {
        exitCode: ExitCode.Success,
        text: [formatStatus(s), ...formatExecRuns(runs, execRuns.display)].join('\n'),
        json: { ...s, ...(runs ? { execRuns: runs } : {}) },
      };
    }
  }
}
