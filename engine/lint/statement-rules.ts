/**
 * The static checks: one statement's parse tree (libpg-query's JSON) against ./rules.ts, knowing which objects the
 * same file created before it (./lint-file.ts keeps that). No parser here: the tree comes in as data.
 */
import type { FileEvent, LockMode, ObjectName } from './finding.ts';
import { strongerLock } from './lock-modes.ts';
import type { RuleId } from './rules.ts';

type Node = Record<string, unknown>;

/** What a statement's check found, before it is placed in the file. */
export interface StatementFinding {
  readonly rule: RuleId;
  readonly object?: ObjectName;
  readonly objectIsIndex?: boolean;
  readonly targetColumn?: string;
  /** Byte offset in the statement's text of what the finding is about (a column, a constraint), when known. */
  readonly location?: number;
}

export interface StatementLint {
  readonly findings: StatementFinding[];
  readonly events: FileEvent[];
  /** Existing tables the statement locks, and in which mode. */
  readonly locks: Array<{ readonly object: ObjectName; readonly mode: LockMode }>;
}

/** What the file has done before this statement. */
export interface FileState {
  /** The object was created earlier in the release (this file or, for ./release.ts, an earlier one). */
  isNew(o: ObjectName): boolean;
  /** A validated CHECK (column IS NOT NULL) was added earlier in the file. */
  notNullChecked(table: ObjectName, column: string): boolean;
  /** Constraints added as CHECK (column IS NOT NULL) NOT VALID, by table and name, waiting for VALIDATE. */
  readonly pendingNotNullChecks: Map<string, string>;
}

