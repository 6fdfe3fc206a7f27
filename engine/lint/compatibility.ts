/**
 * Backward compatibility (issue 16's rollback): whether the app version from before a migration still works against
 * the schema after it, so that rolling back the image alone is safe. A migration is compatible when it is additive by
 * the lint's classification, or when its author declares it so with `-- lockstep:backward-compatible <reason>`.
 *
 * Additive by the lint's classification means both: none of its findings is of a rule {@link RULE_COMPATIBILITY}
 * marks incompatible, and each statement is of a shape {@link compatibleStatement} knows to be additive. The second
 * half matters because the lint's rules are about locks during a release: a `DROP FUNCTION`, a `REVOKE` or a
 * `CREATE OR REPLACE VIEW` locks little and has no rule, yet the old version may need what it removed. What is not
 * known to be compatible counts as incompatible: the price of a wrong "compatible" is an app that cannot start,
 * of a wrong "incompatible" a restore the author can avoid with the declaration.
 */
import type { MigrationText } from '../migration.ts';
import { parseTree, SqlSyntaxError, splitStatements } from '../sql-parser.ts';
import { type SqlComment, type Statement, skipTrivia } from '../sql-text.ts';
import type { FileFinding } from './finding.ts';
import { lintFile } from './lint-file.ts';
import type { RuleId } from './rules.ts';

/**
 * Each rule's finding, for the app version before the migration: `null` when it still works (the rule is about locks
 * or time), else why it may not. Exhaustive: a new rule does not compile until it is classified here. A finding
 * counts even when a `-- lockstep:allow` accepts it: an allow says the rollout is safe, not a rollback to any
 * older version.
 */
export const RULE_COMPATIBILITY: Readonly<Record<RuleId, string | null>> = {
  'volatile-default': null,
  'not-null-without-default':
    'adds a NOT NULL column without a default: the older version inserts without it',
  'column-type-change': 'changes a column type: the older version reads and writes the old type',
  'set-not-null': 'makes an existing column NOT NULL: the older version may write NULL there',
  'foreign-key-not-valid': null,
  'check-not-valid': null,
  'index-not-concurrent': null,
  'drop-index-not-concurrent': null,
  'reindex-not-concurrent': null,
  'unique-without-index': 'adds a UNIQUE or PRIMARY KEY constraint: the older version may write duplicates',
  'vacuum-full': null,
  cluster: null,
  'refresh-not-concurrent': null,
  'lock-table': null,
  truncate: null,
  'rename-column': 'renames a column: the older version uses the old name',
  'rename-table': 'renames a table: the older version uses the old name',
  'drop-column': 'drops a column the older version may read or write',
  'drop-table': 'drops a table or view the older version may use',
  'lock-timeout-off': null,
  'blocking-session': null,
  'long-transaction': null,
  'invalid-suppression': null,
  'unused-suppression': null,
};

/** Statements that only add, or change data but not the schema: the older version does not notice them. */
const ADDITIVE_KINDS = new Set([
  'CreateStmt',
  'CreateTableAsStmt',
  'IndexStmt',
  'CreateSeqStmt',
  'AlterSeqStmt',
  'CreateSchemaStmt',
  'CreateExtensionStmt',
  'CreateEnumStmt',
  'CompositeTypeStmt',
  'CreateDomainStmt',
  'CreateStatsStmt',
  'CommentStmt',
  'InsertStmt',
  'UpdateStmt',
  'DeleteStmt',
  'SelectStmt',
  'VariableSetStmt',
  'VacuumStmt',
  'ClusterStmt',
  'ReindexStmt',
  'RefreshMatViewStmt',
  'LockStmt',
  'TruncateStmt',
]);

/** ALTER TABLE commands that add, relax or only tune: what the older version wrote still fits. */
const ADDITIVE_ALTER_TABLE = new Set([
  'AT_AddColumn',
  'AT_DropNotNull',
  'AT_ValidateConstraint',
  'AT_SetStatistics',
  'AT_SetRelOptions',
  'AT_ResetRelOptions',
  'AT_ClusterOn',
  'AT_DropCluster',
  'AT_SetStorage',
]);

type Node = Record<string, unknown>;
const obj = (v: unknown): Node => (v && typeof v === 'object' ? (v as Node) : {});

