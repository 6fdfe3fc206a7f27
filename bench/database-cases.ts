/**
 * The benchmarks that need PostgreSQL: apply and no-op as whole processes (lockstep and the other tools,
 * alternating, a fresh database for every apply), round trips counted on the wire, and the engine in process.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { databaseUrl } from '../cli/embedded-postgres.ts';
import { loadMigrations } from '../engine/migration-files.ts';
import { migrate } from '../engine/runner.ts';
import { pgSession } from '../engine/session.ts';
import { splitStatements } from '../engine/sql-parser.ts';
import type { MigrationSet } from './migrations.ts';
import { type CountingProxy, countingSession, type WireCounts, withPort } from './round-trips.ts';
import { type Command, elapsedMs, median, run, timed } from './stats.ts';
import type { Tool } from './tools.ts';

export interface Server {
  readonly url: string;
  readonly admin: pg.Client;
}

/**
 * A new, empty database on the server; its URL. Ends with a CHECKPOINT, so that the WAL earlier runs wrote is not
 * flushed by a checkpoint in the middle of the next timed run (that, not the tools, made the slowest runs slow).
 */
export async function freshDatabase(server: Server): Promise<string> {
  const name = `b_${randomBytes(5).toString('hex')}`;
  await server.admin.query(`CREATE DATABASE ${name}`);
  await server.admin.query('CHECKPOINT');
  return databaseUrl(server.url, name);
}

/** Drops a database made by {@link freshDatabase}, so the cluster stays small over the whole bench. */
export async function dropDatabase(server: Server, url: string | undefined): Promise<void> {
  if (!url) return;
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  await server.admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
}

export interface Samples {
  readonly name: string;
  readonly ms: readonly number[];
}

/** Rotates the order each run, so no tool always goes first (or right after another's heavy run). */
const rotated = <T>(xs: readonly T[], r: number) => xs.map((_, i) => xs[(i + r) % xs.length] as T);

/** Something that applies the set to a given empty database and says how long that took. */
export interface Applier {
  readonly name: string;
  /** Keep its database for the no-op case (whole-process tools that keep history). */
  readonly keep: boolean;
  apply(url: string): Promise<number>;
}

/** A whole-process tool as an {@link Applier}. */
export const toolApplier = (tool: Tool, set: MigrationSet): Applier => ({
  name: tool.name,
  keep: tool.hasNoop,
  apply: async (url) => timed(tool.command(set, url)),
});

const withClient = async <T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
};

/**
 * In this process, on an open connection (no process start, no connect): the engine's `migrate()`, and the floor
 * for one round trip per migration — node-postgres sending `BEGIN; <file>; COMMIT` per file, no history, no
 * parsing, no lock. `scripts` reports how many scripts the engine sent in its last apply.
 */
export async function inProcessAppliers(
  set: MigrationSet,
): Promise<{ engine: Applier; floor: Applier; scripts: () => number }> {
  const migrations = await loadMigrations(set.dir);
  // The first parses in this process load the WebAssembly parser and run it unoptimised: keep them out.
  for (const m of migrations) await splitStatements(m.sql);
  let scripts = 0;
  return {
    scripts: () => scripts,
    engine: {
      name: 'lockstep engine, in process',
      keep: false,
      apply: (url) =>
        withClient(url, async (client) => {
          const session = countingSession(pgSession(client));
          const started = process.hrtime.bigint();
          await migrate({ session }, migrations, { appliedBy: 'bench' });
          scripts = session.scripts;
          return elapsedMs(started);
        }),
    },
    floor: {
      name: 'floor: node-postgres, in process',
      keep: false,
      apply: (url) =>
        withClient(url, async (client) => {
          const started = process.hrtime.bigint();
          for (const m of migrations) await client.query(`BEGIN;\n${m.sql}\n;\nCOMMIT`);
          return elapsedMs(started);
        }),
    },
  };
}

/**
 * Each applier applies the set to a fresh database, `runs` times, alternating, so that all of them see the
 * server in the same state. Returns the timings and, per applier it should keep, a fully migrated database.
 */
