/**
 * `lockstep adopt --from <tool> [--dry-run] [--table <name>]`: take over another tool's migration history (see
 * engine/adopt/adopt.ts). Its options, its run and its output live here; cli/main.ts registers it.
 */
import { type AdoptResult, adopt } from '../../engine/adopt/adopt.ts';
import { InvalidInputError } from '../../engine/errors.ts';
import { ADOPTABLE_TOOLS, type AdoptableTool } from '../../engine/foreign-history.ts';
import { loadProject } from '../../engine/migration-files.ts';
import { pgSession } from '../../engine/session.ts';
import type { RawAdoptOptions } from '../adopt-options.ts';
import {
  applicationName,
  type Connection,
  classifyRunError,
  connect,
  startEmbeddedDatabase,
} from '../database.ts';
import { ExitCode, signalExitCode } from '../exit-codes.ts';
import { parseOptions, urlSecrets } from '../options.ts';
import { failed, type Outcome } from '../report.ts';
import type { RunDeps } from './engine.ts';

export async function run(raw: RawAdoptOptions, deps: RunDeps): Promise<Outcome> {
  let connection: Connection | undefined;
  try {
    const tool = parseTool(raw.from ?? '');
    const options = parseOptions(
      { ...raw, layout: tool },
      { env: deps.env, hostname: deps.hostname, now: deps.now() },
    );
    for (const secret of options.databaseUrl ? urlSecrets(options.databaseUrl) : [])
      deps.output.addSecret(secret);
    const project = await loadProject(options.dir, tool);
    const url = options.databaseUrl ?? (await startEmbeddedDatabase(deps.cwd, deps.output, deps.shutdown));
    connection = await connect(url, {
      applicationName: applicationName(options.release),
      output: deps.output,
      shutdown: deps.shutdown,
    });
    const result = await adopt({ session: pgSession(connection.client) }, project.migrations, {
      tool,
      ...(raw.table ? { table: raw.table } : {}),
      historyTable: options.engine.historyTable,
      dryRun: raw.dryRun ?? false,
      adoptedBy: options.release,
      lockWaitMs: options.engine.lockWaitMs,
    });
    return { exitCode: ExitCode.Success, text: formatAdopt(result), json: { ...result } };
  } catch (err) {
    if (deps.shutdown.signal) return { exitCode: signalExitCode(deps.shutdown.signal), silent: true };
    return failed(classifyRunError(err, connection));
  } finally {
    await connection?.close();
  }
}

function parseTool(value: string): AdoptableTool {
  if ((ADOPTABLE_TOOLS as readonly string[]).includes(value)) return value as AdoptableTool;
  throw new InvalidInputError('--from', `must be one of ${ADOPTABLE_TOOLS.join(', ')}, got "${value}"`);
}

export function formatAdopt(r: AdoptResult): string {
  const verb = r.dryRun ? 'would adopt' : 'adopted';
  const lines = [
    `${verb} ${r.adopted.length} migration${r.adopted.length === 1 ? '' : 's'} from ${r.tool} (${r.table})${r.alreadyAdopted > 0 ? `; ${r.alreadyAdopted} already adopted` : ''}`,
    ...r.adopted.map((a) => `  ${a.file}`),
    r.pending.length === 0 ? 'pending: none' : `pending, for lockstep migrate (${r.pending.length}):`,
    ...r.pending.map((f) => `  ${f}`),
  ];
  if (r.olderThanAdopted.length > 0)
    lines.push(
      `warning: pending but older than an adopted migration (migrate refuses them as out of order unless --allow-out-of-order): ${r.olderThanAdopted.join(', ')}`,
    );
  if (!r.dryRun)
    lines.push(`${r.table} is left as it was; lockstep no longer writes to or reads it after this`);
  return lines.join('\n');
}
