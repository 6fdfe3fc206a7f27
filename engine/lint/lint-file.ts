/**
 * One migration file's lint, with PostgreSQL's parser: every statement's parse tree through ./statement-rules.ts, in
 * order, so what the file created before a statement counts as new; then the `-- lockstep:allow` comments between
 * statements applied to the statement after each. What earlier files of the same release created is ./release.ts's
 * business: this result is the same whatever is pending, so `lockstep publish` and the synth can store it in the
 * manifest.
 */
import type { MigrationText } from '../migration.ts';
import { type ParsedStatement, parseTree, splitStatements } from '../sql-parser.ts';
import { excerpt, type SqlComment, type Statement, skipTrivia, TextIndex } from '../sql-text.ts';
import {
  type FileEvent,
  type FileFinding,
  type FileLint,
  type LockSite,
  nameKey,
  type ObjectName,
} from './finding.ts';
import { strongerLock } from './lock-modes.ts';
import { applyEvent } from './release.ts';
import { isRuleId } from './rules.ts';
import { type FileState, lintStatement } from './statement-rules.ts';
import { parseSuppression, type Suppression } from './suppressions.ts';

const DETAIL_CHARS = 160;

/** Statement kinds a rule reads; any other statement is parsed again only if it may call set_config. */
const LINTED_KINDS = new Set([
  'AlterTableStmt',
  'ClusterStmt',
  'CreateStmt',
  'CreateTableAsStmt',
  'DropStmt',
  'IndexStmt',
  'LockStmt',
  'RefreshMatViewStmt',
  'ReindexStmt',
  'RenameStmt',
  'TruncateStmt',
  'VacuumStmt',
  'VariableSetStmt',
]);
const mayLint = (st: Statement | ParsedStatement) =>
  !('kind' in st) || LINTED_KINDS.has(st.kind) || /set_config/i.test(st.text);

/**
 * The file's lint. `statements`: the file's split, when validation already made it. A file that does not parse has
 * none (validation reports it).
 */
export async function lintFile(
  m: Pick<MigrationText, 'file' | 'sql'>,
  statements?: readonly (Statement | ParsedStatement)[],
): Promise<FileLint> {
  if (!statements) {
    try {
      statements = await splitStatements(m.sql);
    } catch {
      return { findings: [], events: [], locks: [] };
    }
  }
  const index = new TextIndex(m.sql);
  const state = new FileTracker();
  const findings: FileFinding[] = [];
  const locks = new Map<string, LockSite>();
  const allows = suppressionsByStatement(m.sql, statements);
  for (const [i, st] of statements.entries()) {
    // An INSERT of a data file needs no second parse: its kind says no rule reads it.
    const result = lintStatement(mayLint(st) ? await parseTree(st.text) : undefined, state);
    const mine = allows[i] ?? [];
    const used = new Set<Suppression>();
    for (const f of result.findings) {
      const allow = mine.find((a) => a.rule === f.rule && a.reason !== '');
      if (allow) used.add(allow);
      const at = f.location === undefined ? st.start : st.start + charsIn(st.text, f.location);
      findings.push({
        rule: f.rule,
        file: m.file,
        ...index.lineColumn(at),
        ...(f.object ? { object: f.object } : {}),
        ...(f.objectIsIndex ? { objectIsIndex: true } : {}),
        ...(f.targetColumn ? { targetColumn: f.targetColumn } : {}),
        detail: excerpt(st.text, DETAIL_CHARS),
        ...(allow ? { suppressed: allow.reason } : {}),
      });
    }
    for (const a of mine) {
      if (used.has(a)) continue;
      const invalid = !isRuleId(a.rule) || a.reason === '';
      findings.push({
        rule: invalid ? 'invalid-suppression' : 'unused-suppression',
        file: m.file,
        ...index.lineColumn(a.start),
        detail: invalid
          ? `-- lockstep:allow ${a.rule}${a.reason ? ` ${a.reason}` : ''}${isRuleId(a.rule) ? ' (no reason)' : a.rule ? ' (no such rule)' : ' (no rule)'}`
          : `-- lockstep:allow ${a.rule}: the statement after it (line ${st.line}) does not break ${a.rule}`,
      });
    }
    for (const { object, mode } of result.locks) {
      const k = nameKey(object);
      const before = locks.get(k);
      if (!before || strongerLock(mode, before.mode))
        locks.set(k, { object, mode, file: m.file, line: st.line, column: st.column });
    }
    state.apply(result.events);
  }
  // An allow after the last statement applies to none.
  for (const a of allows[statements.length] ?? [])
    findings.push({
      rule: isRuleId(a.rule) && a.reason ? 'unused-suppression' : 'invalid-suppression',
      file: m.file,
      ...index.lineColumn(a.start),
      detail: `-- lockstep:allow ${a.rule}: no statement follows it`,
    });
  return { findings, events: state.events, locks: [...locks.values()] };
}

/** The allow comments before each statement (index `statements.length`: after the last one). */
function suppressionsByStatement(sql: string, statements: readonly Statement[]): Suppression[][] {
  const byStatement: Suppression[][] = [];
  let from = 0;
  const collect = (to: number) => {
    const found: Suppression[] = [];
    const onComment = (c: SqlComment) => {
      const s = parseSuppression(c.text, c.start);
      if (s) found.push(s);
    };
    skipTrivia(sql, from, to, { semicolons: true, onComment });
    return found;
  };
  for (const st of statements) {
    byStatement.push(collect(st.start));
    from = st.start + st.text.length;
  }
  byStatement.push(collect(sql.length));
  return byStatement;
}

/** UTF-16 length of the first `bytes` UTF-8 bytes of `text` (the parser's locations count bytes). */
function charsIn(text: string, bytes: number): number {
  return Buffer.from(text, 'utf8').subarray(0, bytes).toString('utf8').length;
}

/** What the file has created so far, and which NOT NULL checks it validated. */
class FileTracker implements FileState {
  readonly events: FileEvent[] = [];
  private readonly created = new Set<string>();
  private readonly checked = new Set<string>();
  readonly pendingNotNullChecks = new Map<string, string>();

  isNew(o: ObjectName): boolean {
    return this.created.has(nameKey(o));
  }
  notNullChecked(table: ObjectName, column: string): boolean {
    return this.checked.has(`${nameKey(table)}:${column}`);
  }
  apply(events: readonly FileEvent[]): void {
    for (const e of events) {
      this.events.push(e);
      applyEvent(e, this.created, this.checked);
    }
  }
}