/** Why a statement (its parse tree) is not known to be compatible; `undefined` when it is additive. */
export function compatibleStatement(tree: unknown): string | undefined {
  const [kind = 'an unparsed statement', body = {}] = Object.entries(obj(tree))[0] ?? [];
  const b = obj(body);
  if (ADDITIVE_KINDS.has(kind)) return undefined;
  if ((kind === 'ViewStmt' || kind === 'CreateFunctionStmt') && b.replace !== true) return undefined;
  if (kind === 'GrantStmt' && b.is_grant === true) return undefined;
  if (kind === 'AlterEnumStmt' && b.oldVal === undefined) return undefined;
  if (kind === 'DropStmt' && b.removeType === 'OBJECT_INDEX') return undefined;
  if (kind === 'AlterTableStmt' && b.objtype === 'OBJECT_TABLE') {
    const cmds = (Array.isArray(b.cmds) ? b.cmds : []).map((c) => obj(obj(c).AlterTableCmd));
    const other = cmds.find(
      (c) =>
        !ADDITIVE_ALTER_TABLE.has(String(c.subtype)) &&
        !(c.subtype === 'AT_ColumnDefault' && c.def !== undefined),
    );
    if (!other) return undefined;
    return `ALTER TABLE … ${String(other.subtype).replace(/^AT_/, '')}: may refuse or miss what the older version reads or writes`;
  }
  return `${kind}: lockstep cannot tell whether the older version works after it`;
}

/** `-- lockstep:backward-compatible <reason>`: anywhere between statements; the whole file counts as compatible. */
export const BACKWARD_COMPATIBLE_DIRECTIVE = /^--\s*lockstep:backward-compatible\b\s*(.*)$/;

/** The declaration's reason, if the file has one; `''` when it has the directive without a reason. */
export function declaredCompatible(sql: string, statements: readonly Statement[]): string | undefined {
  let reason: string | undefined;
  const onComment = (c: SqlComment) => {
    const match = BACKWARD_COMPATIBLE_DIRECTIVE.exec(c.text);
    if (match && reason === undefined) reason = (match[1] ?? '').trim();
  };
  let from = 0;
  for (const st of statements) {
    skipTrivia(sql, from, st.start, { semicolons: true, onComment });
    from = st.start + st.text.length;
  }
  skipTrivia(sql, from, sql.length, { semicolons: true, onComment });
  return reason;
}

/** Why one statement is not compatible, at its line. */
export interface IncompatibleStatement {
  readonly line: number;
  readonly why: string;
}

export interface Compatibility {
  readonly compatible: boolean;
  /** The author's reason, when the file declares itself compatible. */
  readonly declared?: string;
  /** What makes it incompatible (empty when compatible). */
  readonly incompatible: readonly IncompatibleStatement[];
}

/**
 * A file's classification from its statements (with their parse trees, in order) and its lint findings: a
 * statement's incompatible finding explains it, else its shape does.
 */
export function classifyStatements(
  sql: string,
  statements: ReadonlyArray<Statement & { readonly tree: unknown }>,
  findings: readonly Pick<FileFinding, 'rule' | 'line'>[],
): Compatibility {
  const declared = declaredCompatible(sql, statements);
  if (declared) return { compatible: true, declared, incompatible: [] };
  const incompatible: IncompatibleStatement[] = [];
  for (const [i, st] of statements.entries()) {
    const next = statements[i + 1]?.line ?? Number.POSITIVE_INFINITY;
    const found = findings
      .filter((f) => f.line >= st.line && f.line < next)
      .map((f) => RULE_COMPATIBILITY[f.rule as RuleId])
      .filter((why): why is string => typeof why === 'string');
    const why = found[0] ?? compatibleStatement(st.tree);
    if (why) incompatible.push({ line: st.line, why });
  }
  return { compatible: incompatible.length === 0, incompatible };
}

/** A migration file's classification, with the parser; a file that does not parse is not known compatible. */
export async function classifyMigration(m: Pick<MigrationText, 'file' | 'sql'>): Promise<Compatibility> {
  let statements: Awaited<ReturnType<typeof splitStatements>>;
  try {
    statements = await splitStatements(m.sql);
  } catch (err) {
    if (!(err instanceof SqlSyntaxError)) throw err;
    return { compatible: false, incompatible: [{ line: 1, why: `does not parse: ${err.message}` }] };
  }
  const { findings } = await lintFile(m, statements);
  const trees = [];
  for (const st of statements) trees.push({ ...st, tree: await parseTree(st.text) });
  return classifyStatements(m.sql, trees, findings);
}
