/**
 * The rollback's database work (issue 16), one action per state of the rollback state machine
 * (infra/constructs/rollback-definition.ts):
 *
 *   restore          restore the snapshot into a NEW instance or cluster, `<database>-restored-<time>`, configured as
 *                    the original is; the original keeps serving the app meanwhile
 *   restoreStatus    until it is available; a restored cluster's members are created here, once the cluster is
 *   renameOriginal   the switch, first half: the original becomes `<database>-before-<time>` (kept, never deleted)
 *   renameRestored   second half: the restored one takes `<database>`, so the endpoint and the secret stay valid
 *   renameStatus     until a rename is visible: the new identifier held by the right resource, and available
 *
 * Every action is safe to run again after a partial success: the restore adopts the database an earlier attempt of
 * this execution started (tagged with its ARN), and each rename first asks which resource holds which identifier
 * (by resource id, which a rename does not change) and does only what is left. Nothing here deletes anything.
 *
 * RDS rename semantics the waits follow (RDS User Guide, "Renaming a DB instance"): "When you rename a DB instance,
 * the old DNS name that was used by the DB instance is immediately deleted … The new DNS name for the renamed DB
 * instance becomes effective in about 10 minutes. The renamed DB instance is not available until the new name
 * becomes effective", and "You cannot use an existing DB instance name when renaming an instance". ModifyDBInstance,
 * NewDBInstanceIdentifier: "an instance reboot occurs immediately if you enable ApplyImmediately, or will occur
 * during the next maintenance window if you disable ApplyImmediately" — so every rename applies immediately, and
 * the next rename waits until the first one's new identifier answers `available`. A Multi-AZ DB cluster's "new DNS
 * name … becomes effective in about two minutes" ("Renaming a Multi-AZ DB cluster").
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { RDSClient, Tag } from '@aws-sdk/client-rds';
import * as z from 'zod/mini';
import {
  DatabaseNotReadyError,
  RenameTimeoutError,
  RestoreFailedError,
  RestoreTimeoutError,
  RollbackRefusedError,
  SwitchConflictError,
} from '../shared/errors.ts';
import { parseEvent } from '../shared/events.ts';
import { invocationKeys, runHandler } from '../shared/handler.ts';
import type { Log } from '../shared/logger.ts';
import { TAG_EXECUTION, TAG_RESTORED_FROM, TAG_ROLLBACK, tagValue } from '../shared/rds-tags.ts';
import { isPastWaitUntil, waitUntilAfter, waitUntilSchema } from '../shared/wait-until.ts';
import type { DbKind, RestoreConfig } from './config.ts';
import { memberName, renameCommand, rollbackNames } from './names.ts';
import {
  clusterMembers,
  createMember,
  DATABASE_APIS,
  type DatabaseApi,
  describeInstance,
  errorName,
  type Found,
} from './rds-databases.ts';

export interface RestoreDeps {
  readonly rds: RDSClient;
  readonly log: Log;
  readonly now: () => Date;
  readonly config: RestoreConfig;
}

/** What `restore` returns and every later action is given back: the state machine keeps it at `$.restore`. */
export interface RestoreState {
  readonly kind: DbKind;
  /** The identifier the app uses. */
  readonly database: string;
  /** Where the snapshot was restored. */
  readonly restored: string;
  /** What the original is renamed to at the switch. */
  readonly aside: string;
  readonly originalResourceId: string;
  readonly restoredResourceId: string;
  readonly snapshotId: string;
  /** A cluster's members to create once it is available, the writer first: each as its original `source` is. */
  readonly members: readonly { readonly identifier: string; readonly source: string }[];
  /** The restore's deadline, for `restoreStatus`. */
  readonly waitUntil: string;
  /** The command that gives the original its identifier back: what an alert tells you to run. */
  readonly renameBack: string;
  /** The command that finishes the switch by hand. */
  readonly finishSwitch: string;
}

export interface RestoreStatus {
  readonly available: boolean;
  /** The restored database's status, and its members' (`cluster available; members 1/2 available`). */
  readonly status: string;
  /** Its endpoint (`host:port`), for a look at its data before the switch; null until RDS reports one. */
  readonly endpoint: string | null;
}

export interface RenameStarted {
  readonly step: 'original' | 'restored';
  /** The rename's deadline, for `renameStatus`. */
  readonly waitUntil: string;
}

export interface RenameStatus {
  readonly done: boolean;
  readonly status: string;
}

