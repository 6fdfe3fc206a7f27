import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AWS_CLIENT_OPTIONS } from '../../../functions/shared/aws-clients.ts';

test('a client with the functions’ options gives up on an endpoint that never answers, instead of hanging', async () => {
  // An endpoint that accepts the connection and then says nothing, as a blackholed route behaves after SYN.
  const sockets = new Set<Socket>();
  const server = createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  const client = new SecretsManagerClient({
    ...AWS_CLIENT_OPTIONS,
    // The functions' connection timeout, and a short response timeout so the test is quick.
    requestHandler: { ...AWS_CLIENT_OPTIONS.requestHandler, requestTimeout: 500 },
    maxAttempts: 1,
    endpoint: `http://127.0.0.1:${port}`,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'y' },
  });
  const started = Date.now();
  try {
    await assert.rejects(client.send(new GetSecretValueCommand({ SecretId: 'db' })));
    assert.ok(Date.now() - started < 5_000, `gave up after ${Date.now() - started} ms`);
    assert.equal(AWS_CLIENT_OPTIONS.requestHandler.connectionTimeout, 3_000);
  } finally {
    client.destroy();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
