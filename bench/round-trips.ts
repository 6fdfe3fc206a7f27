/**
 * Counting round trips to PostgreSQL, two ways:
 *
 *   on the wire      a loopback TCP proxy in front of the server reads what clients send and counts, per
 *                    connection, the messages that make the client wait for an answer after it has connected:
 *                    Query (simple protocol) and Sync (the end of an extended-protocol exchange). Start-up and
 *                    authentication (StartupMessage, SSLRequest, PasswordMessage/SASL) are connecting, and
 *                    Terminate waits for nothing; none of those count. Works for any client, any language.
 *   in process       a SqlSession that counts the scripts the engine sends through it.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { SqlSession } from '../engine/session.ts';

export interface WireCounts {
  /** Client connections opened. */
  readonly connections: number;
  /** Query + Sync messages sent after start-up, summed over connections. */
  readonly roundTrips: number;
  /** Every frontend message type seen after start-up, by its type byte. */
  readonly messages: Readonly<Record<string, number>>;
}

export interface CountingProxy {
  /** Connect here instead of the server. */
  readonly port: number;
  /** What was counted since the last reset. */
  counts(): WireCounts;
  reset(): void;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;

/** Starts a proxy on 127.0.0.1 that forwards every connection to `target` and counts what clients send. */
export function startCountingProxy(target: { host: string; port: number }): Promise<CountingProxy> {
  let connections = 0;
  let messages: Record<string, number> = {};
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    connections++;
    const upstream = createConnection(target);
    sockets.add(client);
    sockets.add(upstream);
    let startup = true;
    let pending = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        if (startup) {
          // Untyped: Int32 length (itself included), Int32 code, body.
          if (pending.length < 8) break;
          const length = pending.readInt32BE(0);
          if (pending.length < length) break;
          const code = pending.readInt32BE(4);
          pending = pending.subarray(length);
          // After an SSL or GSS request a start-up message follows; anything else starts the typed protocol.
          if (code !== SSL_REQUEST && code !== GSSENC_REQUEST && code !== CANCEL_REQUEST) startup = false;
          continue;
        }
        // Typed: Byte1 type, Int32 length (itself included, the type byte not).
        if (pending.length < 5) break;
        const length = pending.readInt32BE(1);
        if (pending.length < length + 1) break;
        const type = String.fromCharCode(pending[0] as number);
        messages[type] = (messages[type] ?? 0) + 1;
        pending = pending.subarray(length + 1);
      }
    });
    upstream.on('data', (chunk) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on('close', end);
      s.on('error', end);
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (!address || typeof address !== 'object') return reject(new Error('proxy has no port'));
      resolve({
        port: address.port,
        counts: () => ({
          connections,
          roundTrips: (messages.Q ?? 0) + (messages.S ?? 0),
          messages: { ...messages },
        }),
        reset() {
          connections = 0;
          messages = {};
        },
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** The same URL, another port (for sending a client through the proxy). */
export function withPort(url: string, port: number): string {
  const u = new URL(url);
  u.port = String(port);
  return u.toString();
}

/** Wraps a session so every script the engine sends is counted. */
export function countingSession(inner: SqlSession): SqlSession & { readonly scripts: number } {
  let scripts = 0;
  return {
    get scripts() {
      return scripts;
    },
    script(sql, onResult) {
      scripts++;
      return inner.script(sql, onResult);
    },
  };
}
