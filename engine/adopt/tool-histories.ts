/**
 * Each tool's history table, read as the tool writes it, and each tool's checksum of a file, computed as the tool
 * computes it. The table definitions (for the tests, and as the record of what is read) are the tools' own:
 * - prisma: prisma/prisma-engines `schema-engine/connectors/sql-schema-connector/src/flavour/postgres.rs`
 *   `create_migrations_table`; checksum: `schema-connector/src/checksum.rs` (sha256 hex of the script; a file with
 *   its line endings changed still matches; old rows may lack zero padding).
 * - flyway: `flyway_schema_history` as Flyway creates it on PostgreSQL; checksum: `ChecksumCalculator.java` (CRC32
 *   over the UTF-8 bytes of each line, without line terminators, BOM dropped, as a signed int).
 * - golang-migrate: `database/postgres/postgres.go` `ensureVersionTable` (one row: version, dirty).
 * - dbmate: `pkg/driver/postgres/postgres.go` `CreateMigrationsTable`.
 * - diesel: `diesel/src/migration/setup_migration_table.sql`.
 * - sqlx: `sqlx-postgres/src/migrate.rs` `ensure_migrations_table`; checksum: sha384 of the file's text.
 * - node-pg-migrate: `src/runner.ts` `ensureMigrationsTable` (`pgmigrations (id, name, run_on)`).
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { AdoptableTool } from '../foreign-history.ts';
import { flywayParts } from '../layouts/flyway.ts';
import type { StatementResult } from '../session.ts';

/** One migration as the tool's history records it. */
export interface ToolRecord {
  /** What the layout calls `toolId`: a directory or file name, or a version. */
  readonly id: string;
  /** When the tool applied it, as PostgreSQL text; null when the tool keeps no time. */
  readonly appliedAt: string | null;
  /** The checksum the tool stored, when it stores one. */
  readonly checksum?: string;
  /** Why it may not be adopted: failed, rolled back, dirty, unfinished. */
  readonly problem?: string;
  /** Flyway's baseline and golang-migrate's single row: every file up to this one is applied. */
  readonly upTo?: boolean;
}

export const HISTORY_DDL: Readonly<Record<AdoptableTool, (table: string) => string>> = {
  prisma: (t) => `CREATE TABLE ${t} (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
)`,
  flyway: (t) => `CREATE TABLE ${t} (
    installed_rank INT NOT NULL,
    version VARCHAR(50),
    description VARCHAR(200) NOT NULL,
    type VARCHAR(20) NOT NULL,
    script VARCHAR(1000) NOT NULL,
    checksum INTEGER,
    installed_by VARCHAR(100) NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT now(),
    execution_time INTEGER NOT NULL,
    success BOOLEAN NOT NULL,
    CONSTRAINT flyway_schema_history_pk PRIMARY KEY (installed_rank)
)`,
  'golang-migrate': (t) =>
    `CREATE TABLE IF NOT EXISTS ${t} (version bigint not null primary key, dirty boolean not null)`,
  dbmate: (t) => `create table if not exists ${t} (version varchar(255) primary key)`,
  diesel: (t) => `CREATE TABLE IF NOT EXISTS ${t} (
       version VARCHAR(50) PRIMARY KEY NOT NULL,
       run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
)`,
  sqlx: (t) => `CREATE TABLE IF NOT EXISTS ${t} (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
    success BOOLEAN NOT NULL,
    checksum BYTEA NOT NULL,
    execution_time BIGINT NOT NULL
)`,
  'node-pg-migrate': (t) =>
    `CREATE TABLE ${t} (id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL)`,
};

/** The query that reads a tool's table, and how its rows become records. */
export const HISTORY_READERS: Readonly<
  Record<
    AdoptableTool,
    { readonly sql: (table: string) => string; readonly records: (r: StatementResult) => ToolRecord[] }
  >