export async function applyCase(
  server: Server,
  appliers: readonly Applier[],
  runs: number,
): Promise<{ samples: Samples[]; applied: Map<string, string> }> {
  const ms = new Map<string, number[]>(appliers.map((a) => [a.name, []]));
  const applied = new Map<string, string>();
  for (let r = 0; r < runs; r++) {
    for (const applier of rotated(appliers, r)) {
      const url = await freshDatabase(server);
      ms.get(applier.name)?.push(await applier.apply(url));
      if (applier.keep) {
        await dropDatabase(server, applied.get(applier.name));
        applied.set(applier.name, url);
      } else await dropDatabase(server, url);
    }
  }
  return { samples: appliers.map((a) => ({ name: a.name, ms: ms.get(a.name) ?? [] })), applied };
}

/** Each tool run again on its fully migrated database, and extra commands (bare node), alternating. */
export function noopCase(
  set: MigrationSet,
  tools: readonly Tool[],
  applied: ReadonlyMap<string, string>,
  extra: ReadonlyArray<{ name: string; command: Command }>,
  runs: number,
): Samples[] {
  const cases = [
    ...tools
      .filter((t) => t.hasNoop && applied.has(t.name))
      .map((t) => ({ name: t.name, command: t.command(set, applied.get(t.name) as string) })),
    ...extra,
  ];
  const ms = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let r = 0; r < runs; r++) {
    for (const c of rotated(cases, r)) ms.get(c.name)?.push(timed(c.command));
  }
  return cases.map((c) => ({ name: c.name, ms: ms.get(c.name) ?? [] }));
}

export interface RoundTrips {
  readonly tool: string;
  readonly apply: WireCounts;
  readonly noop?: WireCounts;
}

/** One apply on a fresh database and one no-op after it, per tool, through the counting proxy (untimed). */
export async function roundTripCase(
  server: Server,
  proxy: CountingProxy,
  set: MigrationSet,
  tools: readonly Tool[],
): Promise<RoundTrips[]> {
  const out: RoundTrips[] = [];
  for (const tool of tools) {
    const url = withPort(await freshDatabase(server), proxy.port);
    proxy.reset();
    await run(tool.command(set, url));
    const apply = proxy.counts();
    if (!tool.hasNoop) {
      out.push({ tool: tool.name, apply });
      await dropDatabase(server, url);
      continue;
    }
    proxy.reset();
    await run(tool.command(set, url));
    out.push({ tool: tool.name, apply, noop: proxy.counts() });
    await dropDatabase(server, url);
  }
  return out;
}

export interface InProcess {
  /** engine `migrate()` on an open connection with everything applied, median ms. */
  readonly noopMs: number;
  /** Scripts (round trips) the engine sent per no-op run, counted through the session. */
  readonly noopScripts: number;
  /** Splitting (parsing) every file with libpg-query, as the engine does before applying, median ms. */
  readonly parseMs: number;
  /** Reading and checksumming the files (`loadMigrations`), page cache warm, median ms. */
  readonly loadMs: number;
}

/** The engine's no-op on `appliedUrl` (migrated by lockstep), the parse step and reading the files, in process. */
export async function inProcessCase(set: MigrationSet, appliedUrl: string, runs: number): Promise<InProcess> {
  const load: number[] = [];
  const parse: number[] = [];
  const migrations = await loadMigrations(set.dir);
  for (const m of migrations) await splitStatements(m.sql);
  for (let r = 0; r < runs; r++) {
    let started = process.hrtime.bigint();
    await loadMigrations(set.dir);
    load.push(elapsedMs(started));
    started = process.hrtime.bigint();
    for (const m of migrations) await splitStatements(m.sql);
    parse.push(elapsedMs(started));
  }
  const noop: number[] = [];
  let noopScripts = 0;
  await withClient(appliedUrl, async (client) => {
    for (let r = 0; r < runs * 4; r++) {
      const session = countingSession(pgSession(client));
      const started = process.hrtime.bigint();
      await migrate({ session }, migrations, { appliedBy: 'bench' });
      noop.push(elapsedMs(started));
      noopScripts = session.scripts;
    }
  });
  return {
    noopMs: median(noop),
    noopScripts,
    parseMs: median(parse),
    loadMs: median(load),
  };
}
