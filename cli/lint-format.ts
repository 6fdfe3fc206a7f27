/** How `lockstep lint` and `lockstep plan` print the migration lint's findings: for people, and for GitHub Actions. */
import { join } from 'node:path';
import { type Finding, formatName, SEVERITIES } from '../engine/lint/finding.ts';
import type { LintReport } from '../engine/lint/lint-release.ts';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** One block per finding, then a summary line. */
export function formatLint(report: LintReport): string {
  const lines: string[] = [];
  for (const f of report.findings) {
    const where = f.object ? ` (${formatName(f.object)})` : '';
    lines.push(`${f.file}:${f.line}:${f.column}: ${f.severity} ${f.rule}${where}`);
    lines.push(`  ${f.detail}`, `  what: ${f.effect}`, `  safe: ${f.safe}`);
    if (f.suppressed !== undefined) lines.push(`  allowed: ${f.suppressed}`);
  }
  lines.push(lintSummary(report));
  return lines.join('\n');
}

export function lintSummary(report: LintReport): string {
  const allowed = report.findings.filter((f) => f.suppressed !== undefined).length;
  const counts = [...SEVERITIES]
    .reverse()
    .map(
      (s) =>
        [s, report.findings.filter((f) => f.severity === s && f.suppressed === undefined).length] as const,
    )
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`);
  const what =
    report.findings.length === 0
      ? 'lint: no findings'
      : `lint: ${plural(report.findings.length, 'finding')}${counts.length ? ` (${counts.join(', ')})` : ''}${allowed ? `, ${allowed} allowed` : ''}`;
  const source = report.live ? 'sizes and sessions from the database' : 'static only: no database';
  const verdict =
    report.failOn === 'never'
      ? 'report only (--fail-on never)'
      : `fails on ${report.failOn}: ${report.failing === 0 ? 'passed' : `${report.failing} failing`}`;
  return `${what}; ${source}; ${verdict}`;
}

/**
 * GitHub Actions workflow commands (`::error file=…,line=…,col=…,title=…::message`), one per finding that is not
 * allowed, so each lands on the pull request's diff; `dir` is the migrations directory as the workflow sees it.
 */
export function formatGithub(report: LintReport, dir: string): string {
  const level = { error: 'error', warning: 'warning', info: 'notice' } as const;
  const lines = report.findings
    .filter((f) => f.suppressed === undefined)
    .map((f: Finding) => {
      const props = [
        `file=${property(join(dir, f.file))}`,
        `line=${f.line}`,
        `col=${f.column}`,
        `title=${property(`lockstep ${f.rule}`)}`,
      ].join(',');
      return `::${level[f.severity]} ${props}::${data(`${f.detail}\n${f.effect}\nsafe: ${f.safe}`)}`;
    });
  lines.push(lintSummary(report));
  return lines.join('\n');
}

/** Escaping of a workflow command's message (GitHub's toolkit `escapeData`). */
const data = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
/** ... and of a property (`escapeProperty`). */
const property = (s: string) => data(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