const obj = (v: unknown): Node => (v && typeof v === 'object' ? (v as Node) : {});
const list = (v: unknown): Node[] => (Array.isArray(v) ? (v as Node[]) : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** The one key of a node such as `{ "ColumnDef": {...} }`, and its body. */
const unwrap = (v: unknown): [string, Node] => {
  const [kind, body] = Object.entries(obj(v))[0] ?? ['', {}];
  return [kind, obj(body)];
};
const loc = (v: unknown): number | undefined => {
  const n = obj(v).location;
  return typeof n === 'number' && n >= 0 ? n : undefined;
};

function rangeVar(v: unknown): ObjectName | undefined {
  const rv = obj(v);
  const name = str(rv.relname);
  if (!name) return undefined;
  const schema = str(rv.schemaname);
  return schema ? { schema, name } : { name };
}

/** `DROP TABLE s.t`: a list of String nodes. */
function dottedName(v: unknown): ObjectName | undefined {
  const parts = list(obj(v).List ? obj(obj(v).List).items : v).map((p) => str(obj(obj(p).String).sval));
  const name = parts.at(-1);
  if (!name || parts.some((p) => p === undefined)) return undefined;
  return parts.length > 1 ? { schema: parts.at(-2) as string, name } : { name };
}

/** Functions whose value a column default may use without a rewrite (not volatile). */
const NOT_VOLATILE = new Set([
  'now',
  'transaction_timestamp',
  'statement_timestamp',
  'current_timestamp',
  'lower',
  'upper',
  'btrim',
  'concat',
  'to_jsonb',
  'to_json',
  'jsonb_build_object',
  'json_build_object',
  'jsonb_build_array',
  'json_build_array',
  'make_interval',
  'make_date',
  'length',
  'abs',
]);
const SERIAL = new Set(['serial', 'serial2', 'serial4', 'serial8', 'smallserial', 'bigserial']);

/** Whether any node of a tree, or the tree itself, satisfies `test`. */
function someNode(tree: unknown, test: (node: Node) => boolean): boolean {
  if (!tree || typeof tree !== 'object') return false;
  if (Array.isArray(tree)) return tree.some((v) => someNode(v, test));
  const node = tree as Node;
  return test(node) || Object.values(node).some((v) => someNode(v, test));
}

const functionName = (call: Node): string | undefined =>
  list(call.funcname)
    .map((n) => str(obj(obj(n).String).sval))
    .at(-1);

/** Whether an expression calls a function that may be volatile (anything not known not to be). */
const callsVolatile = (expr: unknown): boolean =>
  someNode(expr, (n) => n.FuncCall !== undefined && !NOT_VOLATILE.has(functionName(obj(n.FuncCall)) ?? ''));

const constraintsOf = (columnDef: Node) => list(columnDef.constraints).map((c) => obj(c.Constraint));

/** A CHECK (column IS NOT NULL) expression's column. */
function notNullColumn(expr: unknown): string | undefined {
  const test = obj(obj(expr).NullTest);
  if (test.nulltesttype !== 'IS_NOT_NULL') return undefined;
  const fields = list(obj(obj(test.arg).ColumnRef).fields);
  return fields.length === 1 ? str(obj(obj(fields[0]).String).sval) : undefined;
}

/** 0, '0', '0ms', '0s', DEFAULT: a lock_timeout of none. */
function isZeroSetting(args: unknown): boolean {
  const first = obj(obj(list(args)[0]).A_Const);
  if (first.ival !== undefined) return (obj(first.ival).ival ?? 0) === 0;
  const text = str(obj(first.sval).sval);
  return text !== undefined && /^\s*0+(\.0*)?\s*(us|ms|s|min|h|d)?\s*$/i.test(text);
}

function setsLockTimeoutOff(kind: string, body: Node): boolean {
  if (kind === 'VariableSetStmt' && body.name === 'lock_timeout')
    return body.kind === 'VAR_SET_DEFAULT' || (body.kind === 'VAR_SET_VALUE' && isZeroSetting(body.args));
  // SELECT set_config('lock_timeout', '0', …) anywhere in a statement.
  return someNode(body, (n) => {
    const call = obj(n.FuncCall);
    if (functionName(call) !== 'set_config') return false;
    const args = list(call.args);
    const setting = str(obj(obj(obj(args[0]).A_Const).sval).sval);
    return setting === 'lock_timeout' && isZeroSetting([args[1]]);
  });
}

const key = (o: ObjectName) => `${o.schema ?? ''}.${o.name}`;

/** The findings, events and locks of one statement. */
export function lintStatement(tree: unknown, state: FileState): StatementLint {
  const [kind, body] = unwrap(tree);
  const out: StatementLint = { findings: [], events: [], locks: [] };
  const existing = (o: ObjectName | undefined): o is ObjectName => o !== undefined && !state.isNew(o);
  const lock = (o: ObjectName | undefined, mode: LockMode = 'AccessExclusiveLock') => {
    if (existing(o)) out.locks.push({ object: o, mode });
  };
  const find = (f: StatementFinding) => out.findings.push(f);

  if (setsLockTimeoutOff(kind, body)) find({ rule: 'lock-timeout-off', location: loc(body) });

  switch (kind) {
    case 'CreateStmt': {
      const table = rangeVar(body.relation);
      if (table) out.events.push({ type: 'created', object: table });
      break;
    }
    case 'CreateTableAsStmt': {
      const table = rangeVar(obj(obj(body.into).rel));
      if (table) out.events.push({ type: 'created', object: table });
      break;
    }
    case 'IndexStmt': {
      const table = rangeVar(body.relation);
      const index = str(body.idxname);
      if (index) out.events.push({ type: 'created', object: { ...schemaOf(table), name: index } });
      if (existing(table) && !body.concurrent)
        find({ rule: 'index-not-concurrent', object: table, location: loc(body.relation) });
      lock(table, body.concurrent ? 'ShareUpdateExclusiveLock' : 'ShareLock');
      break;
    }
    case 'AlterTableStmt': {
      if (body.objtype !== 'OBJECT_TABLE') break;
      const table = rangeVar(body.relation);
      if (!table) break;
      const mode = alterTable(table, list(body.cmds), state, out, existing(table));
      lock(table, mode);
      break;
    }
    case 'RenameStmt': {
      const from = rangeVar(body.relation);
      if (!from) break;
      if (body.renameType === 'OBJECT_COLUMN' && existing(from)) {
        find({
          rule: 'rename-column',
          object: from,
          targetColumn: str(body.subname),
          location: loc(body.relation),
        });
        lock(from);
      } else if (body.renameType === 'OBJECT_TABLE' || body.renameType === 'OBJECT_INDEX') {
        const to = { ...schemaOf(from), name: str(body.newname) ?? '' };
        if (body.renameType === 'OBJECT_TABLE' && existing(from)) {
          find({ rule: 'rename-table', object: from, location: loc(body.relation) });
          lock(from);
        }
        out.events.push({ type: 'renamed', from, to });
      }
      break;
    }
    case 'DropStmt': {
      const removeType = body.removeType;
      for (const o of list(body.objects).map(dottedName)) {
        if (!existing(o)) continue;
        if (
          removeType === 'OBJECT_TABLE' ||
          removeType === 'OBJECT_VIEW' ||
          removeType === 'OBJECT_MATVIEW'
        ) {
          find({ rule: 'drop-table', object: o });
          lock(o);
        } else if (removeType === 'OBJECT_INDEX' && !body.concurrent) {
          find({ rule: 'drop-index-not-concurrent', object: o, objectIsIndex: true });
        }
      }
      break;
    }
    case 'ReindexStmt': {
      const concurrent = list(body.params).some((p) => obj(p.DefElem).defname === 'concurrently');
      const target = rangeVar(body.relation);
      if (concurrent || (target && !existing(target))) break;
      const isIndex = body.kind === 'REINDEX_OBJECT_INDEX';
      find({
        rule: 'reindex-not-concurrent',
        ...(target ? { object: target, ...(isIndex ? { objectIsIndex: true } : {}) } : {}),
        location: loc(body.relation),
      });
      if (!isIndex) lock(target, 'ShareLock');
      break;
    }
    case 'VacuumStmt': {
      const full = list(body.options).some((o) => {
        const def = obj(o.DefElem);
        return def.defname === 'full' && str(obj(obj(def.arg).String).sval) !== 'false';
      });
      if (!full || !body.is_vacuumcmd) break;
      const rels = list(body.rels).map((r) => rangeVar(obj(r.VacuumRelation).relation));
      if (rels.length === 0) find({ rule: 'vacuum-full' });
      for (const rel of rels) {
        if (!existing(rel)) continue;
        find({ rule: 'vacuum-full', object: rel });
        lock(rel);
      }
      break;
    }
    case 'ClusterStmt': {
      const rel = rangeVar(body.relation);
      if (rel && !existing(rel)) break;
      find({ rule: 'cluster', ...(rel ? { object: rel } : {}), location: loc(body.relation) });
      lock(rel);
      break;
    }
    case 'RefreshMatViewStmt': {
      const rel = rangeVar(body.relation);
      if (body.concurrent || !existing(rel)) break;
      find({ rule: 'refresh-not-concurrent', object: rel, location: loc(body.relation) });
      lock(rel);
      break;
    }
    case 'LockStmt':
      for (const r of list(body.relations).map((n) => rangeVar(n.RangeVar))) {
        if (!existing(r)) continue;
        find({ rule: 'lock-table', object: r, location: loc(obj(list(body.relations)[0]).RangeVar) });
        lock(r, LOCK_MODES[Number(body.mode ?? 8)] ?? 'AccessExclusiveLock');
      }
      break;
    case 'TruncateStmt':
      for (const r of list(body.relations).map((n) => rangeVar(n.RangeVar))) {
        if (!existing(r)) continue;
        find({ rule: 'truncate', object: r });
        lock(r);
      }
      break;
  }
  return out;
}

/** LOCK TABLE's mode numbers (lockdefs.h). */
const LOCK_MODES: Record<number, LockMode> = {
  1: 'AccessShareLock',
  2: 'RowShareLock',
  3: 'RowExclusiveLock',
  4: 'ShareUpdateExclusiveLock',
  5: 'ShareLock',
  6: 'ShareRowExclusiveLock',
  7: 'ExclusiveLock',
  8: 'AccessExclusiveLock',
};

const schemaOf = (o: ObjectName | undefined) => (o?.schema ? { schema: o.schema } : {});

/** Checks an ALTER TABLE's commands; returns the lock the statement takes on the table. */
function alterTable(
  table: ObjectName,
  cmds: Node[],
  state: FileState,
  out: StatementLint,
  isExisting: boolean,
): LockMode {
  // Only these commands take less than ACCESS EXCLUSIVE (PostgreSQL's ALTER TABLE documentation).
  const weaker: Record<string, LockMode> = {
    AT_ValidateConstraint: 'ShareUpdateExclusiveLock',
    AT_SetStatistics: 'ShareUpdateExclusiveLock',
    AT_ClusterOn: 'ShareUpdateExclusiveLock',
    AT_DropCluster: 'ShareUpdateExclusiveLock',
    AT_SetRelOptions: 'ShareUpdateExclusiveLock',
    AT_ResetRelOptions: 'ShareUpdateExclusiveLock',
    AT_EnableTrig: 'ShareRowExclusiveLock',
    AT_DisableTrig: 'ShareRowExclusiveLock',
  };
  let mode: LockMode = 'ShareUpdateExclusiveLock';
  const take = (m: LockMode) => {
    if (strongerLock(m, mode)) mode = m;
  };
  const find = (f: Omit<StatementFinding, 'object'>) => {
    if (isExisting) out.findings.push({ ...f, object: table });
  };
  for (const wrapped of cmds) {
    const cmd = obj(wrapped.AlterTableCmd);
    const column = str(cmd.name);
    const c0 = obj(obj(cmd.def).Constraint);
    take(
      weaker[String(cmd.subtype)] ??
        (cmd.subtype === 'AT_AddConstraint' && c0.contype === 'CONSTR_FOREIGN'
          ? 'ShareRowExclusiveLock'
          : 'AccessExclusiveLock'),
    );
    switch (cmd.subtype) {
      case 'AT_AddColumn': {
        const def = obj(obj(cmd.def).ColumnDef);
        const at = loc(def);
        const typeName = list(obj(def.typeName).names)
          .map((n) => str(obj(obj(n).String).sval))
          .at(-1);
        const constraints = constraintsOf(def);
        const has = (t: string) => constraints.some((c) => c.contype === t);
        const defaults = constraints.filter((c) => c.contype === 'CONSTR_DEFAULT');
        const rewrites =
          SERIAL.has(typeName ?? '') ||
          has('CONSTR_IDENTITY') ||
          constraints.some((c) => c.contype === 'CONSTR_GENERATED' && c.generated_kind !== 'v') ||
          defaults.some((c) => callsVolatile(c.raw_expr));
        if (rewrites) find({ rule: 'volatile-default', targetColumn: str(def.colname), location: at });
        if (
          (has('CONSTR_NOTNULL') || has('CONSTR_PRIMARY')) &&
          defaults.length === 0 &&
          !rewrites &&
          !has('CONSTR_GENERATED')
        )
          find({ rule: 'not-null-without-default', targetColumn: str(def.colname), location: at });
        for (const c of constraints) constraintFindings(c, find, out, state, table);
        break;
      }
      case 'AT_AlterColumnType':
        find({ rule: 'column-type-change', targetColumn: column, location: loc(obj(cmd.def).ColumnDef) });
        break;
      case 'AT_SetNotNull':
        if (column && !state.notNullChecked(table, column))
          find({ rule: 'set-not-null', targetColumn: column });
        break;
      case 'AT_DropColumn':
        find({ rule: 'drop-column', targetColumn: column });
        break;
      case 'AT_AddConstraint': {
        const c = obj(obj(cmd.def).Constraint);
        const checked = c.contype === 'CONSTR_CHECK' ? notNullColumn(c.raw_expr) : undefined;
        if (checked && c.skip_validation && str(c.conname))
          state.pendingNotNullChecks.set(`${key(table)}:${c.conname}`, checked);
        else if (checked) out.events.push({ type: 'not-null-checked', table, column: checked });
        constraintFindings(c, find, out, state, table);
        break;
      }
      case 'AT_ValidateConstraint': {
        const checked = state.pendingNotNullChecks.get(`${key(table)}:${column}`);
        if (checked) out.events.push({ type: 'not-null-checked', table, column: checked });
        break;
      }
    }
  }
  return mode;
}

function constraintFindings(
  c: Node,
  find: (f: Omit<StatementFinding, 'object'>) => void,
  out: StatementLint,
  state: FileState,
  table: ObjectName,
) {
  const location = loc(c);
  if (c.contype === 'CONSTR_FOREIGN') {
    // NOT VALID or not, the referenced table is locked too (SHARE ROW EXCLUSIVE), for the constraint's trigger.
    const referenced = rangeVar(c.pktable);
    if (referenced && !state.isNew(referenced) && !state.isNew(table))
      out.locks.push({ object: referenced, mode: 'ShareRowExclusiveLock' });
    if (!c.skip_validation) find({ rule: 'foreign-key-not-valid', location });
  } else if (c.contype === 'CONSTR_CHECK' && !c.skip_validation) {
    find({ rule: 'check-not-valid', location });
  } else if ((c.contype === 'CONSTR_UNIQUE' || c.contype === 'CONSTR_PRIMARY') && !str(c.indexname)) {
    find({ rule: 'unique-without-index', location });
  }
}
