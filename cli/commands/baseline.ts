/**
 * `lockstep baseline --version <v> --reason <text> [--yes | --dry-run]`: record the migrations up to `<v>` as
 * applied, without running them, on a database built without any tool (see engine/baseline.ts). It says what that
 * means and asks first: on a terminal, the version typed back; elsewhere `--yes`.
 */
import { type BaselineResult, baseline, baselineFiles } from '../../engine/baseline.ts';
import { InvalidInputError } from '../../engine/errors.ts';
import { loadProject } from '../../engine/migration-files.ts';
import { pgSession } from '../../engine/session.ts';
import type { RawBaselineOptions } from '../baseline-options.ts';
import { type Connection, classifyRunError, openDatabase } from '../database.ts';
import { ExitCode, signalExitCode } from '../exit-codes.ts';
import { parseOptions } from '../options.ts';
import { failed, type Outcome } from '../report.ts';
import type { RunDeps } from './engine.ts';

export interface BaselineDeps extends RunDeps {
  /** Asks on the terminal and returns the answer; undefined when there is no terminal to ask on. */
  readonly ask?: ((question: string) => Promise<string>) | undefined;
}

export { terminalPrompt } from '../terminal-prompt.ts';

function parseVersion(value: string | undefined): bigint {
  if (!value || !/^\d{1,18}$/.test(value))
    throw new InvalidInputError('--version', `must be a migration version (digits), got "${value ?? ''}"`);
  return BigInt(value);
}

export async function run(raw: RawBaselineOptions, deps: BaselineDeps): Promise<Outcome> {
  let connection: Connection | undefined;
  try {
    const version = parseVersion(raw.version);
    // --reason is baseline's own here, not repair's.
    const { reason, ...common } = raw;
    const options = parseOptions(common, { env: deps.env, hostname: deps.hostname, now: deps.now() });
    const files = (await loadProject(options.dir, options.layout)).migrations;
    const marked = baselineFiles(files, version);
    if (!raw.dryRun && !raw.yes) {
      const question =
        `lockstep baseline records ${marked.length} migration${marked.length === 1 ? '' : 's'} (${marked[0]?.file} … ${marked.at(-1)?.file}) as applied WITHOUT running them.\n` +
        'Only do this when the database already has everything they create. Type the version to confirm: ';
      if (!deps.ask)
        throw new InvalidInputError(
          '--yes',
          'baseline records migrations as applied without running them: confirm with --yes (no terminal to ask on), or check first with --dry-run',
        );
      const answer = (await deps.ask(question)).trim();
      if (answer !== version.toString())
        throw new InvalidInputError('--version', `not confirmed (typed "${answer}"): nothing was recorded`);
    }
    connection = await openDatabase(options, deps);
    const result = await baseline({ session: pgSession(connection.client) }, files, {
      version,
      historyTable: options.engine.historyTable,
      dryRun: raw.dryRun ?? false,
      reason: reason ?? '',
      baselinedBy: options.release,
      osUser: deps.osUser,
      lockWaitMs: options.engine.lockWaitMs,
    });
    return { exitCode: ExitCode.Success, text: formatBaseline(result), json: { ...result } };
  } catch (err) {
    if (deps.shutdown.signal) return { exitCode: signalExitCode(deps.shutdown.signal), silent: true };
    return failed(classifyRunError(err, connection));
  } finally {
    await connection?.close();
  }
}

export function formatBaseline(r: BaselineResult): string {
  if (r.alreadyBaselined) return `already baselined at ${r.version}: nothing to record`;
  const verb = r.dryRun ? 'would record' : 'recorded';
  return [
    `${verb} ${r.marked.length} migration${r.marked.length === 1 ? '' : 's'} up to ${r.version} as applied, without running them${r.dryRun ? '' : ` (audit: ${r.auditTable})`}`,
    ...r.marked.map((m) => `  ${m.file}`),
    r.pending.length === 0 ? 'pending: none' : `pending, for lockstep migrate (${r.pending.length}):`,
    ...r.pending.map((f) => `  ${f}`),
  ].join('\n');
}
