/**
 * Reading release records (infra/constructs/release-records.ts): the Query behind `lockstep releases`, and what a
 * record item means — the image and its digest, the task-definition revisions before and after, the migrations and
 * whether they were applied, the snapshot and its time, the outcome. The same reading serves AWS (a DynamoDB client)
 * and the rehearsal (rehearsal/stand-ins/records.ts behind the same client interface); the rollback builds on it.
 */
import { type AttributeValue, type DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { InvalidInputError } from '../engine/errors.ts';
import type { RecordedMigrations } from '../functions/migrate/record-migrations.ts';
import { RECORD, type RecordOutcome } from '../infra/release-record-keys.ts';

export type { RecordOutcome };

/** What a release did to the schema, as far as the record can tell. */
export type MigrationsState = 'applied' | 'none applied' | 'partly applied' | 'unknown' | 'not recorded';

export interface ReleaseRecord {
  readonly database: string;
  /** `<start time>#<execution name>`: the record's sort key. */
  readonly recordKey: string;
  readonly release: string;
  readonly image: string;
  /** The digest the image was given by (`…@sha256:…`); an image given by tag alone has none here. */
  readonly imageDigest: string | undefined;
  readonly outcome: RecordOutcome;
  /** How the release was started: an image push (`ecr` input) or a start with an image. */
  readonly trigger: 'image push' | 'start';
  readonly executionArn: string;
  readonly startedAt: string;
  /** When the record was last written: the end, unless the outcome is RUNNING. */
  readonly updatedAt: string;
  /** `undefined` when the release took none. */
  readonly snapshotId: string | undefined;
  /** The time in the snapshot's identifier (lockstep names snapshots `<prefix>-<db>-<YYYYMMDDHHMMSS>-<suffix>`). */
  readonly snapshotTime: string | undefined;
  /**
   * A rollback's restore on AWS (the rollback state machine's record, `flow: rollback`): where the snapshot was
   * restored, and the identifier the original was renamed to and kept as. `undefined` before the restore started,
   * for an image-only rollback, and for a release.
   */
  readonly restoredAs: { readonly restored: string; readonly aside: string } | undefined;
  /** The revision the service ran before (`undefined` when the release did not reach its deploy). */
  readonly taskDefinitionBefore: string | undefined;
  /** The revision it was pointed at (command mode: the one registered, even when deploy was not reached). */
  readonly taskDefinitionAfter: string | undefined;
  /** The migrations the plan found pending (SQL engine), with their checksums; `undefined` in command mode. */
  readonly migrations: RecordedMigrations | undefined;
  readonly migrationsState: MigrationsState;
  /** The step that failed, its error and cause, when the outcome is FAILED. */
  readonly failure: { readonly step: string; readonly error: string; readonly cause: string } | undefined;
  /**
   * Who approved it at the approval gate (the caller's identity ARN), and when; `undefined` without a gate or before
   * the decision. A rejection is the failure: ReleaseRejectedError, its cause naming who and why.
   */
  readonly approvedBy: string | undefined;
  readonly approvedAt: string | undefined;
  /** A rollback's record (its input is functions/shared/rollback-input.ts's): where to, and whether it restored. */
  readonly rollback: { readonly toRecordKey: string; readonly restored: boolean } | undefined;
}

type Item = Record<string, AttributeValue>;

const text = (item: Item, name: string): string => item[name]?.S ?? '';
const json = (item: Item, name: string): unknown => {
  try {
    return JSON.parse(item[name]?.S ?? 'null');
  } catch {
    return null;
  }
};
const object = (value: unknown): Record<string, unknown> =>
  value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
const str = (value: unknown): string | undefined => (typeof value === 'string' && value ? value : undefined);

/** Steps before any migration runs, and after all of them ran. */
export const BEFORE_MIGRATING = new Set([
  'Preflight',
  'Plan',
  'Await approval',
  'Register revision',
  'Create snapshot',
  'Snapshot status',
]);
const AFTER_MIGRATING = new Set(['Start deploy', 'Rollout status']);

/** A record item as the state machine wrote it, read. */
export function parseRecord(item: Item): ReleaseRecord {
  const image = text(item, 'image');
  const outcome = text(item, 'outcome') as RecordOutcome;
  const plan = object(json(item, 'plan'));
  const migrations = recordedMigrations(plan.record);
  const deployment = object(json(item, 'deployment'));
  const revision = object(json(item, 'revision'));
  const failure = item.failedStep?.S
    ? { step: item.failedStep.S, error: text(item, 'error'), cause: text(item, 'cause') }
    : undefined;
  const snapshotId = text(item, 'snapshotId');
  const stamp = /-(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})-[a-z0-9]+$/i.exec(snapshotId);
  const input = object(json(item, 'input'));
  // The gate's decision as SendTaskSuccess gave it (JSON text; absent without a gate).
  const approval = object(json(item, 'approval'));
  return {
    database: text(item, RECORD.partitionKey),
    recordKey: text(item, RECORD.sortKey),
    release: text(item, 'release'),
    image,
    imageDigest: /@(sha256:[0-9a-f]{64})$/.exec(image)?.[1],
    outcome,
    trigger: input.ecr ? 'image push' : 'start',
    executionArn: text(item, 'executionArn'),
    startedAt: text(item, 'startedAt'),
    updatedAt: text(item, 'updatedAt'),
    snapshotId: snapshotId && snapshotId !== 'none' ? snapshotId : undefined,
    snapshotTime: stamp
      ? `${stamp[1]}-${stamp[2]}-${stamp[3]}T${stamp[4]}:${stamp[5]}:${stamp[6]}Z`
      : undefined,
    restoredAs: restoredAs(item),
    taskDefinitionBefore:
      str(deployment.previousTaskDefinitionArn) ?? str(revision.previousTaskDefinitionArn),
    taskDefinitionAfter: str(deployment.taskDefinitionArn) ?? str(revision.taskDefinitionArn),
    migrations,
    migrationsState: migrationsState(outcome, failure?.step, migrations),
    failure,
    approvedBy: str(approval.approvedBy),
    approvedAt: str(approval.approvedAt),
    rollback:
      typeof input.rollback === 'string'
        ? { toRecordKey: str(object(input.to).recordKey) ?? '', restored: Boolean(input.restore) }
        : undefined,
  };
}

