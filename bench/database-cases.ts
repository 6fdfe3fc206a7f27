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
import { splitStatements } from '../engine/sql-text.ts';
import type { MigrationSet } from './migrations.ts';
import { type CountingProxy, countingSession, type WireCounts, withPort } from './round-trips.ts';
import { type Command, elapsedMs, median, run, timed } from './stats.ts';
import type { Tool } from './tools.ts';

export interface Server {
  readonly url: string;
  readonly admin: pg.Client;
}

/** A new, empty database on the server; its URL. */
export async function freshDatabase(server: Server): Promise<string> {
  const name = `b_${randomBytes(5).toString('hex')}`;
  await server.admin.query(`CREATE DATABASE ${name}`);
  return databaseUrl(server.url, name);
}

export interface Samples {
  readonly name: string;
  readonly ms: readonly number[];
}

/** Rotates the order each run, so no tool always goes first (or right after another's heavy run). */
const rotated = <T>(xs: readonly T[], r: number) => xs.map((_, i) => xs[(i + r) % xs.length] as T);

/**
 * Each tool applies the set to a fresh database, `runs` times, alternating. Returns the timings and, per tool,
 * a database it left fully migrated (for the no-op case).
 */
export async function applyCase(
  server: Server,
  set: MigrationSet,
  tools: readonly Tool[],
  runs: number,
): Promise<{ samples: Samples[]; applied: Map<string, string> }> {
  const ms = new Map<string, number[]>(tools.map((t) => [t.name, []]));
  const applied = new Map<string, string>();
  for (let r = 0; r < runs; r++) {
    for (const tool of rotated(tools, r)) {
      const url = await freshDatabase(server);
      ms.get(tool.name)?.push(timed(tool.command(set, url)));
      applied.set(tool.name, url);
    }
  }
  return { samples: tools.map((t) => ({ name: t.name, ms: ms.get(t.name) ?? [] })), applied };
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
      continue;
    }
    proxy.reset();
    await run(tool.command(set, url));
    out.push({ tool: tool.name, apply, noop: proxy.counts() });
  }
  return out;
}

export interface InProcess {
  /** engine `migrate()` on an open connection with everything applied, median ms. */
  readonly noopMs: number;
  /** Scripts (round trips) the engine sent per no-op run, counted through the session. */
  readonly noopScripts: number;
  /** engine `migrate()` applying the whole set to a fresh database on an open connection, median ms. */
  readonly applyMs: number;
  /** Scripts the engine sent for one whole apply. */
  readonly applyScripts: number;
  /** Splitting (parsing) every file with libpg-query, as the engine does before applying, median ms. */
  readonly parseMs: number;
  /**
   * The floor for one round trip per migration: node-postgres sending `BEGIN; <file>; COMMIT` per file on an
   * open connection to a fresh database, no history, no parsing, no lock; median ms.
   */
  readonly floorMs: number;
}

/** What the engine itself costs, without process start-up: apply, no-op, and the parse step alone. */
export async function inProcessCase(server: Server, set: MigrationSet, runs: number): Promise<InProcess> {
  const migrations = await loadMigrations(set.dir);
  const options = { appliedBy: 'bench' };
  const withClient = async <T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  };

  // The first parses in this process load the WebAssembly parser and run it unoptimised: keep them out.
  for (const m of migrations) await splitStatements(m.sql);
  const parse: number[] = [];
  const apply: number[] = [];
  const floor: number[] = [];
  let applyScripts = 0;
  let appliedUrl = '';
  const engineApply = async () => {
    appliedUrl = await freshDatabase(server);
    await withClient(appliedUrl, async (client) => {
      const session = countingSession(pgSession(client));
      const started = process.hrtime.bigint();
      await migrate({ session }, migrations, options);
      apply.push(elapsedMs(started));
      applyScripts = session.scripts;
    });
  };
  const floorApply = async () =>
    withClient(await freshDatabase(server), async (client) => {
      const started = process.hrtime.bigint();
      for (const m of migrations) await client.query(`BEGIN;\n${m.sql}\n;\nCOMMIT`);
      floor.push(elapsedMs(started));
    });
  for (let r = 0; r < runs; r++) {
    const started = process.hrtime.bigint();
    for (const m of migrations) await splitStatements(m.sql);
    parse.push(elapsedMs(started));
    for (const work of r % 2 ? [floorApply, engineApply] : [engineApply, floorApply]) await work();
  }

  return withClient(appliedUrl, async (client) => {
    const noop: number[] = [];
    let noopScripts = 0;
    for (let r = 0; r < runs * 4; r++) {
      const session = countingSession(pgSession(client));
      const started = process.hrtime.bigint();
      await migrate({ session }, migrations, options);
      noop.push(elapsedMs(started));
      noopScripts = session.scripts;
    }
    return {
      noopMs: median(noop),
      noopScripts,
      applyMs: median(apply),
      applyScripts,
      parseMs: median(parse),
      floorMs: median(floor),
    };
  });
}
