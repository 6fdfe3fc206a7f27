/**
 * A release's findings as reported: each rule's severity decided (by the table's live size for the rules that hold a
 * lock while they work), what it does to production and the safe way taken from ./rules.ts, and the sessions the live
 * database says would block the migration added. Parser-free.
 */
import { type FileFinding, type Finding, nameKey, type Severity, severityRank } from './finding.ts';
import type { LiveContext } from './live-context.ts';
import type { ReleaseLint } from './release.ts';
import { isRuleId, RULES } from './rules.ts';

/** When a table counts as small or large, and a transaction as long. */
export interface LintThresholds {
  /** A lock-holding rewrite, scan or index build of a smaller table is info. @default 10 MiB */
  readonly smallTableBytes: number;
  /** ... of a table this size or larger is an error. @default 1 GiB */
  readonly largeTableBytes: number;
  /** A transaction open this long is named (CREATE INDEX CONCURRENTLY waits for it). @default 60 */
  readonly longTransactionSeconds: number;
  /**
   * A session whose lock conflicts with the migration's blocks it only when its transaction is this old: a query of
   * the app's ordinary traffic, holding its lock for milliseconds, is not a finding. @default 5 (lockstep's lock_timeout)
   */
  readonly blockingSessionSeconds?: number;
}

export const LINT_DEFAULTS: LintThresholds = {
  smallTableBytes: 10 * 1024 * 1024,
  largeTableBytes: 1024 * 1024 * 1024,
  longTransactionSeconds: 60,
  blockingSessionSeconds: 5,
};

/** The findings of a release, in file order, live sessions after the statements they would block. */
export function reportFindings(
  release: ReleaseLint,
  live: LiveContext | undefined,
  thresholds: LintThresholds = LINT_DEFAULTS,
): Finding[] {
  const findings = release.findings
    .filter(
      (f) =>
        !(
          f.rule === 'set-not-null' &&
          f.object &&
          live?.notNullProven.has(`${nameKey(f.object)}:${f.targetColumn}`)
        ),
    )
    .map((f) => decide(f, live, thresholds));
  const minAge = thresholds.blockingSessionSeconds ?? LINT_DEFAULTS.blockingSessionSeconds ?? 0;
  for (const b of live?.blockers ?? []) {
    if (b.session.ageSeconds < minAge) continue;
    const rule = RULES['blocking-session'];
    findings.push({
      rule: 'blocking-session',
      severity: rule.severity,
      file: b.site.file,
      line: b.site.line,
      column: b.site.column,
      object: b.site.object,
      detail: `pid ${b.session.pid} (${b.session.applicationName || 'no application_name'}, ${b.session.state ?? '?'}, transaction open ${formatAge(b.session.ageSeconds)}) holds ${b.heldMode} on ${nameKey(b.site.object)}, which this migration needs in ${b.site.mode}: ${b.session.query}`,
      effect: rule.effect,
      safe: rule.safe,
      session: b.session,
    });
  }
  const first = release.locks[0];
  for (const s of live?.longTransactions ?? []) {
    if (!first || findings.some((f) => f.session?.pid === s.pid)) continue;
    const rule = RULES['long-transaction'];
    findings.push({
      rule: 'long-transaction',
      severity: rule.severity,
      file: first.file,
      line: first.line,
      column: first.column,
      detail: `pid ${s.pid} (${s.applicationName || 'no application_name'}, ${s.state ?? '?'}) has had a transaction open for ${formatAge(s.ageSeconds)}: ${s.query}`,
      effect: rule.effect,
      safe: rule.safe,
      session: s,
    });
  }
  return findings;
}

function decide(f: FileFinding, live: LiveContext | undefined, t: LintThresholds): Finding {
  const rule = isRuleId(f.rule) ? RULES[f.rule] : RULES['invalid-suppression'];
  const bytes = f.object ? live?.sizes.get(nameKey(f.object)) : undefined;
  let severity: Severity;
  if (rule.severity !== 'scaled') severity = rule.severity;
  else if (bytes === undefined) severity = 'warning';
  else severity = bytes < t.smallTableBytes ? 'info' : bytes >= t.largeTableBytes ? 'error' : 'warning';
  const { targetColumn: _, ...rest } = f;
  return {
    ...rest,
    severity,
    effect:
      bytes === undefined
        ? rule.effect
        : `${rule.effect} (${nameKey(f.object ?? { name: '?' })}: ${formatBytes(bytes)} now)`,
    safe: rule.safe,
    ...(bytes === undefined ? {} : { tableBytes: bytes }),
  };
}

/** The severity from which a finding fails a lint; `never`: none does, findings are only reported. */
export type FailOn = Severity | 'never';

/** The findings that count against `failOn`: not suppressed, at least that severe. */
export const failing = (findings: readonly Finding[], failOn: FailOn): Finding[] =>
  failOn === 'never'
    ? []
    : findings.filter((f) => f.suppressed === undefined && severityRank(f.severity) >= severityRank(failOn));

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${u === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[u]}`;
}

export function formatAge(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
