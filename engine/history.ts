import { createHash } from 'node:crypto';
import { InvalidInputError } from './errors.ts';
import type { MigrationFile } from './migration-files.ts';
import { ScriptFailedError, type SqlSession, type StatementResult } from './session.ts';
import { SESSION_SETUP_SQL } from './session-reset.ts';

/** One row of the history table. */
export interface HistoryRow {
  readonly version: bigint;
  readonly file: string;
  readonly checksum: string;
  readonly success: boolean;
  readonly appliedAt: string;
  readonly executionMs: number;
  readonly appliedBy: string;
  /** For a failed non-transactional migration: the 1-based statement it stopped at. */
  readonly failedStatement: number | null;
  readonly error: string | null;
}

/**
 * A string literal, as node-postgres' `escapeLiteral` writes it: quotes doubled, and with a backslash in it, an
 * `E'…'` literal with backslashes doubled, so it reads the same whatever standard_conforming_strings is. Written out
 * here so the engine does not load node-postgres: a command that never connects should not pay for it.
 */
export function quoteLiteral(value: string): string {
  const body = value.replace(/'/g, "''");
  return value.includes('\\') ? ` E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`;
}
/** An identifier in double quotes, inner double quotes doubled (node-postgres' `escapeIdentifier`). */
const quoteIdent = (value: string): string => `"${value.replace(/"/g, '""')}"`;
/** An unquoted part: what PostgreSQL would keep as written (already lower case). */
const UNQUOTED = /^[a-z_][a-z0-9_$]*$/;
/** PostgreSQL keeps the first NAMEDATALEN - 1 bytes of an identifier and silently drops the rest. */
const MAX_IDENTIFIER_BYTES = 63;
/** System schemas: PostgreSQL reserves the `pg_` prefix (pg_catalog, pg_toast, pg_temp_N…), and information_schema. */
const SYSTEM_SCHEMA = /^(pg_|information_schema$)/;

/**
 * Splits `schema.table` the way PostgreSQL reads a qualified name, with one difference: an unquoted part in
 * mixed or upper case is refused instead of folded, because lockstep up to now used it as written (a
 * case-sensitive table) and folding it would silently start a second history. Quoted parts are exact.
 */
function parseQualifiedName(name: string): [schema: string, table: string] {
  const refuse = (problem: string) =>
    new InvalidInputError('history table', `"${name}" ${problem} (expected <schema>.<table>)`);
  const parts: string[] = [];
  let i = 0;
  for (;;) {
    let part: string;
    if (name[i] === '"') {
      part = '';
      for (let j = i + 1; ; ) {
        const quote = name.indexOf('"', j);
        if (quote === -1) throw refuse('has an unterminated quoted name');
        part += name.slice(j, quote);
        if (name[quote + 1] === '"') {
          part += '"';
          j = quote + 2;
          continue;
        }
        i = quote + 1;
        break;
      }
      if (part === '' || part.includes('\0')) throw refuse('has an empty quoted name, or one with a NUL');
    } else {
      const raw = /^[^."]*/.exec(name.slice(i))?.[0] ?? '';
      if (raw !== '' && raw !== raw.toLowerCase() && UNQUOTED.test(raw.toLowerCase())) {
        throw refuse(
          `has ${raw} unquoted: PostgreSQL folds that to ${raw.toLowerCase()}, so write it in lower case, ` +
            `or quote it to mean the name exactly as written ("${raw}")`,
        );
      }
      if (!UNQUOTED.test(raw)) {
        throw refuse(
          `has ${raw === '' ? 'an empty part' : `"${raw}"`}: unquoted parts are letters, digits, _ and $, ` +
            'not starting with a digit; quote any other name',
        );
      }
      part = raw;
      i += raw.length;
    }
    if (Buffer.byteLength(part) > MAX_IDENTIFIER_BYTES) {
      throw refuse(`has a part longer than ${MAX_IDENTIFIER_BYTES} bytes, which PostgreSQL would cut short`);
    }
    parts.push(part);
    if (i === name.length) break;
    if (name[i] !== '.') throw refuse('has something after a quoted name other than "."');
    i += 1;
  }
  if (parts.length !== 2) throw refuse(`has ${parts.length} part${parts.length === 1 ? '' : 's'}`);
  const [schema, table] = parts as [string, string];
  if (SYSTEM_SCHEMA.test(schema)) {
    throw refuse(`is in the system schema ${schema}: choose a schema of your own`);
  }
  return [schema, table];
}

/**
 * `failed_statement` of the row a self-managed migration (one that runs its own transactions) writes before it runs:
 * "started, outcome not yet known". Until the run records the outcome the row says the migration is in doubt, which
 * the next run refuses to guess about (./plan.ts); `lockstep repair --resolve` settles it.
 */
export const IN_DOUBT_STATEMENT = 0;

/** Where history lives; also the source of the advisory-lock key. */
export class HistoryTable {
  /** The schema's name as PostgreSQL stores it (unquoted, exact). */
  readonly schema: string;
  readonly table: string;
  /** `"schema"."table"`, safe to interpolate. */
  readonly qualified: string;
  /** For messages: `schema.table`, quoted only where the name needs it. */
  readonly display: string;
  /** Two non-negative int4 keys for pg_advisory_lock(int, int): a lockstep constant and a hash of the name. */
  readonly lockKey: readonly [number, number];
  /** `"schema"."<table>_repairs"`: the audit log of `lockstep repair`, beside the history table. */
  readonly repairs: string;
  readonly repairsDisplay: string;

  /**
   * `name` is `<schema>.<table>`: unquoted parts in lower case, or `"Quoted"` parts taken exactly. Every
   * spelling of one table (`lockstep.schema_history`, `"lockstep"."schema_history"`) gives the same table and
   * the same lock key; anything else is an {@link InvalidInputError} naming the problem.
   */
  constructor(name = 'lockstep.schema_history') {
    [this.schema, this.table] = parseQualifiedName(name);
    this.qualified = `${quoteIdent(this.schema)}.${quoteIdent(this.table)}`;
    const plain = UNQUOTED.test(this.schema) && UNQUOTED.test(this.table);
    this.display = plain ? `${this.schema}.${this.table}` : this.qualified;
    // Keyed by `schema.table` for plain names, as every earlier version did, so old and new runners exclude
    // each other; a name that needs quoting (which no earlier version accepted) by its unambiguous quoted form.
    const digest = createHash('sha256').update(this.display).digest();
    this.lockKey = [0x6c6b7370 /* "lksp" */, digest.readUInt32BE(0) & 0x7fffffff];
    let base = this.table;
    while (Buffer.byteLength(`${base}_repairs`) > MAX_IDENTIFIER_BYTES) base = base.slice(0, -1);
    this.repairs = `${quoteIdent(this.schema)}.${quoteIdent(`${base}_repairs`)}`;
    this.repairsDisplay =
      plain && UNQUOTED.test(`${base}_repairs`) ? `${this.schema}.${base}_repairs` : this.repairs;
  }

  /** Whether the schema exists, as `present`; `to_regnamespace` parses its argument, so the name goes in quoted. */
  schemaPresentSql(): string {
    return `SELECT to_regnamespace(${quoteLiteral(quoteIdent(this.schema))}) IS NOT NULL AS present`;
  }

  /** Reads all rows; fails with 42P01 or 3F000 when the table or schema does not exist yet. */
  selectSql(): string {
    return `SELECT version, file_name, checksum, success, applied_at, execution_ms, applied_by, failed_statement, error FROM ${this.qualified} ORDER BY version`;
  }

  parseRows(result: StatementResult | undefined): HistoryRow[] {
    return (result?.rows ?? []).map((r) => ({
      version: BigInt(r.version as string),
      file: r.file_name as string,
      checksum: r.checksum as string,
      success: r.success === 't',
      appliedAt: r.applied_at as string,
      executionMs: Number(r.execution_ms),
      appliedBy: r.applied_by as string,
      failedStatement: r.failed_statement === null ? null : Number(r.failed_statement),
      error: r.error ?? null,
    }));
  }

  /** Creates the schema (when missing) and the table. Run under the advisory lock. */
  createSql(schemaExists: boolean): string {
    return `${schemaExists ? '' : `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(this.schema)};\n`}CREATE TABLE IF NOT EXISTS ${this.qualified} (
  version bigint PRIMARY KEY,
  description text NOT NULL,
  file_name text NOT NULL,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  execution_ms integer NOT NULL,
  applied_by text NOT NULL,
  success boolean NOT NULL,
  failed_statement integer,
  error text
)`;
  }

  /**
   * Marks a recorded failed attempt of a statement-by-statement migration as having reached `statement`, so a runner
   * killed there leaves a row that says where it stopped.
   */
  progressSql(version: bigint, statement: number, error: string): string {
    return `UPDATE ${this.qualified} SET failed_statement = ${statement}, error = ${quoteLiteral(error)} WHERE version = ${version} AND NOT success`;
  }

  /** Statements the record script consists of. */
  static readonly RECORD_STATEMENTS = 2;

  /**
   * Records a migration. Inside the migration's own transaction `startedAt` is `statement_timestamp()` (when
   * the server received the script), so the execution time is measured by the server, not the network.
   */
  recordSql(
    m: MigrationFile,
    appliedBy: string,
    outcome:
      | { success: true; startedAt: string }
      | { success: false; startedAt: string; failedStatement: number; error: string },
  ): string {
    const values = [
      m.version.toString(),
      quoteLiteral(m.description),
      quoteLiteral(m.file),
      quoteLiteral(m.checksum),
      'clock_timestamp()',
      `(extract(epoch FROM clock_timestamp() - ${outcome.startedAt}) * 1000)::integer`,
      quoteLiteral(appliedBy),
      outcome.success ? 'true' : 'false',
      outcome.success ? 'NULL' : String(outcome.failedStatement),
      outcome.success ? 'NULL' : quoteLiteral(outcome.error),
    ];
    // Replace an earlier failed attempt's row; a plain INSERT then fails loudly (and rolls the migration back)
    // if a successful row already exists, instead of recording the same migration twice.
    return `DELETE FROM ${this.qualified} WHERE version = ${values[0]} AND NOT success;
INSERT INTO ${this.qualified} (version, description, file_name, checksum, applied_at, execution_ms, applied_by, success, failed_statement, error)
VALUES (${values.join(', ')})`;
  }

  /** Creates the repairs audit table when missing; it has a `history_table` column, as a name cut short could be shared. */
  private createRepairsSql(): string {
    return `CREATE TABLE IF NOT EXISTS ${this.repairs} (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  repaired_at timestamptz NOT NULL DEFAULT now(),
  history_table text NOT NULL,
  action text NOT NULL,
  version bigint NOT NULL,
  file_name text NOT NULL,
  previous_row jsonb NOT NULL,
  new_checksum text,
  reason text NOT NULL,
  repaired_by text NOT NULL,
  os_user text,
  database_user text NOT NULL DEFAULT current_user
)`;
  }

  /**
   * Replaces the checksum recorded for an applied migration, if it is still `previous`, and logs who, when and
   * why with the whole previous row in {@link repairs}. One simple-protocol script: the server runs it as one
   * implicit transaction, so either all of it happens or none. Its last statement's tag says whether a row
   * changed (`UPDATE 1`).
   */
  acceptChecksumSql(
    m: { readonly version: bigint; readonly file: string; readonly checksum: string },
    previous: string,
    audit: { readonly reason: string; readonly repairedBy: string; readonly osUser: string | undefined },
  ): string {
    const where = `version = ${m.version} AND success AND checksum = ${quoteLiteral(previous)}`;
    return `${this.createRepairsSql()};
INSERT INTO ${this.repairs} (history_table, action, version, file_name, previous_row, new_checksum, reason, repaired_by, os_user)
SELECT ${quoteLiteral(this.display)}, 'accept-checksum', version, ${quoteLiteral(m.file)}, to_jsonb(h), ${quoteLiteral(m.checksum)}, ${quoteLiteral(audit.reason)}, ${quoteLiteral(audit.repairedBy)}, ${audit.osUser === undefined ? 'NULL' : quoteLiteral(audit.osUser)}
FROM ${this.qualified} h WHERE ${where};
UPDATE ${this.qualified} SET checksum = ${quoteLiteral(m.checksum)} WHERE ${where}`;
  }

  /**
   * Settles an in-doubt row, if it is still in doubt: `applied` makes it the successful row of the file as it is now,
   * `rolled-back` deletes it so the file runs again. Logged in {@link repairs} like {@link acceptChecksumSql}; the last
   * statement's tag says whether a row changed.
   */
  resolveInDoubtSql(
    m: { readonly version: bigint; readonly file: string; readonly checksum: string },
    outcome: 'applied' | 'rolled-back',
    audit: { readonly reason: string; readonly repairedBy: string; readonly osUser: string | undefined },
  ): string {
    const where = `version = ${m.version} AND NOT success AND failed_statement = ${IN_DOUBT_STATEMENT}`;
    const change =
      outcome === 'applied'
        ? `UPDATE ${this.qualified} SET success = true, failed_statement = NULL, error = NULL, checksum = ${quoteLiteral(m.checksum)} WHERE ${where}`
        : `DELETE FROM ${this.qualified} WHERE ${where}`;
    return `${this.createRepairsSql()};
INSERT INTO ${this.repairs} (history_table, action, version, file_name, previous_row, new_checksum, reason, repaired_by, os_user)
SELECT ${quoteLiteral(this.display)}, ${quoteLiteral(`resolve-${outcome}`)}, version, ${quoteLiteral(m.file)}, to_jsonb(h), ${outcome === 'applied' ? quoteLiteral(m.checksum) : 'NULL'}, ${quoteLiteral(audit.reason)}, ${quoteLiteral(audit.repairedBy)}, ${audit.osUser === undefined ? 'NULL' : quoteLiteral(audit.osUser)}
FROM ${this.qualified} h WHERE ${where};
${change}`;
  }
}

const MISSING_HISTORY = new Set(['42P01', '3F000']);

/** Reads history in one round trip (with the session setup); an absent table or schema reads as undefined. */
export async function readHistory(
  session: SqlSession,
  history: HistoryTable,
): Promise<HistoryRow[] | undefined> {
  try {
    const results = await session.script(`${SESSION_SETUP_SQL};\n${history.selectSql()}`);
    return history.parseRows(results[1]);
  } catch (err) {
    if (err instanceof ScriptFailedError && MISSING_HISTORY.has(err.serverError.code ?? '')) return undefined;
    throw err;
  }
}
