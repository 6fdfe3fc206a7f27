/**
 * What transactional grouping would save in the migrate function. The engine groups consecutive transactional
 * migrations into one script (up to 100) only without a deadline; the function always has one (its timeout), so it
 * sends one script per migration. Here the engine applies the same N migrations in process, on an open connection, as
 * the function does (with a deadline an hour away: nothing stops early) and as the CLI does (no deadline: grouped),
 * alternating, a fresh database every run. Once on loopback, once through a proxy that holds every packet `delayMs`
 * each way, for a network between the function and its database.
 */
import { createConnection, createServer, type Socket } from 'node:net';
import pg from 'pg';
import type { MigrationFile } from '../engine/migration.ts';
import { loadMigrations } from '../engine/migration-files.ts';
import { migrate } from '../engine/runner.ts';
import { pgSession } from '../engine/session.ts';
import { dropDatabase, freshDatabase, type Server } from './database-cases.ts';
import type { MigrationSet } from './migrations.ts';
import { countingSession, withPort } from './round-trips.ts';
import { elapsedMs, median } from './stats.ts';

export interface GroupingResult {
  readonly n: number;
  /** One-way delay the proxy added, ms (0: loopback, no proxy). */
  readonly delayMs: number;
  /** Medians, ms. */
  readonly underDeadlineMs: number;
  readonly groupedMs: number;
  readonly underDeadlineScripts: number;
  readonly groupedScripts: number;
}

/** Applies `set` both ways, `runs` times each, alternating, for each one-way delay. */
export async function lambdaGroupingCase(
  server: Server,
  set: MigrationSet,
  delays: readonly number[],
  runs: number,
): Promise<GroupingResult[]> {
  // Split once up front, as the function gets its statements from the manifest: only applying is timed.
  const prepared: MigrationFile[] = [];
  for (const m of await loadMigrations(set.dir)) {
    const analysis = await m.analyze();
    prepared.push({ ...m, analyze: async () => analysis });
  }
  const results: GroupingResult[] = [];
  for (const delayMs of delays) {
    const proxy = delayMs > 0 ? await startDelayProxy(new URL(server.url).port, delayMs) : undefined;
    try {
      const samples = { deadline: [] as number[], grouped: [] as number[] };
      const scripts = { deadline: 0, grouped: 0 };
      for (let r = 0; r < runs; r++) {
        for (const mode of r % 2 === 0
          ? (['deadline', 'grouped'] as const)
          : (['grouped', 'deadline'] as const)) {
          const url = await freshDatabase(server);
          try {
            const target = proxy ? withPort(url, proxy.port) : url;
            const { ms, sent } = await applyOnce(target, prepared, mode === 'deadline');
            samples[mode].push(ms);
            scripts[mode] = sent;
          } finally {
            await dropDatabase(server, url);
          }
        }
      }
      results.push({
        n: set.n,
        delayMs,
        underDeadlineMs: median(samples.deadline),
        groupedMs: median(samples.grouped),
        underDeadlineScripts: scripts.deadline,
        groupedScripts: scripts.grouped,
      });
    } finally {
      await proxy?.close();
    }
  }
  return results;
}

async function applyOnce(
  url: string,
  migrations: readonly MigrationFile[],
  underDeadline: boolean,
): Promise<{ ms: number; sent: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const session = countingSession(pgSession(client));
    const started = process.hrtime.bigint();
    await migrate({ session }, migrations, {
      appliedBy: 'bench',
      ...(underDeadline ? { deadline: Date.now() + 3_600_000 } : {}),
    });
    return { ms: elapsedMs(started), sent: session.scripts };
  } finally {
    await client.end();
  }
}

/** A loopback TCP proxy that forwards every chunk, both ways, `delayMs` late and in order. */
async function startDelayProxy(
  targetPort: string,
  delayMs: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const late = (from: Socket, to: Socket) =>
    from.on('data', (chunk) => {
      setTimeout(() => to.write(chunk), delayMs);
    });
  const server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: Number(targetPort) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    late(client, upstream);
    late(upstream, client);
    client.on('close', () => setTimeout(() => upstream.end(), delayMs));
    upstream.on('close', () => setTimeout(() => client.end(), delayMs));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
