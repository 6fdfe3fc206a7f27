/**
 * A real DynamoDB implementation for tests (dynalite, in memory): what the release lock's conditional writes are
 * tested against. Close it in an after hook; its server is unref'd so a forgotten one cannot hang the run.
 */
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { RECORD } from '../../infra/release-record-keys.ts';

export interface LocalDynamo {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  /** A fresh table shaped as the construct creates it (partition key `lockId`). */
  createLockTable(name: string): Promise<string>;
  /** A fresh release-records table shaped as infra/constructs/release-records.ts creates it, indexes included. */
  createRecordsTable(name: string): Promise<string>;
  close(): Promise<void>;
}

export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export async function startDynamo(): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  server.unref();
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint, region: 'eu-west-1', credentials: LOCAL_CREDENTIALS });
  return {
    endpoint,
    client,
    async createLockTable(name) {
      await client.send(
        new CreateTableCommand({
          TableName: name,
          AttributeDefinitions: [{ AttributeName: 'lockId', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'lockId', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      return name;
    },
    async createRecordsTable(name) {
      const index = (IndexName: string, partition: string) => ({
        IndexName,
        KeySchema: [
          { AttributeName: partition, KeyType: 'HASH' as const },
          { AttributeName: RECORD.sortKey, KeyType: 'RANGE' as const },
        ],
        Projection: { ProjectionType: 'ALL' as const },
      });
      await client.send(
        new CreateTableCommand({
          TableName: name,
          AttributeDefinitions: ['database', 'recordKey', 'release', 'kind'].map((AttributeName) => ({
            AttributeName,
            AttributeType: 'S' as const,
          })),
          KeySchema: [
            { AttributeName: RECORD.partitionKey, KeyType: 'HASH' },
            { AttributeName: RECORD.sortKey, KeyType: 'RANGE' },
          ],
          GlobalSecondaryIndexes: [index(RECORD.byRelease, 'release'), index(RECORD.newest, 'kind')],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
      return name;
    },
    async close() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
