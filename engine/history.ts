import { createHash } from 'node:crypto';
import pg from 'pg';
import { InvalidInputError } from './errors.ts';
import type { MigrationFile } from './migration-files.ts';
import type { StatementResult } from './session.ts';

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

export const quoteLiteral = (value: string): string => pg.escapeLiteral(value);
const quoteIdent = (value: string): string => pg.escapeIdentifier(value);
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,62}$/;

/** Where history lives; also the source of the advisory-lock key. */
export class HistoryTable {
  readonly schema: string;
  readonly table: string;
  /** `"schema"."table"`, safe to interpolate. */
  readonly qualified: string;
  /** Two non-negative int4 keys for pg_advisory_lock(int, int): a lockstep constant and a hash of the name. */
  readonly lockKey: readonly [number, number];

  constructor(name = 'lockstep.schema_history') {
    const parts = name.split('.');
    if (parts.length !== 2 || !parts.every((p) => IDENTIFIER.test(p))) {
      throw new InvalidInputError('history table', `"${name}" must be <schema>.<table>, plain identifiers`);
    }
    [this.schema, this.table] = parts as [string, string];
    this.qualified = `${quoteIdent(this.schema)}.${quoteIdent(this.table)}`;
    const digest = createHash('sha256').update(`${this.schema}.${this.table}`).digest();
    this.lockKey = [0x6c6b7370 /* "lksp" */, digest.readUInt32BE(0) & 0x7fffffff];
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
}