/**
 * The record's migrations, in today's shape: a record written before after-deploy migrations existed says
 * `phase: 'pre-deploy'` for all of them and nothing per migration.
 */
function recordedMigrations(value: unknown): RecordedMigrations | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const r = value as Partial<RecordedMigrations> & { phase?: string };
  const migrations = (Array.isArray(r.migrations) ? r.migrations : []).map((m) => ({
    ...m,
    phase: m.phase ?? ('before-deploy' as const),
  }));
  return {
    phase: r.phase === 'after-deploy' || r.phase === 'both' ? r.phase : 'before-deploy',
    count: typeof r.count === 'number' ? r.count : migrations.length,
    afterDeployCount: typeof r.afterDeployCount === 'number' ? r.afterDeployCount : 0,
    truncated: r.truncated === true,
    migrations,
  };
}

/** What the rollback state machine restored and renamed (`restore`, JSON), when it got that far. */
function restoredAs(item: Item): ReleaseRecord['restoredAs'] {
  if (text(item, 'flow') !== 'rollback') return undefined;
  const restore = object(json(item, 'restore'));
  const restored = str(restore.restored);
  const aside = str(restore.aside);
  return restored && aside ? { restored, aside } : undefined;
}

function migrationsState(
  outcome: RecordOutcome,
  failedStep: string | undefined,
  migrations: RecordedMigrations | undefined,
): MigrationsState {
  if (!migrations) return 'not recorded';
  if (migrations.count === 0 || outcome === 'DRY_RUN') return 'none applied';
  if (outcome === 'SUCCEEDED') return 'applied';
  if (outcome === 'RUNNING') return 'unknown';
  if (failedStep && BEFORE_MIGRATING.has(failedStep)) return 'none applied';
  // The deploy failed: the before-deploy migrations ran, the after-deploy ones did not.
  if (failedStep && AFTER_MIGRATING.has(failedStep))
    return migrations.afterDeployCount > 0 ? 'partly applied' : 'applied';
  // Failed at Migrate: in plan order, those before the failing file are applied (the Cause names it).
  return 'partly applied';
}

export interface ListOptions {
  /** Only this database's records (the table's own Query); else every database's (the `newest` index). */
  readonly database?: string | undefined;
  readonly limit: number;
}

/** Records newest first, at most `limit`, following DynamoDB's pages. */
export async function listRecords(
  dynamodb: DynamoDBClient,
  table: string,
  options: ListOptions,
): Promise<ReleaseRecord[]> {
  const [name, value, index] =
    options.database === undefined
      ? ['kind', RECORD.kind, RECORD.newest]
      : [RECORD.partitionKey, options.database, undefined];
  return query(dynamodb, table, { name, value, index }, options.limit);
}

