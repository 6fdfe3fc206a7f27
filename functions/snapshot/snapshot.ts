/**
 * The snapshot step: take a manual RDS snapshot of the database before migrating it (`create`), report how
 * far it has got (`status`, polled by the state machine until `available`), and delete lockstep's own old
 * snapshots of this database beyond the number to keep (`prune`). Works for an RDS DB instance and for an
 * Aurora (or Multi-AZ) DB cluster alike; the two RDS APIs differ only in their command and field names.
 *
 * A snapshot is lockstep's when it carries the tag `lockstep:managed=true` AND its identifier has the shape
 * this module generates for this prefix and database. Nothing else is ever deleted.
 */
import { createHash } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import {
  CreateDBClusterSnapshotCommand,
  CreateDBSnapshotCommand,
  type DBClusterNotFoundFault,
  type DBClusterSnapshot,
  type DBClusterSnapshotAlreadyExistsFault,
  type DBClusterSnapshotNotFoundFault,
  type DBInstanceNotFoundFault,
  type DBSnapshot,
  type DBSnapshotAlreadyExistsFault,
  type DBSnapshotNotFoundFault,
  DeleteDBClusterSnapshotCommand,
  DeleteDBSnapshotCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  type InvalidDBClusterStateFault,
  type InvalidDBInstanceStateFault,
  paginateDescribeDBClusterSnapshots,
  paginateDescribeDBSnapshots,
  type RDSClient,
  type SnapshotQuotaExceededFault,
  type Tag,
} from '@aws-sdk/client-rds';
import * as z from 'zod/mini';
import {
  ConfigError,
  DatabaseNotReadyError,
  DatabaseStoppedError,
  InvalidInputError,
  SnapshotFailedError,
  SnapshotQuotaExceededError,
  SnapshotTimeoutError,
} from '../shared/errors.ts';
import { parseEvent } from '../shared/events.ts';
import { describeError, invocationKeys, runHandler } from '../shared/handler.ts';
import type { Log } from '../shared/logger.ts';
import { TAG_EXECUTION, TAG_MANAGED, TAG_RELEASE, tagValue } from '../shared/rds-tags.ts';
import { type ReleaseInput, releaseInputSchema } from '../shared/release-input.ts';
import { isPastWaitUntil, waitUntilAfter, waitUntilSchema } from '../shared/wait-until.ts';

// ---------------------------------------------------------------------------------------------------------
// Configuration

export type DbKind = 'instance' | 'cluster';

export interface SnapshotConfig {
  /** Whether `dbIdentifier` names an RDS DB instance or a DB cluster. */
  readonly dbKind: DbKind;
  /** The DB instance or DB cluster identifier. */
  readonly dbIdentifier: string;
  /** Lowercase; starts every snapshot identifier lockstep creates. */
  readonly prefix: string;
  /** How many of lockstep's snapshots of this database `prune` keeps. */
  readonly snapshotsToKeep: number;
  /** How long after `create` the snapshot may take to become available; `status` then fails. */
  readonly snapshotTimeoutSeconds: number;
}

// ---------------------------------------------------------------------------------------------------------
// Event

export type SnapshotAction = 'create' | 'status' | 'prune';

export interface SnapshotEvent {
  readonly action: SnapshotAction;
  /** The state machine execution's ARN. */
  readonly executionId: string;
  readonly release: ReleaseInput;
  /** The snapshot `create` returned; required by `status`. `prune` never deletes it either. */
  readonly snapshotId?: string | undefined;
  /** The deadline `create` returned; `status` past it, with the snapshot not yet available, times out. */
  readonly waitUntil?: string | undefined;
}

/** `arn:<partition>:states:<region>:<account>:execution|express:<state machine>:<execution name>[:<run id>]` */
const EXECUTION_ARN =
  /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:(?:execution|express):[^:]+:([^:]+)(?::[^:]+)?$/;
const SNAPSHOT_ID = /^[A-Za-z][A-Za-z0-9-]{0,254}$/;

