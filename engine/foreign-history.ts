/**
 * Other tools' history tables, by their default names: what `lockstep adopt` reads, and what `migrate` and `plan`
 * look for when lockstep has no history yet, so a database another tool migrated is never migrated again from the
 * start. Found through the search path, as the tools find them (each defaults to the current schema).
 */
import type { ForeignHistory } from './errors.ts';
import { quoteLiteral } from './history.ts';
import type { SqlSession } from './session.ts';

export const ADOPTABLE_TOOLS = [
  'prisma',
  'flyway',
  'golang-migrate',
  'dbmate',
  'diesel',
  'sqlx',
  'node-pg-migrate',
] as const;
export type AdoptableTool = (typeof ADOPTABLE_TOOLS)[number];

/** Each tool's default history table. golang-migrate and dbmate share a name; golang-migrate's has `dirty`. */
export const DEFAULT_TABLES: Readonly<Record<AdoptableTool, string>> = {
  prisma: '_prisma_migrations',
  flyway: 'flyway_schema_history',
  'golang-migrate': 'schema_migrations',
  dbmate: 'schema_migrations',
  diesel: '__diesel_schema_migrations',
  sqlx: '_sqlx_migrations',
  'node-pg-migrate': 'pgmigrations',
};

const quoteIdent = (value: string): string => `"${value.replace(/"/g, '""')}"`;

/** Other tools' history tables on the search path that hold rows. Two round trips; run only when lockstep has no history. */
export async function findForeignHistory(session: SqlSession): Promise<ForeignHistory[]> {
  const names = [...new Set(Object.values(DEFAULT_TABLES))].map(quoteLiteral).join(', ');
  const [found] = await session.script(`SELECT t.name, n.nspname AS schema,
  EXISTS (SELECT FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'dirty' AND NOT a.attisdropped) AS dirty
FROM unnest(ARRAY[${names}]) AS t(name)
JOIN pg_catalog.pg_class c ON c.oid = pg_catalog.to_regclass(pg_catalog.quote_ident(t.name))
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace`);
  const tables = (found?.rows ?? []).map((r) => ({
    tool: toolOf(r.name as string, r.dirty === 't'),
    table: `${r.schema}.${r.name}`,
    qualified: `${quoteIdent(r.schema as string)}.${quoteIdent(r.name as string)}`,
  }));
  if (tables.length === 0) return [];
  const counts = await session.script(
    tables.map((t) => `SELECT count(*) AS n FROM ${t.qualified}`).join(';\n'),
  );
  return tables
    .map((t, i) => ({ tool: t.tool, table: t.table, rows: Number(counts[i]?.rows[0]?.n ?? 0) }))
    .filter((t) => t.rows > 0);
}

function toolOf(table: string, dirty: boolean): AdoptableTool {
  if (table === 'schema_migrations') return dirty ? 'golang-migrate' : 'dbmate';
  return (Object.entries(DEFAULT_TABLES).find(([, name]) => name === table)?.[0] ??
    'prisma') as AdoptableTool;
}