/** The newest record of `release` (a label, or a record key `<start time>#<execution name>`). */
export async function findRecord(
  dynamodb: DynamoDBClient,
  table: string,
  release: string,
): Promise<ReleaseRecord> {
  const [found] = await query(
    dynamodb,
    table,
    { name: 'release', value: release, index: RECORD.byRelease },
    1,
  );
  if (found) return found;
  // A record key: the label part may differ from the execution name (an image push names executions itself).
  const byKey = (await listRecords(dynamodb, table, { limit: 1000 })).find((r) => r.recordKey === release);
  if (byKey) return byKey;
  throw new InvalidInputError(
    'release',
    `no release record for "${release}" in ${table} (lockstep releases lists them; a record written seconds ago may take a moment to appear)`,
  );
}

async function query(
  dynamodb: DynamoDBClient,
  table: string,
  key: { readonly name: string; readonly value: string; readonly index: string | undefined },
  limit: number,
): Promise<ReleaseRecord[]> {
  const records: ReleaseRecord[] = [];
  let start: Item | undefined;
  do {
    const out = await dynamodb.send(
      new QueryCommand({
        TableName: table,
        ...(key.index ? { IndexName: key.index } : {}),
        KeyConditionExpression: '#k = :v',
        ExpressionAttributeNames: { '#k': key.name },
        ExpressionAttributeValues: { ':v': { S: key.value } },
        ScanIndexForward: false,
        Limit: limit - records.length,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    for (const item of out.Items ?? []) records.push(parseRecord(item));
    start = out.LastEvaluatedKey;
  } while (start && records.length < limit);
  return records;
}

/** One line per record: when, label, outcome, image, snapshot. */
export function formatList(records: readonly ReleaseRecord[]): string {
  if (records.length === 0) return 'no release records';
  return records
    .map(
      (r) =>
        `${r.startedAt}  ${r.release.padEnd(24)} ${r.outcome.padEnd(9)} ${r.failure ? `at ${r.failure.step}  ` : ''}${r.image}${r.snapshotId ? `  snapshot ${r.snapshotId}` : ''}`,
    )
    .join('\n');
}

const phases = (m: RecordedMigrations): string =>
  m.afterDeployCount === 0
    ? 'before the deploy'
    : m.afterDeployCount === m.count
      ? 'after the deploy'
      : `(${m.count - m.afterDeployCount} before the deploy, ${m.afterDeployCount} after)`;

/** Everything a record holds, for people. */
export function formatRecord(r: ReleaseRecord): string {
  const m = r.migrations;
  const lines = [
    `release      ${r.release}`,
    `outcome      ${r.outcome}${r.failure ? ` at ${r.failure.step}: ${r.failure.error}` : ''}`,
    `database     ${r.database}`,
    `record key   ${r.recordKey}`,
    `trigger      ${r.trigger}`,
    `image        ${r.image}${r.imageDigest ? '' : ' (no digest: given by tag)'}`,
    `started      ${r.startedAt}`,
    `${r.outcome === 'RUNNING' ? 'updated ' : 'ended   '}     ${r.updatedAt}`,
    `execution    ${r.executionArn}`,
    ...(r.approvedBy ? [`approved     by ${r.approvedBy}${r.approvedAt ? ` at ${r.approvedAt}` : ''}`] : []),
    `snapshot     ${r.snapshotId ? `${r.snapshotId}${r.snapshotTime ? ` (${r.snapshotTime})` : ''}` : 'none taken'}`,
    `revision     before ${r.taskDefinitionBefore ?? '-'}`,
    `             after  ${r.taskDefinitionAfter ?? '-'}`,
    `migrations   ${m ? `${m.count} ${phases(m)} (${r.migrationsState})${m.truncated ? `, ${m.migrations.length} listed: the rest are in the history table` : ''}` : r.migrationsState}`,
    ...(m?.migrations ?? []).map(
      (x) => `  ${x.file}  ${x.checksum}${x.phase === 'after-deploy' ? '  after the deploy' : ''}`,
    ),
    ...(r.restoredAs
      ? [`restored     into ${r.restoredAs.restored}; the original kept as ${r.restoredAs.aside}`]
      : []),
    ...(r.failure ? ['', `cause        ${r.failure.cause}`] : []),
  ];
  return lines.join('\n');
}