const EXECUTION_ARN = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[^:]+:[^:]+$/;
const identifier = z.string().check(z.regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be an RDS identifier'));
const stateSchema = z.object({
  kind: z.enum(['instance', 'cluster']),
  database: identifier,
  restored: identifier,
  aside: identifier,
  originalResourceId: z.string().check(z.minLength(1)),
  restoredResourceId: z.string(),
  snapshotId: z.string().check(z.minLength(1)),
  members: z.array(z.object({ identifier, source: z.string().check(z.minLength(1)) })),
  waitUntil: waitUntilSchema,
  renameBack: z.string(),
  finishSwitch: z.string(),
});
const executionId = z.string().check(z.regex(EXECUTION_ARN, 'must be a Step Functions execution ARN'));
const eventSchema = z.discriminatedUnion('action', [
  z.object({
    action: z.literal('restore'),
    executionId,
    startTime: z.iso.datetime({ offset: true }),
    rollback: z.string().check(z.minLength(1)),
    snapshotId: z.string().check(z.minLength(1)),
  }),
  z.object({ action: z.literal('restoreStatus'), executionId, restore: stateSchema }),
  z.object({ action: z.literal('renameOriginal'), executionId, restore: stateSchema }),
  z.object({ action: z.literal('renameRestored'), executionId, restore: stateSchema }),
  z.object({
    action: z.literal('renameStatus'),
    executionId,
    restore: stateSchema,
    rename: z.object({ step: z.enum(['original', 'restored']), waitUntil: waitUntilSchema }),
  }),
]);
export type RestoreEvent = z.infer<typeof eventSchema>;

/** Validates the state machine's event; throws InvalidInputError naming the first bad field. */
export function parseRestoreEvent(raw: unknown): RestoreEvent {
  return parseEvent(eventSchema, raw);
}

export function runRestoreAction(
  deps: RestoreDeps,
  event: RestoreEvent,
): Promise<RestoreState | RestoreStatus | RenameStarted | RenameStatus> {
  switch (event.action) {
    case 'restore':
      return restoreSnapshot(deps, event);
    case 'restoreStatus':
      return restoreStatus(deps, event.restore, event.executionId);
    case 'renameOriginal':
      return renameOriginal(deps, event.restore);
    case 'renameRestored':
      return renameRestored(deps, event.restore);
    case 'renameStatus':
      return renameStatus(deps, event.restore, event.rename);
  }
}

const api = (deps: RestoreDeps): DatabaseApi => DATABASE_APIS[deps.config.dbKind];

const ALREADY_EXISTS = new Set(['DBInstanceAlreadyExistsFault', 'DBClusterAlreadyExistsFault']);
const NOT_READY = new Set(['InvalidDBInstanceStateFault', 'InvalidDBClusterStateFault']);

/** Statuses a restored instance or cluster does not leave for `available` by itself. */
export function isFailedStatus(status: string): boolean {
  return (
    [
      'failed',
      'restore-error',
      'storage-full',
      'insufficient-capacity',
      'cloning-failed',
      'migration-failed',
      'deleting',
      'deleted',
    ].includes(status) ||
    status.startsWith('incompatible-') ||
    status.startsWith('inaccessible-encryption-credentials')
  );
}

const ownedBy = (found: Found, executionArn: string) =>
  found.tags.get(TAG_EXECUTION) === tagValue(executionArn);

/**
 * Restores the snapshot into `<database>-restored-<time>`. Refused, before anything is created, when the snapshot is
 * not this database's or not available, or the name is taken by something this execution did not create. A restored
 * database an earlier attempt of this execution started is adopted.
 */
export async function restoreSnapshot(
  deps: RestoreDeps,
  event: Extract<RestoreEvent, { action: 'restore' }>,
): Promise<RestoreState> {
  const { rds, log, config } = deps;
  const db = api(deps);
  const names = rollbackNames(config.dbIdentifier, event.startTime, config.dbKind);
  const refuse = (why: string) =>
    new RollbackRefusedError(
      `the rollback was refused: ${why}. Nothing was changed: ${config.dbIdentifier} still serves the app`,
    );

  const original = await db.find(rds, names.database);
  if (!original)
    throw new RollbackRefusedError(
      `the rollback was refused: there is no ${db.noun} ${names.database} in this account and region. Nothing was changed. ` +
        'If an earlier rollback stopped half-way, its alert names the instance or cluster that holds the data and the command that renames it back',
    );
  const snapshot = await db.findSnapshot(rds, event.snapshotId);
  if (!snapshot) throw refuse(`there is no snapshot ${event.snapshotId} of a ${db.noun}`);
  if (snapshot.source?.toLowerCase() !== names.database)
    throw refuse(
      `snapshot ${event.snapshotId} was taken of ${snapshot.source ?? 'an unknown database'}, not of ${names.database}`,
    );
  if (snapshot.status !== 'available')
    throw refuse(`snapshot ${event.snapshotId} is "${snapshot.status}", not available to restore from`);

  const adopt = async (): Promise<Found | undefined> => {
    const existing = await db.find(rds, names.restored);
    if (!existing) return undefined;
    if (!ownedBy(existing, event.executionId))
      throw refuse(`${names.restored} exists and was not created by this rollback (tag ${TAG_EXECUTION})`);
    log.info('this execution already started the restore; using it', {
      restored: names.restored,
      status: existing.status,
    });
    return existing;
  };
  const tags: Tag[] = [
    { Key: TAG_ROLLBACK, Value: tagValue(event.rollback) },
    { Key: TAG_EXECUTION, Value: tagValue(event.executionId) },
    { Key: TAG_RESTORED_FROM, Value: tagValue(event.snapshotId) },
  ];
  let restored = await adopt();
  if (!restored) {
    log.info('restoring snapshot', {
      snapshotId: event.snapshotId,
      restored: names.restored,
      kind: config.dbKind,
    });
    try {
      restored = await db.restore(rds, names.database, names.restored, event.snapshotId, tags);
    } catch (err) {
      // An earlier attempt's restore went through but its answer was lost: adopt it.
      if (!ALREADY_EXISTS.has(errorName(err) ?? '')) throw err;
      restored = await adopt();
      if (!restored) throw err;
    }
  }
  const members =
    config.dbKind === 'cluster'
      ? (await clusterMembers(rds, names.database)).map((m, i) => ({
          identifier: memberName(names.restored, i + 1),
          source: m.identifier,
        }))
      : [];
  return {
    kind: config.dbKind,
    ...names,
    originalResourceId: original.resourceId,
    restoredResourceId: restored.resourceId,
    snapshotId: event.snapshotId,
    members,
    waitUntil: waitUntilAfter(deps.now(), config.restoreTimeoutSeconds),
    renameBack: renameCommand(config.dbKind, names.aside, names.database),
    finishSwitch: renameCommand(config.dbKind, names.restored, names.database),
  };
}

/**
 * Whether the restored database is available; a cluster's members are created once the cluster is, and it is
 * available when they all are. A failed status is a {@link RestoreFailedError}; not available after the deadline,
 * a {@link RestoreTimeoutError}.
 */
export async function restoreStatus(
  deps: RestoreDeps,
  state: RestoreState,
  executionArn: string,
): Promise<RestoreStatus> {
  const { rds, log } = deps;
  const restored = await api(deps).find(rds, state.restored);
  if (!restored) throw new RestoreFailedError(state.restored, 'not-found');
  if (isFailedStatus(restored.status)) throw new RestoreFailedError(state.restored, restored.status);
  let available = restored.status === 'available';
  let status = restored.status;
  if (state.kind === 'cluster' && available) {
    let ready = 0;
    for (const member of state.members) {
      const found = await describeInstance(rds, member.identifier);
      const memberStatus = found?.DBInstanceStatus ?? 'not created';
      if (!found) await createRestoredMember(deps, state, member, executionArn);
      else if (isFailedStatus(memberStatus)) throw new RestoreFailedError(member.identifier, memberStatus);
      if (memberStatus === 'available') ready++;
    }
    available = ready === state.members.length;
    status = `cluster available; members ${ready}/${state.members.length} available`;
  }
  log.info('restore status', { restored: state.restored, status, available });
  if (!available && isPastWaitUntil(state.waitUntil, deps.now()))
    throw new RestoreTimeoutError(state.restored, status, state.waitUntil);
  return { available, status, endpoint: restored.endpoint ?? null };
}

async function createRestoredMember(
  deps: RestoreDeps,
  state: RestoreState,
  member: RestoreState['members'][number],
  executionArn: string,
): Promise<void> {
  deps.log.info('creating restored cluster member', { member: member.identifier, as: member.source });
  try {
    await createMember(deps.rds, member.source, state.restored, member.identifier, [
      { Key: TAG_EXECUTION, Value: tagValue(executionArn) },
      { Key: TAG_RESTORED_FROM, Value: tagValue(state.snapshotId) },
    ]);
  } catch (err) {
    // A retried status created it already.
    if (!ALREADY_EXISTS.has(errorName(err) ?? '')) throw err;
  }
}

/** Renames `from` to `to` at once; a database busy with something else is retried (DatabaseNotReadyError). */
async function rename(deps: RestoreDeps, from: string, to: string): Promise<void> {
  deps.log.info('renaming', { from, to });
  try {
    await api(deps).rename(deps.rds, from, to);
  } catch (err) {
    if (NOT_READY.has(errorName(err) ?? ''))
      throw new DatabaseNotReadyError(
        `cannot rename ${from} to ${to} now: it is not in the available state`,
        { cause: err },
      );
    throw err;
  }
}

const renaming = (found: Found, to: string) => found.pendingIdentifier === to || found.status === 'renaming';

function conflict(state: RestoreState, what: string): SwitchConflictError {
  return new SwitchConflictError(
    `${what}; nothing more was renamed. The original (the newest data) has resource id ${state.originalResourceId}, ` +
      `the restored copy ${state.restoredResourceId || '(unknown)'}: find which identifier each holds in the RDS console`,
  );
}

/** The switch's first half: the original steps aside. Already done (or under way) is not done twice. */
export async function renameOriginal(deps: RestoreDeps, state: RestoreState): Promise<RenameStarted> {
  const db = api(deps);
  const started = (): RenameStarted => ({
    step: 'original',
    waitUntil: waitUntilAfter(deps.now(), deps.config.renameTimeoutSeconds),
  });
  const holder = await db.find(deps.rds, state.database);
  if (holder) {
    if (holder.resourceId === state.restoredResourceId) return started(); // the whole switch is done
    if (holder.resourceId !== state.originalResourceId)
      throw conflict(
        state,
        `${state.database} is held by a ${db.noun} that is neither the original nor the restored one`,
      );
    if (!renaming(holder, state.aside)) await rename(deps, state.database, state.aside);
    return started();
  }
  const aside = await db.find(deps.rds, state.aside);
  if (aside?.resourceId === state.originalResourceId) return started();
  throw conflict(state, `neither ${state.database} nor ${state.aside} is the original ${db.noun}`);
}

/** The switch's second half: the restored database takes the identifier. */
export async function renameRestored(deps: RestoreDeps, state: RestoreState): Promise<RenameStarted> {
  const db = api(deps);
  const started = (): RenameStarted => ({
    step: 'restored',
    waitUntil: waitUntilAfter(deps.now(), deps.config.renameTimeoutSeconds),
  });
  const holder = await db.find(deps.rds, state.database);
  if (holder?.resourceId === state.restoredResourceId) return started();
  if (holder)
    throw conflict(
      state,
      `${state.database} is still held by ${holder.resourceId === state.originalResourceId ? 'the original' : `another ${db.noun}`}`,
    );
  const restored = await db.find(deps.rds, state.restored);
  if (restored?.resourceId !== state.restoredResourceId)
    throw conflict(state, `the restored ${db.noun} is neither ${state.restored} nor ${state.database}`);
  if (!renaming(restored, state.database)) await rename(deps, state.restored, state.database);
  return started();
}

/**
 * Whether a rename is visible: the new identifier answers, held by the right resource, `available`. Not so by the
 * deadline is a {@link RenameTimeoutError}; the state machine's alert says what holds which identifier and the
 * command that puts the original back.
 */
export async function renameStatus(
  deps: RestoreDeps,
  state: RestoreState,
  rename: { readonly step: 'original' | 'restored'; readonly waitUntil: string },
): Promise<RenameStatus> {
  const [from, to, resource] =
    rename.step === 'original'
      ? [state.database, state.aside, state.originalResourceId]
      : [state.restored, state.database, state.restoredResourceId];
  const found = await api(deps).find(deps.rds, to);
  if (found && found.resourceId !== resource)
    throw conflict(state, `${to} is held by another ${api(deps).noun} than the one renamed to it`);
  const done = found?.status === 'available';
  const status = found ? `${to} is ${found.status}` : `${to} not visible yet`;
  deps.log.info('rename status', { from, to, status, done });
  if (!done && isPastWaitUntil(rename.waitUntil, deps.now()))
    throw new RenameTimeoutError(from, to, status, rename.waitUntil);
  return { done, status };
}

/** The Lambda handler over these deps: ./handler.ts wires the AWS ones, the tests their mocks. */
export function createRestoreHandler(deps: RestoreDeps, logger: Logger) {
  return async (raw: unknown) => {
    const { executionId, action } = invocationKeys(raw);
    return runHandler(logger, { executionId, step: `restore:${action ?? '?'}` }, async () =>
      runRestoreAction(deps, parseRestoreEvent(raw)),
    );
  };
}
