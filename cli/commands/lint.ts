/**
 * `lockstep lint`: what the pending migrations would do to production. Static findings from PostgreSQL's parser; with
 * a database (`--database-url` or DATABASE_URL), only the files not yet applied, with the live size of each table they
 * lock and the sessions that would block them, read in a READ ONLY transaction bounded in time. No embedded
 * database: without a URL the lint is static, every file read as pending (from `--since` on).
 */
import { InvalidInputError, InvalidMigrationError } from '../../engine/errors.ts';
import { lintFile } from '../../engine/lint/lint-file.ts';
import { lintRelease, unsafeMigrationError } from '../../engine/lint/lint-release.ts';
import { analyzePending } from '../../engine/migration.ts';
import { loadMigrations, type MigrationFile } from '../../engine/migration-files.ts';
import { plan } from '../../engine/runner.ts';
import { pgSession } from '../../engine/session.ts';
import { applicationName, type Connection, classifyRunError, connect } from '../database.ts';
import { ExitCode, exitCodeFor, signalExitCode } from '../exit-codes.ts';
import { formatGithub, formatLint } from '../lint-format.ts';
import { parseLintOptions, type RawLintOptions } from '../lint-options.ts';
import { parseOptions, urlSecrets } from '../options.ts';
import { failed, type Outcome } from '../report.ts';
import type { RunDeps } from './engine.ts';

export async function run(raw: RawLintOptions, deps: RunDeps): Promise<Outcome> {
  const { output, shutdown } = deps;
  let connection: Connection | undefined;
  try {
    const lint = parseLintOptions(raw);
    const options = parseOptions(
      { dir: raw.dir, databaseUrl: raw.databaseUrl, historyTable: raw.historyTable },
      { env: deps.env, hostname: deps.hostname, now: deps.now() },
    );
    if (options.databaseUrl && lint.since !== undefined)
      throw new InvalidInputError(
        '--since',
        'is for a lint without a database: with one, pending files are those not applied',
      );
    for (const secret of options.databaseUrl ? urlSecrets(options.databaseUrl) : []) output.addSecret(secret);
    const files = await loadMigrations(options.dir);
    let pending: readonly MigrationFile[];
    if (options.databaseUrl) {
      connection = await connect(options.databaseUrl, {
        applicationName: applicationName('lint'),
        output,
        shutdown,
      });
      const p = await plan({ session: pgSession(connection.client) }, files, options.engine);
      const names = new Set(p.pending.map((m) => m.file));
      pending = files.filter((m) => names.has(m.file));
    } else {
      pending = files.filter((m) => lint.since === undefined || m.version >= lint.since);
    }
    // Each file's split, found once: validation first, then the lint reads the same statements.
    const { parsed, problems } = await analyzePending(pending);
    if (problems.length > 0) throw new InvalidMigrationError(problems);
    const session = connection ? pgSession(connection.client) : undefined;
    const report = await lintRelease(pending, (m) => lintFile(m, parsed.get(m.version)), session, lint);
    const error = unsafeMigrationError(report);
    const text = lint.format === 'github' ? formatGithub(report, options.dir) : formatLint(report);
    return {
      exitCode: error ? exitCodeFor(error) : ExitCode.Success,
      text,
      json: { pending: pending.length, ...report },
    };
  } catch (err) {
    if (shutdown.signal) return { exitCode: signalExitCode(shutdown.signal), silent: true };
    return failed(classifyRunError(err, connection));
  } finally {
    await connection?.close();
  }
}