const eventSchema = z
  .object({
    action: z.enum(['create', 'status', 'prune']),
    executionId: z.string().check(z.regex(EXECUTION_ARN, 'must be a Step Functions execution ARN')),
    /** The normalized release input (preflight validated the raw one); only its label is used here. */
    release: releaseInputSchema,
    snapshotId: z.optional(z.string().check(z.regex(SNAPSHOT_ID, 'must be an RDS snapshot identifier'))),
    waitUntil: z.optional(waitUntilSchema),
  })
  .check(
    z.refine((e) => e.action !== 'status' || e.snapshotId !== undefined, {
      message: 'is required for status',
      path: ['snapshotId'],
    }),
  );

/** Validates the state machine's event; throws {@link InvalidInputError} naming the first bad field. */
export function parseSnapshotEvent(raw: unknown): SnapshotEvent {
  return parseEvent(eventSchema, raw, 'event');
}

// ---------------------------------------------------------------------------------------------------------
// Identifiers and tags

const MAX_IDENTIFIER_LENGTH = 63;
const TIMESTAMP_LENGTH = 14;
const SUFFIX_LENGTH = 8;

/** The name part of an execution ARN, or undefined when it is not one. */
export function executionName(executionArn: string): string | undefined {
  return EXECUTION_ARN.exec(executionArn)?.[1];
}

/**
 * Up to 8 lowercase letters and digits from the execution name, so each execution's snapshot is
 * recognisable and unique. A name with none (all punctuation) falls back to a hash of the ARN.
 */
export function executionSuffix(executionArn: string): string {
  const name = executionName(executionArn) ?? executionArn;
  const alphanumeric = name
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .slice(0, SUFFIX_LENGTH);
  return alphanumeric || createHash('sha256').update(executionArn).digest('hex').slice(0, SUFFIX_LENGTH);
}

