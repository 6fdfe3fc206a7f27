/**
 * `lockstep releases [--local] [--database <id>] [--limit n] [--json]` and `lockstep releases show <release>`: the
 * release records (infra/constructs/release-records.ts), newest first. On AWS from the records table named by
 * `--table` (the stack output ReleaseRecordsTable) or LOCKSTEP_RECORDS_TABLE; with `--local`, what the rehearsals
 * in this directory wrote to `.lockstep/releases/`.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvalidInputError } from '../../engine/errors.ts';
import { localRecordsTable } from '../../rehearsal/stand-ins/records.ts';
import { findRecord, formatList, formatRecord, listRecords } from '../release-records.ts';
import type { RawReleasesOptions } from '../releases-options.ts';
import { type Outcome, outcomeOf, succeeded } from '../report.ts';

export interface ReleasesDeps {
  /** The DynamoDB client for the AWS table; `--local` uses the rehearsal's records instead. */
  readonly dynamodb: () => DynamoDBClient;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

function source(raw: RawReleasesOptions, deps: ReleasesDeps): { client: DynamoDBClient; table: string } {
  if (raw.local) {
    if (raw.table) throw new InvalidInputError('--table', 'cannot be given with --local');
    const local = localRecordsTable(deps.cwd);
    return { client: local.client(), table: local.tableName };
  }
  const table = raw.table ?? deps.env.LOCKSTEP_RECORDS_TABLE;
  if (!table)
    throw new InvalidInputError(
      '--table',
      'name the release-records table (the stack output ReleaseRecordsTable), set LOCKSTEP_RECORDS_TABLE, or use --local',
    );
  return { client: deps.dynamodb(), table };
}

export function list(raw: RawReleasesOptions, deps: ReleasesDeps): Promise<Outcome> {
  return outcomeOf(async () => {
    const limit = Number(raw.limit ?? '20');
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      throw new InvalidInputError('--limit', 'must be a whole number from 1 to 1000');
    const { client, table } = source(raw, deps);
    try {
      const records = await listRecords(client, table, { database: raw.database, limit });
      return succeeded(formatList(records), { table, records });
    } finally {
      client.destroy();
    }
  });
}

export function show(release: string, raw: RawReleasesOptions, deps: ReleasesDeps): Promise<Outcome> {
  return outcomeOf(async () => {
    const { client, table } = source(raw, deps);
    try {
      const record = await findRecord(client, table, release);
      return succeeded(formatRecord(record), { table, record });
    } finally {
      client.destroy();
    }
  });
}

/** The AWS client, from the environment's region and credentials. */
export const awsDynamoDB = () => new DynamoDBClient({});
