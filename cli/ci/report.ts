/**
 * What a CI job shows of a `lockstep … --json` run: a Markdown summary (GitHub's job summary, a GitLab artifact),
 * annotations at file:line for what went wrong, and a few outputs a later job can branch on. Pure: it reads the
 * JSON document the command printed (./report.ts, `jsonHead` and the command's result), so it works for any
 * command and any CI.
 */

/** A problem to show beside the file it is about. */
export interface Annotation {
  readonly level: 'error' | 'warning' | 'notice';
  /** Migration file name, as the JSON document gives it (relative to the migrations directory). */
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly title: string;
  readonly message: string;
}

export interface CiReport {
  /** Markdown. */
  readonly summary: string;
  readonly annotations: readonly Annotation[];
  /** `pending-count` (empty when unknown), `applied-count`, `exit-code`, `error-name` (empty on success). */
  readonly outputs: Readonly<Record<string, string>>;
}

interface Ref {
  readonly version?: string;
  readonly file?: string;
}

/** The parts of a `--json` document this reads; anything may be missing. */
interface Doc {
  readonly command?: string | null;
  readonly ok?: boolean;
  readonly exitCode?: number;
  /** The pending migrations; `lint` gives only their number. */
  readonly pending?: readonly (Ref & { noTransaction?: boolean; failedAtStatement?: number })[] | number;
  readonly applied?: readonly (Ref & { durationMs?: number; executionMs?: number })[];
  readonly checksumMismatches?: readonly Ref[];
  readonly outOfOrder?: readonly Ref[];
  readonly databaseAhead?: readonly Ref[];
  readonly invalid?: readonly Problem[];
  readonly warnings?: readonly string[];
  readonly incomplete?: boolean;
  readonly durationMs?: number;
  readonly error?: ErrorDoc;
  /** `lint`'s findings, and its threshold. */
  readonly findings?: readonly LintFinding[];
  readonly failOn?: string;
  /** `plan`'s lint of what would run. */
  readonly lint?: { readonly findings?: readonly LintFinding[] };
}

/** A migration lint finding (engine/lint/finding.ts), as the JSON document carries it. */
interface LintFinding {
  readonly rule?: string;
  readonly severity?: string;
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly detail?: string;
  readonly effect?: string;
  readonly safe?: string;
  /** Accepted with `-- lockstep:allow`: the reason. */
  readonly suppressed?: string;
}

interface Problem {
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  readonly problem?: string;
}