/** Lowercase ASCII letters and digits, every other run of characters one hyphen, none at either end. */
function identifierPart(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * `<prefix>-<database>`: what every identifier for this prefix and database starts with. The database part is
 * shortened so that the timestamp and a full-length execution suffix always fit in 63 characters, and is
 * the same for every execution, so `prune` can recognise its own snapshots exactly.
 */
function identifierStem(prefix: string, dbIdentifier: string): string {
  const head = identifierPart(prefix);
  const room = MAX_IDENTIFIER_LENGTH - head.length - TIMESTAMP_LENGTH - SUFFIX_LENGTH - 3; // three hyphens
  const database = identifierPart(dbIdentifier).slice(0, Math.max(room, 0)).replace(/-+$/, '');
  return database ? `${head}-${database}` : head;
}

/** UTC `yyyymmddhhmmss`. */
function timestamp(at: Date): string {
  return at.toISOString().replace(/\D/g, '').slice(0, TIMESTAMP_LENGTH);
}

/**
 * `<prefix>-<database>-<UTC yyyymmddhhmmss>-<execution suffix>`, valid as an RDS snapshot identifier: starts
 * with a letter, only lowercase ASCII letters, digits and single hyphens, no trailing hyphen, at most 63
 * characters. `prefix` is a validated SNAPSHOT_PREFIX (starts with a letter, at most 30 characters).
 */
export function snapshotIdentifier(parts: {
  readonly prefix: string;
  readonly dbIdentifier: string;
  readonly executionArn: string;
  readonly at: Date;
}): string {
  return `${identifierStem(parts.prefix, parts.dbIdentifier)}-${timestamp(parts.at)}-${executionSuffix(parts.executionArn)}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Whether `snapshotId` has the shape {@link snapshotIdentifier} gives this prefix and database. */
function isOwnIdentifier(config: SnapshotConfig, snapshotId: string): boolean {
  const stem = escapeRegExp(identifierStem(config.prefix, config.dbIdentifier));
  return new RegExp(`^${stem}-\\d{${TIMESTAMP_LENGTH}}-[a-z0-9]{1,${SUFFIX_LENGTH}}$`).test(
    snapshotId.toLowerCase(),
  );
}

export { TAG_EXECUTION, TAG_MANAGED, TAG_RELEASE, tagValue } from '../shared/rds-tags.ts';

function snapshotTags(event: SnapshotEvent): Tag[] {
  return [
    { Key: TAG_MANAGED, Value: 'true' },
    { Key: TAG_RELEASE, Value: tagValue(event.release.release) },
    { Key: TAG_EXECUTION, Value: tagValue(event.executionId) },
  ];
}

// ---------------------------------------------------------------------------------------------------------
// The two RDS APIs behind one shape

/** A DB snapshot or DB cluster snapshot, as far as lockstep cares. */
interface SnapshotRecord {
  readonly id: string;
  readonly arn: string | undefined;
  readonly status: string;
  readonly percentProgress: number;
  readonly createdAt: Date | undefined;
  readonly tags: ReadonlyMap<string, string>;
}

interface SnapshotApi {
  /** How messages name the database. */
  readonly noun: string;
  readonly faults: {
    readonly databaseNotFound: string;
    readonly databaseNotReady: string;
    readonly snapshotExists: string;
    readonly snapshotNotFound: string;
    readonly quotaExceeded: string;
  };
  create(rds: RDSClient, dbIdentifier: string, snapshotId: string, tags: Tag[]): Promise<SnapshotRecord>;
  /** undefined when there is no such snapshot. */
  find(rds: RDSClient, snapshotId: string): Promise<SnapshotRecord | undefined>;
  /** Every manual snapshot of the database, across all pages. */
  listManual(rds: RDSClient, dbIdentifier: string): AsyncGenerator<SnapshotRecord>;
  remove(rds: RDSClient, snapshotId: string): Promise<void>;
  /** The database's status (`available`, `backing-up`, `stopped`…), as RDS describes it. */
  databaseStatus(rds: RDSClient, dbIdentifier: string): Promise<string | undefined>;
}

function tagMap(tags: Tag[] | undefined): ReadonlyMap<string, string> {
  return new Map((tags ?? []).flatMap((t) => (t.Key === undefined ? [] : [[t.Key, t.Value ?? ''] as const])));
}

function fromDbSnapshot(s: DBSnapshot | undefined, fallbackId: string): SnapshotRecord {
  return {
    id: s?.DBSnapshotIdentifier ?? fallbackId,
    arn: s?.DBSnapshotArn,
    status: s?.Status ?? 'unknown',
    percentProgress: s?.PercentProgress ?? 0,
    createdAt: s?.SnapshotCreateTime,
    tags: tagMap(s?.TagList),
  };
}

function fromDbClusterSnapshot(s: DBClusterSnapshot | undefined, fallbackId: string): SnapshotRecord {
  return {
    id: s?.DBClusterSnapshotIdentifier ?? fallbackId,
    arn: s?.DBClusterSnapshotArn,
    status: s?.Status ?? 'unknown',
    percentProgress: s?.PercentProgress ?? 0,
    createdAt: s?.SnapshotCreateTime,
    tags: tagMap(s?.TagList),
  };
}

// Fault names as the SDK declares them (typed against its classes, so a rename fails the build).
const DB_INSTANCE_NOT_FOUND: DBInstanceNotFoundFault['name'] = 'DBInstanceNotFoundFault';
const DB_CLUSTER_NOT_FOUND: DBClusterNotFoundFault['name'] = 'DBClusterNotFoundFault';
const INVALID_DB_INSTANCE_STATE: InvalidDBInstanceStateFault['name'] = 'InvalidDBInstanceStateFault';
const INVALID_DB_CLUSTER_STATE: InvalidDBClusterStateFault['name'] = 'InvalidDBClusterStateFault';
const DB_SNAPSHOT_EXISTS: DBSnapshotAlreadyExistsFault['name'] = 'DBSnapshotAlreadyExistsFault';
const DB_CLUSTER_SNAPSHOT_EXISTS: DBClusterSnapshotAlreadyExistsFault['name'] =
  'DBClusterSnapshotAlreadyExistsFault';
const DB_SNAPSHOT_NOT_FOUND: DBSnapshotNotFoundFault['name'] = 'DBSnapshotNotFoundFault';
const DB_CLUSTER_SNAPSHOT_NOT_FOUND: DBClusterSnapshotNotFoundFault['name'] =
  'DBClusterSnapshotNotFoundFault';
// Both CreateDBSnapshot and CreateDBClusterSnapshot raise this one; there is no cluster-specific quota fault.
const SNAPSHOT_QUOTA_EXCEEDED: SnapshotQuotaExceededFault['name'] = 'SnapshotQuotaExceededFault';

function errorName(err: unknown): string | undefined {
  return err instanceof Error ? err.name : undefined;
}

const instanceApi: SnapshotApi = {
  noun: 'DB instance',
  faults: {
    databaseNotFound: DB_INSTANCE_NOT_FOUND,
    databaseNotReady: INVALID_DB_INSTANCE_STATE,
    snapshotExists: DB_SNAPSHOT_EXISTS,
    snapshotNotFound: DB_SNAPSHOT_NOT_FOUND,
    quotaExceeded: SNAPSHOT_QUOTA_EXCEEDED,
  },
  async create(rds, dbIdentifier, snapshotId, tags) {
    const out = await rds.send(
      new CreateDBSnapshotCommand({
        DBInstanceIdentifier: dbIdentifier,
        DBSnapshotIdentifier: snapshotId,
        Tags: tags,
      }),
    );
    return fromDbSnapshot(out.DBSnapshot, snapshotId);
  },
  async find(rds, snapshotId) {
    try {
      const out = await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: snapshotId }));
      const found = out.DBSnapshots?.[0];
      return found && fromDbSnapshot(found, snapshotId);
    } catch (err) {
      if (errorName(err) === DB_SNAPSHOT_NOT_FOUND) return undefined;
      throw err;
    }
  },
  async *listManual(rds, dbIdentifier) {
    const pages = paginateDescribeDBSnapshots(
      { client: rds },
      { DBInstanceIdentifier: dbIdentifier, SnapshotType: 'manual' },
    );
    for await (const page of pages) {
      for (const s of page.DBSnapshots ?? []) {
        if (s.DBSnapshotIdentifier) yield fromDbSnapshot(s, s.DBSnapshotIdentifier);
      }
    }
  },
  async remove(rds, snapshotId) {
    await rds.send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: snapshotId }));
  },
  async databaseStatus(rds, dbIdentifier) {
    const out = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: dbIdentifier }));
    return out.DBInstances?.[0]?.DBInstanceStatus;
  },
};

const clusterApi: SnapshotApi = {
  noun: 'DB cluster',
  faults: {
    databaseNotFound: DB_CLUSTER_NOT_FOUND,
    databaseNotReady: INVALID_DB_CLUSTER_STATE,
    snapshotExists: DB_CLUSTER_SNAPSHOT_EXISTS,
    snapshotNotFound: DB_CLUSTER_SNAPSHOT_NOT_FOUND,
    quotaExceeded: SNAPSHOT_QUOTA_EXCEEDED,
  },
  async create(rds, dbIdentifier, snapshotId, tags) {
    const out = await rds.send(
      new CreateDBClusterSnapshotCommand({
        DBClusterIdentifier: dbIdentifier,
        DBClusterSnapshotIdentifier: snapshotId,
        Tags: tags,
      }),
    );
    return fromDbClusterSnapshot(out.DBClusterSnapshot, snapshotId);
  },
  async find(rds, snapshotId) {
    try {
      const out = await rds.send(
        new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: snapshotId }),
      );
      const found = out.DBClusterSnapshots?.[0];
      return found && fromDbClusterSnapshot(found, snapshotId);
    } catch (err) {
      if (errorName(err) === DB_CLUSTER_SNAPSHOT_NOT_FOUND) return undefined;
      throw err;
    }
  },
  async *listManual(rds, dbIdentifier) {
    const pages = paginateDescribeDBClusterSnapshots(
      { client: rds },
      { DBClusterIdentifier: dbIdentifier, SnapshotType: 'manual' },
    );
    for await (const page of pages) {
      for (const s of page.DBClusterSnapshots ?? []) {
        if (s.DBClusterSnapshotIdentifier) yield fromDbClusterSnapshot(s, s.DBClusterSnapshotIdentifier);
      }
    }
  },
  async remove(rds, snapshotId) {
    await rds.send(new DeleteDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: snapshotId }));
  },
  async databaseStatus(rds, dbIdentifier) {
    const out = await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: dbIdentifier }));
    return out.DBClusters?.[0]?.Status;
  },
};

const apis: Readonly<Record<DbKind, SnapshotApi>> = { instance: instanceApi, cluster: clusterApi };

// ---------------------------------------------------------------------------------------------------------
// The actions

export interface SnapshotDeps {
  readonly rds: RDSClient;
  readonly log: Log;
  readonly now: () => Date;
  readonly config: SnapshotConfig;
}

export interface CreatedSnapshot {
  readonly snapshotId: string;
  readonly snapshotArn: string | undefined;
  readonly status: string;
  /** ISO 8601: now plus SNAPSHOT_TIMEOUT_SECONDS. Pass it back to `status`, which times out after it. */
  readonly waitUntil: string;
}

export interface SnapshotStatus {
  readonly snapshotId: string;
  readonly status: string;
  readonly percentProgress: number;
  /** True once the snapshot can be restored from: the migration may start. */
  readonly available: boolean;
}

export interface PruneResult {
  /** The newest of lockstep's available snapshots of this database, and this execution's own. */
  readonly kept: string[];
  readonly deleted: string[];
  /** Deletes RDS refused; the others went ahead. */
  readonly failed: { readonly snapshotId: string; readonly reason: string }[];
}

export type SnapshotResult = CreatedSnapshot | SnapshotStatus | PruneResult;

/** Runs the event's action. */
export function runSnapshotAction(deps: SnapshotDeps, event: SnapshotEvent): Promise<SnapshotResult> {
  switch (event.action) {
    case 'create':
      return createSnapshot(deps, event);
    case 'status':
      // parseSnapshotEvent requires it; checked again for callers that build the event themselves.
      if (event.snapshotId === undefined)
        throw new InvalidInputError('snapshotId', 'is required for action "status"');
      return snapshotStatus(deps, event.snapshotId, event.waitUntil);
    case 'prune':
      return pruneSnapshots(deps, event);
  }
}

/**
 * Statuses a snapshot never leaves for `available`: those the SDK's own "snapshot available" waiters treat
 * as failure (deleted, deleting, failed, incompatible-restore, incompatible-parameters), and any other
 * `incompatible-*`.
 */
export function isFailedStatus(status: string): boolean {
  return ['failed', 'deleted', 'deleting'].includes(status) || status.startsWith('incompatible-');
}

function isManaged(s: SnapshotRecord): boolean {
  return s.tags.get(TAG_MANAGED) === 'true';
}

function belongsTo(s: SnapshotRecord, executionArn: string): boolean {
  return s.tags.get(TAG_EXECUTION) === tagValue(executionArn);
}

/** This execution's snapshot from an earlier attempt of `create`, unless that one failed. */
async function findExecutionSnapshot(
  deps: SnapshotDeps,
  executionArn: string,
): Promise<SnapshotRecord | undefined> {
  const { rds, config } = deps;
  for await (const s of apis[config.dbKind].listManual(rds, config.dbIdentifier)) {
    if (
      isManaged(s) &&
      belongsTo(s, executionArn) &&
      isOwnIdentifier(config, s.id) &&
      !isFailedStatus(s.status)
    )
      return s;
  }
  return undefined;
}

/** The snapshot as `create` returns it, with the deadline for `status`: now plus the configured timeout. */
function created(deps: SnapshotDeps, s: SnapshotRecord): CreatedSnapshot {
  return {
    snapshotId: s.id,
    snapshotArn: s.arn,
    status: s.status,
    waitUntil: waitUntilAfter(deps.now(), deps.config.snapshotTimeoutSeconds),
  };
}

/**
 * Starts a manual snapshot of the database, tagged as lockstep's. Idempotent per execution: a retried
 * attempt (a new clock reading, so a new identifier) returns the snapshot an earlier attempt started, and
 * a create whose identifier already exists returns that snapshot when it is this execution's. Every path
 * returns `waitUntil`, counted from this attempt.
 */
export async function createSnapshot(deps: SnapshotDeps, event: SnapshotEvent): Promise<CreatedSnapshot> {
  const { rds, log, config } = deps;
  const api = apis[config.dbKind];

  const earlier = await findExecutionSnapshot(deps, event.executionId);
  if (earlier) {
    log.info('this execution already started a snapshot; using it', {
      snapshotId: earlier.id,
      status: earlier.status,
    });
    return created(deps, earlier);
  }

  const snapshotId = snapshotIdentifier({
    prefix: config.prefix,
    dbIdentifier: config.dbIdentifier,
    executionArn: event.executionId,
    at: deps.now(),
  });
  log.info('creating snapshot', { snapshotId, dbKind: config.dbKind, dbIdentifier: config.dbIdentifier });
  try {
    const snapshot = await api.create(rds, config.dbIdentifier, snapshotId, snapshotTags(event));
    log.info('snapshot started', { snapshotId: snapshot.id, status: snapshot.status });
    return created(deps, snapshot);
  } catch (err) {
    if (errorName(err) === api.faults.databaseNotReady) throw await notReadyFailure(deps, err);
    if (errorName(err) !== api.faults.snapshotExists) throw createFailure(err, api, config, snapshotId);
    const existing = await api.find(rds, snapshotId);
    if (!existing) throw err;
    if (!belongsTo(existing, event.executionId)) {
      log.error('snapshot identifier is taken by a snapshot this execution did not create', {
        snapshotId,
        owner: existing.tags.get(TAG_EXECUTION) ?? 'untagged',
      });
      throw new SnapshotFailedError(snapshotId, 'identifier-in-use');
    }
    log.info('snapshot already exists for this execution; using it', {
      snapshotId,
      status: existing.status,
    });
    return created(deps, existing);
  }
}

/** Statuses RDS does not leave by itself: retrying a snapshot for hours would not help. */
const STOPPED_STATUSES = ['stopped', 'stopping', 'inaccessible-encryption-credentials'];

/**
 * The database refused a snapshot because of its state. A stopped database is {@link DatabaseStoppedError} (the
 * release fails at once); any other state (backing up, modifying…) is {@link DatabaseNotReadyError}, retried.
 */
async function notReadyFailure(deps: SnapshotDeps, err: unknown): Promise<Error> {
  const { rds, config, log } = deps;
  const api = apis[config.dbKind];
  const database = `${api.noun} "${config.dbIdentifier}"`;
  let status: string | undefined;
  try {
    status = await api.databaseStatus(rds, config.dbIdentifier);
  } catch (describeErr) {
    log.warn('could not read the database status; treating it as busy', {
      error: describeError(describeErr),
    });
  }
  if (status && STOPPED_STATUSES.includes(status)) return new DatabaseStoppedError(database, status);
  return new DatabaseNotReadyError(
    `cannot snapshot ${database} now: it is not in the available state (${status ?? 'status unknown'})`,
    { cause: err },
  );
}

/** Maps a failed create to the error the state machine acts on; anything unexpected passes through. */
function createFailure(err: unknown, api: SnapshotApi, config: SnapshotConfig, snapshotId: string): unknown {
  const name = errorName(err);
  const database = `${api.noun} "${config.dbIdentifier}"`;
  if (name === api.faults.quotaExceeded)
    return new SnapshotQuotaExceededError(
      `cannot create snapshot ${snapshotId} of ${database}: the account's manual snapshot quota for this region is used up`,
      { cause: err },
    );
  if (name === api.faults.databaseNotFound)
    return new ConfigError(
      'DB_IDENTIFIER',
      `no ${database} in this account and region (is DB_KIND "${config.dbKind}" right?)`,
    );
  return err;
}

