/**
 * Analyses kept between runs, so that a run over files already checked does not load PostgreSQL's parser. The CLI
 * analyzes every pending file before it changes anything (./analyze.ts); in a fresh process the parser's 1.7 MB of
 * WebAssembly compiles cold first, longer than applying a hundred small migrations takes (bench/RESULTS.md). The same
 * files are checked again on the next database: a developer's, the test database, CI's.
 *
 * What is kept is what the migrate function already trusts from a manifest (./manifest.ts): where each statement
 * starts and ends, checked against the file on every read to cover its SQL with nothing outside a statement but
 * whitespace, comments and semicolons. That check catches a damaged entry, not a forged one (spans can still cut a
 * statement in two), so a store must hold only what this user wrote, as the CLI's does.
 *
 * Only an analysis that found no problem is kept; a file with problems is parsed every time, so its problems are
 * always the parser's. The key is the file's text and everything else the analysis depends on (its directives,
 * whether its tool lets it run its own transactions); the store keeps analyses of one lockstep build apart from
 * another's (cli/analysis-store.ts), since a new lockstep may judge the same text otherwise.
 */
import { createHash } from 'node:crypto';
import { isSpan, statementsAt, uncoveredSql } from './manifest.ts';
import type { Analyzer, FileAnalysis, MigrationText } from './migration.ts';

/** Where analyses are kept: text by key. Reading or writing must never throw; a miss is `undefined`. */
export interface AnalysisStore {
  read(key: string): string | undefined;
  write(key: string, value: string): void;
}

/** Bumped when what is kept, or what it means, changes. */
const FORMAT = 'lockstep-analysis/1';

interface Kept {
  readonly statements: ReadonlyArray<readonly [start: number, end: number]>;
  readonly selfManaged?: true;
}

/** The key of a file's analysis: sha256 of everything the analysis reads from it. */
export function analysisKey(m: MigrationText): string {
  const flags = [FORMAT, m.noTransaction, m.ownTransactions === true, m.afterDeploy === true];
  return createHash('sha256').update(JSON.stringify(flags)).update('\n').update(m.sql).digest('hex');
}

/** `analyze`, answered from `store` for a file it already checked without a problem. */
export function cachedAnalyzer(analyze: Analyzer, store: AnalysisStore): Analyzer {
  return async (m) => {
    const key = analysisKey(m);
    const kept = store.read(key);
    const restored = kept === undefined ? undefined : restore(m, kept);
    if (restored) return restored;
    const analysis = await analyze(m);
    if (analysis.problems.length === 0 && analysis.lint === undefined) store.write(key, keep(analysis));
    return analysis;
  };
}

function keep(analysis: FileAnalysis): string {
  const kept: Kept = {
    statements: analysis.statements.map((st) => [st.start, st.start + st.text.length] as const),
    ...(analysis.selfManaged ? { selfManaged: true } : {}),
  };
  return JSON.stringify(kept);
}

/** The analysis `text` holds for `m`, or undefined when it is not one that covers `m`'s SQL. */
function restore(m: MigrationText, text: string): FileAnalysis | undefined {
  let kept: Partial<Kept> | null;
  try {
    kept = JSON.parse(text) as Partial<Kept> | null;
  } catch {
    return undefined;
  }
  const spans = kept?.statements;
  if (!Array.isArray(spans) || !spans.every(isSpan) || uncoveredSql(m.sql, spans) !== undefined)
    return undefined;
  const statements = statementsAt(m.sql, spans);
  return kept?.selfManaged === true
    ? { statements, problems: [], selfManaged: true }
    : { statements, problems: [] };
}