> = {
  prisma: {
    sql: (t) =>
      `SELECT migration_name AS id, finished_at::text AS at, checksum, rolled_back_at IS NOT NULL AS rolled_back FROM ${t} ORDER BY started_at, id`,
    records: (r) => {
      // A migration's latest row decides: Prisma re-applies a rolled-back migration with a new row.
      const latest = new Map<string, Record<string, string | null>>();
      for (const row of r.rows) latest.set(row.id as string, row);
      return [...latest.values()].map((row) => ({
        id: row.id as string,
        appliedAt: row.at ?? null,
        checksum: row.checksum as string,
        ...(row.rolled_back === 't'
          ? { problem: 'is marked rolled back (rolled_back_at) and was not applied again' }
          : row.at === null
            ? {
                problem:
                  'failed or never finished (no finished_at): resolve it with prisma migrate resolve first',
              }
            : {}),
      }));
    },
  },
  flyway: {
    sql: (t) =>
      `SELECT version, type, script, checksum::text AS checksum, installed_on::text AS at, success FROM ${t} ORDER BY installed_rank`,
    records: (r) =>
      r.rows
        .filter((row) => row.type !== 'SCHEMA')
        .map((row) => {
          const baseline = row.type === 'BASELINE';
          const id = row.version === null ? `R:${row.script}` : flywayParts(row.version as string).join('.');
          return {
            id,
            appliedAt: row.at ?? null,
            ...(baseline || row.checksum === null ? {} : { checksum: row.checksum as string }),
            ...(baseline ? { upTo: true } : {}),
            ...(row.success !== 't'
              ? { problem: `failed (success = false): repair it with flyway repair first` }
              : row.version === null
                ? { problem: `is a repeatable migration (${row.script}), which lockstep does not run` }
                : {}),
          };
        }),
  },
  'golang-migrate': {
    sql: (t) => `SELECT version::text AS id, dirty FROM ${t}`,
    records: (r) =>
      r.rows.map((row) => ({
        id: row.id as string,
        appliedAt: null,
        upTo: true,
        ...(row.dirty === 't'
          ? { problem: 'is dirty (a migration failed partway): fix the database, then migrate force, first' }
          : {}),
      })),
  },
  dbmate: {
    sql: (t) => `SELECT version AS id FROM ${t} ORDER BY version`,
    records: (r) => r.rows.map((row) => ({ id: row.id as string, appliedAt: null })),
  },
  diesel: {
    sql: (t) => `SELECT version AS id, run_on::text AS at FROM ${t} ORDER BY version`,
    records: (r) => r.rows.map((row) => ({ id: row.id as string, appliedAt: row.at ?? null })),
  },
  sqlx: {
    sql: (t) =>
      `SELECT version::text AS id, installed_on::text AS at, success, encode(checksum, 'hex') AS checksum FROM ${t} ORDER BY version`,
    records: (r) =>
      r.rows.map((row) => ({
        id: row.id as string,
        appliedAt: row.at ?? null,
        checksum: row.checksum as string,
        ...(row.success !== 't' ? { problem: 'failed (success = false), partly applied' } : {}),
      })),
  },
  'node-pg-migrate': {
    sql: (t) => `SELECT name AS id, run_on::text AS at FROM ${t} ORDER BY run_on, id`,
    records: (r) => r.rows.map((row) => ({ id: row.id as string, appliedAt: row.at ?? null })),
  },
};

const hash = (algorithm: string, text: string) => createHash(algorithm).update(text, 'utf8').digest('hex');

/** Whether a file's text matches the checksum the tool stored for it, computed the tool's way. */
export function toolChecksumMatches(tool: AdoptableTool, source: string, stored: string): boolean {
  switch (tool) {
    case 'prisma': {
      const variants = [source, source.replace(/\r\n/g, '\n'), source.replace(/\n/g, '\r\n')];
      return variants.some((v) => {
        const digest = createHash('sha256').update(v, 'utf8').digest();
        const unpadded = [...digest].map((b) => b.toString(16)).join('');
        return digest.toString('hex') === stored || (stored.length !== 64 && unpadded === stored);
      });
    }
    case 'flyway':
      return String(flywayChecksum(source)) === stored;
    case 'sqlx':
      return hash('sha384', source) === stored;
    default:
      return true;
  }
}

/** Flyway's CRC32: the UTF-8 bytes of each line without its terminator, a leading BOM dropped, as a signed int. */
export function flywayChecksum(source: string): number {
  const text = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  let crc = 0;
  for (const line of text.split(/\r\n|\r|\n/)) crc = crc32(Buffer.from(line, 'utf8'), crc);
  return crc >= 2 ** 31 ? crc - 2 ** 32 : crc;
}