interface ErrorDoc {
  readonly name?: string;
  readonly code?: string;
  readonly message?: string;
  readonly location?: { file?: string; line?: number; column?: number };
  readonly sqlState?: string;
  readonly postgresMessage?: string;
  readonly problems?: readonly Problem[];
  readonly changed?: readonly Ref[];
  readonly files?: readonly Ref[];
  /** Versions this run applied before a migration failed. */
  readonly appliedBefore?: readonly string[];
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const list = <T>(value: readonly T[] | number | undefined): readonly T[] =>
  Array.isArray(value) ? value : [];
const pendingCount = (doc: Doc): number | undefined =>
  typeof doc.pending === 'number' ? doc.pending : Array.isArray(doc.pending) ? doc.pending.length : undefined;
const findingsOf = (doc: Doc): readonly LintFinding[] => [...list(doc.findings), ...list(doc.lint?.findings)];
const LEVEL: Readonly<Record<string, Annotation['level']>> = {
  error: 'error',
  warning: 'warning',
  info: 'notice',
};

/** Text for a Markdown table cell or inline code: no pipes or newlines to break the table. */
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

function formatMs(ms: number | undefined): string {
  if (ms === undefined) return '';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** What to say about a pending migration besides its name; the text output says the same. */
export function pendingNotes(p: {
  readonly noTransaction?: boolean;
  readonly failedAtStatement?: number;
}): string[] {
  return [
    p.noTransaction ? 'no transaction' : '',
    p.failedAtStatement === undefined ? '' : `an earlier attempt failed at statement ${p.failedAtStatement}`,
  ].filter(Boolean);
}

function headline(doc: Doc): string {
  const command = doc.command ?? 'lockstep';
  if (doc.error) return `❌ \`lockstep ${command}\` failed: ${doc.error.name ?? 'error'}`;
  if (doc.ok === false && command === 'lint')
    return `❌ \`lockstep lint\`: ${plural(findingsOf(doc).filter((f) => !f.suppressed).length, 'finding')}, failing at ${doc.failOn ?? '?'}`;
  if (doc.ok === false) return `❌ \`lockstep ${command}\` exited ${doc.exitCode ?? '?'}`;
  if (command === 'migrate') {
    const applied = list(doc.applied).length;
    if (doc.incomplete)
      return `⏸️ \`lockstep migrate\` applied ${plural(applied, 'migration')}, then stopped at its deadline`;
    return applied === 0
      ? '✅ `lockstep migrate`: nothing to do'
      : `✅ \`lockstep migrate\` applied ${plural(applied, 'migration')}${doc.durationMs === undefined ? '' : ` in ${formatMs(doc.durationMs)}`}`;
  }
  if (command === 'lint') {
    const open = findingsOf(doc).filter((f) => !f.suppressed).length;
    return open === 0 ? '✅ `lockstep lint`: no findings' : `⚠️ \`lockstep lint\`: ${plural(open, 'finding')}`;
  }
  const pending = pendingCount(doc) ?? 0;
  return `✅ \`lockstep ${command}\`: ${pending === 0 ? 'nothing pending' : plural(pending, 'pending migration')}`;
}

function errorAnnotations(error: ErrorDoc): Annotation[] {
  const title = error.name ?? 'lockstep error';
  const message = error.message ?? '';
  if (error.location?.file) {
    return [
      {
        level: 'error',
        file: error.location.file,
        ...(error.location.line === undefined ? {} : { line: error.location.line }),
        ...(error.location.column === undefined ? {} : { column: error.location.column }),
        title: `${title}${error.sqlState ? ` [SQLSTATE ${error.sqlState}]` : ''}`,
        message: error.postgresMessage ?? message,
      },
    ];
  }
  const problems = list(error.problems).filter((p) => p.file);
  if (problems.length > 0) return problems.map((p) => problemAnnotation(p, title));
  const refs = [...list(error.changed), ...list(error.files)].filter((r) => r.file);
  if (refs.length > 0) return refs.map((r) => ({ level: 'error', file: r.file, line: 1, title, message }));
  return [{ level: 'error', title, message }];
}

function problemAnnotation(p: Problem, title: string): Annotation {
  return {
    level: 'error',
    ...(p.file ? { file: p.file } : {}),
    ...(p.line === undefined ? {} : { line: p.line }),
    ...(p.column === undefined ? {} : { column: p.column }),
    title,
    message: p.problem ?? '',
  };
}

function lintAnnotations(doc: Doc): Annotation[] {
  return findingsOf(doc)
    .filter((f) => !f.suppressed)
    .map((f) => ({
      level: LEVEL[f.severity ?? ''] ?? 'warning',
      ...(f.file ? { file: f.file } : {}),
      ...(f.line === undefined ? {} : { line: f.line }),
      ...(f.column === undefined ? {} : { column: f.column }),
      title: `lockstep lint: ${f.rule ?? 'finding'}`,
      message: [f.detail, f.effect, f.safe ? `safe: ${f.safe}` : undefined].filter(Boolean).join('\n'),
    }));
}

function driftAnnotations(doc: Doc): Annotation[] {
  const at = (r: Ref, title: string, message: string): Annotation => ({
    level: 'warning',
    ...(r.file ? { file: r.file, line: 1 } : {}),
    title,
    message,
  });
  return [
    ...list(doc.checksumMismatches).map((r) =>
      at(
        r,
        'edited after it was applied',
        `${r.file ?? r.version} differs from the version the database ran`,
      ),
    ),
    ...list(doc.outOfOrder).map((r) =>
      at(r, 'out of order', `${r.file ?? r.version} is older than the highest applied version`),
    ),
    ...list(doc.invalid).map((p) => ({ ...problemAnnotation(p, 'invalid migration') })),
  ];
}

function sections(doc: Doc): string[] {
  const out: string[] = [];
  const applied = list(doc.applied);
  if (doc.command === 'migrate' && applied.length > 0) {
    out.push(
      '',
      `**Applied** (${applied.length})`,
      '',
      '| migration | duration |',
      '| --- | --- |',
      ...applied.map((a) => `| \`${cell(a.file ?? a.version ?? '?')}\` | ${formatMs(a.durationMs)} |`),
    );
  }
  const pending = list(doc.pending);
  if (pending.length > 0) {
    out.push('', `**Pending** (${pending.length})`, '');
    for (const p of pending) {
      const notes = pendingNotes(p);
      out.push(
        `- \`${cell(p.file ?? p.version ?? '?')}\`${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`,
      );
    }
  }
  const drift = [
    ...list(doc.checksumMismatches).map((r) => `- edited after it was applied: \`${cell(r.file ?? '?')}\``),
    ...list(doc.outOfOrder).map(
      (r) => `- older than the highest applied version: \`${cell(r.file ?? '?')}\``,
    ),
    ...list(doc.databaseAhead).map(
      (r) =>
        `- applied, but this release has no file for it: \`${cell(r.file ?? '?')}\` (version ${r.version ?? '?'})`,
    ),
  ];
  if (doc.command === 'plan' || doc.command === 'status' || drift.length > 0) {
    out.push(
      '',
      drift.length === 0 ? '**Drift**: none' : '**Drift**',
      ...(drift.length > 0 ? ['', ...drift] : []),
    );
  }
  const findings = findingsOf(doc);
  if (findings.length > 0) {
    out.push(
      '',
      `**Lint** (${findings.length})`,
      '',
      '| severity | rule | where | what |',
      '| --- | --- | --- | --- |',
      ...findings.map(
        (f) =>
          `| ${f.suppressed ? `allowed: ${cell(f.suppressed)}` : (f.severity ?? '')} | \`${cell(f.rule ?? '')}\` | \`${cell(`${f.file ?? '?'}:${f.line ?? '?'}:${f.column ?? '?'}`)}\` | ${cell(f.detail ?? '')} |`,
      ),
    );
  }
  for (const warning of list(doc.warnings)) out.push('', `> ⚠️ ${cell(warning)}`);
  const appliedBefore = list(doc.error?.appliedBefore);
  if (appliedBefore.length > 0) {
    out.push(
      '',
      `**Applied before the failure** (stay applied): ${appliedBefore.map((v) => `\`${v}\``).join(', ')}`,
    );
  }
  if (doc.error) {
    out.push('', '**Error**', '', '```', `${doc.error.name ?? 'error'}: ${doc.error.message ?? ''}`, '```');
  }
  return out;
}

/** The report for one `--json` document. */
export function ciReport(document: unknown): CiReport {
  const doc: Doc = typeof document === 'object' && document !== null ? (document as Doc) : {};
  const seen = new Set<string>();
  // `plan` reports invalid files both as its result and in its error: one annotation each.
  const annotations = [
    ...(doc.error ? errorAnnotations(doc.error) : []),
    ...driftAnnotations(doc),
    ...lintAnnotations(doc),
  ].filter((a) => {
    const key = JSON.stringify([a.file, a.line, a.column, a.message]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  // A failed migrate's document has no result, only what its error says ran before it.
  const appliedCount =
    doc.command !== 'migrate'
      ? 0
      : doc.applied
        ? list(doc.applied).length
        : list(doc.error?.appliedBefore).length;
  return {
    summary: `${[`### ${headline(doc)}`, ...sections(doc)].join('\n')}\n`,
    annotations,
    outputs: {
      // Empty when the run ended before it knew (a failure, a lock it could not get).
      'pending-count': String(pendingCount(doc) ?? ''),
      'applied-count': String(appliedCount),
      'exit-code': String(doc.exitCode ?? 1),
      'error-name': doc.error?.name ?? '',
      'finding-count': String(findingsOf(doc).filter((f) => !f.suppressed).length),
    },
  };
}
