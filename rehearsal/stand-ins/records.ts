/**
 * DynamoDB for the rehearsal's release records: the table the state machine's `Record release (…)` states write
 * (infra/constructs/release-records.ts), kept as one JSON file per item under `.lockstep/releases/`, so records
 * outlive the rehearsal process, as they outlive executions on AWS. Files rather than the embedded database: a
 * `restore --local` puts the database back as a snapshot had it, and must not take the records written since with
 * it (the rollback needs exactly those); and `lockstep releases --local` reads them without starting PostgreSQL.
 * PutItem (unconditional, as the state machine writes) and the Query `lockstep releases` sends: one equality on a
 * partition key (the table's or an index's), newest first or oldest first, Limit and ExclusiveStartKey.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type AttributeValue,
  DynamoDBClient,
  PutItemCommand,
  type PutItemCommandInput,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { RECORD } from '../../infra/release-record-keys.ts';
import { LOCAL_CLIENT_CONFIG, notImplemented } from './account.ts';

type Item = Record<string, AttributeValue>;

/** The records table's name as the synthesized definition's placeholder has it (rehearsal/definition.ts). */
export const LOCAL_RECORDS_TABLE = 'ReleaseRecords';

/** The rehearsal's release records: `.lockstep/releases/` under `cwd`. */
export function localRecordsTable(cwd: string, tableName = LOCAL_RECORDS_TABLE): LocalRecordsTable {
  return new LocalRecordsTable(tableName, join(cwd, '.lockstep', 'releases'));
}

/** The partition key of the table and of each index; every one sorts by `recordKey`. */
const PARTITIONS: Readonly<Record<string, string>> = {
  '': RECORD.partitionKey,
  [RECORD.byRelease]: 'release',
  [RECORD.newest]: 'kind',
};
const SORT_KEY = RECORD.sortKey;

export class LocalRecordsTable {
  constructor(
    readonly tableName: string,
    /** The directory of the item files (created on the first write). */
    readonly dir: string,
  ) {}

  putItem(input: PutItemCommandInput): Record<string, never> {
    this.checkTable(input.TableName);
    const item = input.Item ?? {};
    const partition = item.database?.S;
    const sort = item[SORT_KEY]?.S;
    if (!partition || !sort) throw new Error('a record needs string database and recordKey attributes');
    mkdirSync(this.dir, { recursive: true });
    const file = join(this.dir, fileName(partition, sort));
    // Written aside and renamed: a reader never sees half an item.
    writeFileSync(`${file}.tmp`, JSON.stringify(item));
    renameSync(`${file}.tmp`, file);
    return {};
  }

  query(input: QueryCommandInput): Omit<QueryCommandOutput, '$metadata'> {
    this.checkTable(input.TableName);
    const partition = PARTITIONS[input.IndexName ?? ''];
    if (partition === undefined) throw new Error(`no index ${input.IndexName} on the local records table`);
    const match = /^\s*(\S+)\s*=\s*(:\S+)\s*$/.exec(input.KeyConditionExpression ?? '');
    if (!match)
      throw new Error(
        `the local records table answers "<key> = :value" only, not ${input.KeyConditionExpression}`,
      );
    const [, nameToken = '', valueToken = ''] = match;
    const name = input.ExpressionAttributeNames?.[nameToken] ?? nameToken;
    if (name !== partition) throw new Error(`the key condition must name ${partition}, not ${name}`);
    const value = input.ExpressionAttributeValues?.[valueToken]?.S;
    const forward = input.ScanIndexForward !== false;
    let items = this.items()
      .filter((item) => item[partition]?.S === value)
      .sort((a, b) => compare(a, b) * (forward ? 1 : -1));
    const after = input.ExclusiveStartKey?.[SORT_KEY]?.S;
    if (after !== undefined)
      items = items.filter((item) => (forward ? sortKey(item) > after : sortKey(item) < after));
    const limit = input.Limit ?? items.length;
    const page = items.slice(0, limit);
    const last = page.at(-1);
    return {
      Items: page,
      Count: page.length,
      ...(items.length > limit && last
        ? {
            LastEvaluatedKey: {
              database: last.database as AttributeValue,
              [SORT_KEY]: last[SORT_KEY] as AttributeValue,
            },
          }
        : {}),
    };
  }

  client(): DynamoDBClient {
    return new LocalRecordsClient(this);
  }

  private items(): Item[] {
    let files: string[];
    try {
      files = readdirSync(this.dir).filter((f) => f.endsWith('.json'));
    } catch {
      return [];
    }
    return files.map((f) => JSON.parse(readFileSync(join(this.dir, f), 'utf8')) as Item);
  }

  private checkTable(table: string | undefined): void {
    if (table !== this.tableName)
      throw new ResourceNotFoundException({
        message: `Requested resource not found: ${table}`,
        $metadata: {},
      });
  }
}

const sortKey = (item: Item) => item[SORT_KEY]?.S ?? '';
const compare = (a: Item, b: Item) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0);

/** A file name per key: what any file system accepts, one per key (base64url of the key). */
function fileName(partition: string, sort: string): string {
  return `${Buffer.from(`${partition}\0${sort}`).toString('base64url')}.json`;
}

class LocalRecordsClient extends DynamoDBClient {
  constructor(private readonly table: LocalRecordsTable) {
    super(LOCAL_CLIENT_CONFIG);
  }

  override send = (async (command: unknown) => {
    const meta = { $metadata: {} };
    if (command instanceof PutItemCommand) return { ...this.table.putItem(command.input), ...meta };
    if (command instanceof QueryCommand) return { ...this.table.query(command.input), ...meta };
    throw notImplemented('DynamoDB', command);
  }) as DynamoDBClient['send'];
}