/**
 * Where the snapshot has got. A snapshot that can never become available is a {@link SnapshotFailedError};
 * one still not available after `waitUntil` (what `create` returned) is a {@link SnapshotTimeoutError}.
 * An available snapshot is reported available however late the check.
 */
export async function snapshotStatus(
  deps: SnapshotDeps,
  snapshotId: string,
  waitUntil?: string,
): Promise<SnapshotStatus> {
  const { rds, log, config } = deps;
  const snapshot = await apis[config.dbKind].find(rds, snapshotId);
  if (!snapshot) throw new SnapshotFailedError(snapshotId, 'not-found');
  log.info('snapshot status', {
    snapshotId,
    status: snapshot.status,
    percentProgress: snapshot.percentProgress,
  });
  if (isFailedStatus(snapshot.status)) throw new SnapshotFailedError(snapshotId, snapshot.status);
  const available = snapshot.status === 'available';
  if (!available && isPastWaitUntil(waitUntil, deps.now())) {
    log.warn('snapshot not available in time; it is left in place', {
      snapshotId,
      status: snapshot.status,
      percentProgress: snapshot.percentProgress,
      waitUntil,
    });
    throw new SnapshotTimeoutError(snapshotId, snapshot.status, waitUntil);
  }
  return {
    snapshotId: snapshot.id,
    status: snapshot.status,
    percentProgress: snapshot.percentProgress,
    available,
  };
}

