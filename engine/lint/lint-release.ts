/**
 * The lint of one release, top to bottom: each pending file's lint (from the parser, or from the manifest), the
 * release context over them in run order, the live database when there is a session, the severities, and the verdict
 * against the threshold. Parser-free: the caller says where a file's lint comes from.
 */
import { UnsafeMigrationError } from '../errors.ts';
import type { MigrationText } from '../migration.ts';
import type { SqlSession } from '../session.ts';
import type { FileLint, Finding } from './finding.ts';
import { readLiveContext } from './live-context.ts';
import { releaseLint } from './release.ts';
import { type FailOn, failing, LINT_DEFAULTS, type LintThresholds, reportFindings } from './report.ts';
import { beforeDeployOnly } from './rules.ts';

export interface LintReport {
  readonly findings: readonly Finding[];
  /** Whether sizes and sessions came from the live database. */
  readonly live: boolean;
  readonly failOn: FailOn;
  /** How many findings count against `failOn`. */
  readonly failing: number;
}

export interface LintReleaseOptions {
  readonly failOn?: FailOn;
  readonly thresholds?: LintThresholds;
}

/**
 * `pending` in version order; `session` for the live context (none: static findings only). The release runs its
 * before-deploy files, deploys, then its after-deploy ones (`-- lockstep:after-deploy`): the lint reads them in that
 * order, and a rule whose harm is to the version running during the rollout does not apply after it.
 */
export async function lintRelease<M extends Pick<MigrationText, 'file' | 'sql' | 'afterDeploy'>>(
  pending: readonly M[],
  lintOf: (m: M) => Promise<FileLint> | FileLint,
  session: SqlSession | undefined,
  options: LintReleaseOptions = {},
): Promise<LintReport> {
  const thresholds = options.thresholds ?? LINT_DEFAULTS;
  const failOn = options.failOn ?? 'error';
  const lints: FileLint[] = [];
  const runOrder = [...pending.filter((m) => !m.afterDeploy), ...pending.filter((m) => m.afterDeploy)];
  for (const m of runOrder) {
    const lint = await lintOf(m);
    lints.push(m.afterDeploy ? afterTheRollout(lint) : lint);
  }
  const release = releaseLint(lints);
  const live =
    session && (release.locks.length > 0 || release.findings.length > 0)
      ? await readLiveContext(session, release, thresholds)
      : undefined;
  const findings = reportFindings(release, live, thresholds);
  return { findings, live: session !== undefined, failOn, failing: failing(findings, failOn).length };
}

/** {@link UnsafeMigrationError} for the findings that fail the report, if any do. */
export function unsafeMigrationError(report: LintReport): UnsafeMigrationError | undefined {
  const counted = failing(report.findings, report.failOn);
  return counted.length > 0 ? new UnsafeMigrationError(counted, report.failOn) : undefined;
}

/** A file's lint as it runs after the rollout: without the findings about the version the rollout replaces. */
function afterTheRollout(lint: FileLint): FileLint {
  const findings = lint.findings.filter((f) => !beforeDeployOnly(f.rule));
  return findings.length === lint.findings.length ? lint : { ...lint, findings };
}