/**
 * Keeps the newest `snapshotsToKeep` of lockstep's available manual snapshots of this database and deletes
 * the older ones. Never touches a snapshot without `lockstep:managed=true` or with another prefix or
 * database in its identifier, one not yet (or no longer) available, or this execution's own. A delete RDS
 * refuses is logged and reported in `failed`; the others still go ahead.
 */
export async function pruneSnapshots(deps: SnapshotDeps, event: SnapshotEvent): Promise<PruneResult> {
  const { rds, log, config } = deps;
  const api = apis[config.dbKind];

  const ours: SnapshotRecord[] = [];
  for await (const s of api.listManual(rds, config.dbIdentifier)) {
    if (isManaged(s) && isOwnIdentifier(config, s.id)) ours.push(s);
  }
  const isCurrent = (s: SnapshotRecord) => belongsTo(s, event.executionId) || s.id === event.snapshotId;
  const newestFirst = ours
    .filter((s) => s.status === 'available')
    .sort(
      (a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0) || b.id.localeCompare(a.id),
    );
  const kept = newestFirst.slice(0, config.snapshotsToKeep);
  const old = newestFirst.slice(config.snapshotsToKeep);
  kept.push(...old.filter(isCurrent));
  const candidates = old.filter((s) => !isCurrent(s));

  const deleted: string[] = [];
  const failed: { snapshotId: string; reason: string }[] = [];
  for (const s of candidates) {
    try {
      await api.remove(rds, s.id);
      deleted.push(s.id);
      log.info('deleted old snapshot', { snapshotId: s.id });
    } catch (err) {
      const error = describeError(err);
      failed.push({ snapshotId: s.id, reason: `${error.name}: ${error.message}` });
      log.warn('could not delete old snapshot', { snapshotId: s.id, error });
    }
  }
  log.info('pruned snapshots', {
    kept: kept.length,
    deleted: deleted.length,
    failed: failed.length,
    notAvailable: ours.length - newestFirst.length,
  });
  return { kept: kept.map((s) => s.id), deleted, failed };
}

/** The Lambda handler over these deps: ./handler.ts wires the AWS ones, the local rehearsal its stand-ins. */
export function createSnapshotHandler(deps: SnapshotDeps, logger: Logger) {
  return async (event: unknown): Promise<SnapshotResult> => {
    const { executionId, release, action } = invocationKeys(event);
    return runHandler(logger, { executionId, release, step: `snapshot:${action ?? '?'}` }, async () =>
      runSnapshotAction(deps, parseSnapshotEvent(event)),
    );
  };
}
