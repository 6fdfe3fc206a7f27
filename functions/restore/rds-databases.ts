/**
 * The two RDS APIs a rollback's restore and switch use — DB instance and DB cluster — behind one shape, and the
 * restore requests built from the original's configuration as DescribeDBInstances / DescribeDBClusters report it.
 *
 * Identity across renames: an instance's `DbiResourceId` and a cluster's `DbClusterResourceId` never change, while
 * its identifier (and its ARN) does; the switch always asks "which resource holds this identifier".
 */
import {
  CreateDBInstanceCommand,
  type CreateDBInstanceCommandInput,
  type DBCluster,
  type DBClusterNotFoundFault,
  type DBClusterSnapshotNotFoundFault,
  type DBInstance,
  type DBInstanceNotFoundFault,
  type DBSnapshotNotFoundFault,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  ModifyDBClusterCommand,
  ModifyDBInstanceCommand,
  type RDSClient,
  RestoreDBClusterFromSnapshotCommand,
  type RestoreDBClusterFromSnapshotCommandInput,
  RestoreDBInstanceFromDBSnapshotCommand,
  type RestoreDBInstanceFromDBSnapshotCommandInput,
  type Tag,
} from '@aws-sdk/client-rds';
import type { DbKind } from './config.ts';

/** A DB instance or DB cluster, as far as the switch cares. */
export interface Found {
  readonly identifier: string;
  readonly resourceId: string;
  readonly status: string;
  /** The identifier a rename already asked for and not yet applied. */
  readonly pendingIdentifier: string | undefined;
  readonly tags: ReadonlyMap<string, string>;
  /** `host:port` (a cluster's writer endpoint), once RDS reports one. */
  readonly endpoint: string | undefined;
}

export interface FoundSnapshot {
  readonly id: string;
  /** The instance or cluster it was taken of. */
  readonly source: string | undefined;
  readonly status: string;
}

/** A member of a cluster: its identifier and whether it is the writer. */
export interface Member {
  readonly identifier: string;
  readonly writer: boolean;
}

export interface DatabaseApi {
  /** How messages name it: "DB instance" or "DB cluster". */
  readonly noun: string;
  find(rds: RDSClient, identifier: string): Promise<Found | undefined>;
  findSnapshot(rds: RDSClient, snapshotId: string): Promise<FoundSnapshot | undefined>;
  /** Restores `snapshotId` into `restored` with `original`'s configuration (a cluster without its members). */
  restore(
    rds: RDSClient,
    original: string,
    restored: string,
    snapshotId: string,
    tags: Tag[],
  ): Promise<Found>;
  /** ModifyDB…Identifier with ApplyImmediately: the rename starts now, not in the maintenance window. */
  rename(rds: RDSClient, from: string, to: string): Promise<void>;
}

// Fault names as the SDK declares them (typed against its classes, so a rename fails the build).
export const FAULT = {
  instanceNotFound: 'DBInstanceNotFoundFault' satisfies DBInstanceNotFoundFault['name'],
  clusterNotFound: 'DBClusterNotFoundFault' satisfies DBClusterNotFoundFault['name'],
  snapshotNotFound: 'DBSnapshotNotFoundFault' satisfies DBSnapshotNotFoundFault['name'],
  clusterSnapshotNotFound: 'DBClusterSnapshotNotFoundFault' satisfies DBClusterSnapshotNotFoundFault['name'],
} as const;

export const errorName = (err: unknown): string | undefined => (err instanceof Error ? err.name : undefined);

/** `undefined` when `call` fails with `notFound`. */
async function orUndefined<T>(call: () => Promise<T>, notFound: string): Promise<T | undefined> {
  try {
    return await call();
  } catch (err) {
    if (errorName(err) === notFound) return undefined;
    throw err;
  }
}

const tagMap = (tags: Tag[] | undefined): ReadonlyMap<string, string> =>
  new Map((tags ?? []).flatMap((t) => (t.Key === undefined ? [] : [[t.Key, t.Value ?? ''] as const])));

/** The original's own tags, to carry over: not AWS's (`aws:` is reserved) and not lockstep's (the rollback sets those). */
export function carriedTags(tags: Tag[] | undefined, own: Tag[]): Tag[] {
  const kept = (tags ?? []).filter(
    (t) => t.Key && !t.Key.toLowerCase().startsWith('aws:') && !t.Key.startsWith('lockstep:'),
  );
  return [...kept, ...own];
}

function fromInstance(i: DBInstance, fallback: string): Found {
  return {
    identifier: i.DBInstanceIdentifier ?? fallback,
    resourceId: i.DbiResourceId ?? '',
    status: i.DBInstanceStatus ?? 'unknown',
    pendingIdentifier: i.PendingModifiedValues?.DBInstanceIdentifier,
    tags: tagMap(i.TagList),
    endpoint: i.Endpoint?.Address && `${i.Endpoint.Address}:${i.Endpoint.Port ?? 5432}`,
  };
}

function fromCluster(c: DBCluster, fallback: string): Found {
  return {
    identifier: c.DBClusterIdentifier ?? fallback,
    resourceId: c.DbClusterResourceId ?? '',
    status: c.Status ?? 'unknown',
    pendingIdentifier: c.PendingModifiedValues?.DBClusterIdentifier,
    tags: tagMap(c.TagList),
    endpoint: c.Endpoint && `${c.Endpoint}:${c.Port ?? 5432}`,
  };
}

export async function describeInstance(rds: RDSClient, identifier: string): Promise<DBInstance | undefined> {
  const out = await orUndefined(
    () => rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier })),
    FAULT.instanceNotFound,
  );
  return out?.DBInstances?.[0];
}

export async function describeCluster(rds: RDSClient, identifier: string): Promise<DBCluster | undefined> {
  const out = await orUndefined(
    () => rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: identifier })),
    FAULT.clusterNotFound,
  );
  return out?.DBClusters?.[0];
}

/** The original must exist: the restore copies its configuration. */
function required<T>(found: T | undefined, noun: string, identifier: string): T {
  if (!found) throw new Error(`${noun} ${identifier} was not found`);
  return found;
}

/**
 * gp3 storage below this size runs at its baseline and RDS takes no Iops or StorageThroughput for it (RDS User Guide,
 * "gp3 storage": "For … PostgreSQL … storage size below 400 GiB, the baseline performance is 3,000 IOPS and 125 MiBps").
 */
const GP3_PROVISIONED_FROM_GIB = 400;

/**
 * RestoreDBInstanceFromDBSnapshot with the original's configuration: class, network (subnet group, security groups,
 * port, public access, Multi-AZ), parameter and option groups, storage (type, size, IOPS, throughput), IAM database
 * authentication, deletion protection, log exports, CA, tags. Encryption follows the snapshot (the restore takes no
 * key: an encrypted snapshot restores encrypted with its key). The engine version is the snapshot's.
 */
export function instanceRestoreInput(
  o: DBInstance,
  restored: string,
  snapshotId: string,
  tags: Tag[],
): RestoreDBInstanceFromDBSnapshotCommandInput {
  const provisioned =
    o.StorageType === 'io1' ||
    o.StorageType === 'io2' ||
    (o.StorageType === 'gp3' && (o.AllocatedStorage ?? 0) >= GP3_PROVISIONED_FROM_GIB);
  return {
    DBInstanceIdentifier: restored,
    DBSnapshotIdentifier: snapshotId,
    DBInstanceClass: o.DBInstanceClass,
    Port: o.Endpoint?.Port,
    MultiAZ: o.MultiAZ,
    DBSubnetGroupName: o.DBSubnetGroup?.DBSubnetGroupName,
    VpcSecurityGroupIds: (o.VpcSecurityGroups ?? []).flatMap((g) =>
      g.VpcSecurityGroupId ? [g.VpcSecurityGroupId] : [],
    ),
    PubliclyAccessible: o.PubliclyAccessible,
    AutoMinorVersionUpgrade: o.AutoMinorVersionUpgrade,
    DBParameterGroupName: o.DBParameterGroups?.[0]?.DBParameterGroupName,
    OptionGroupName: o.OptionGroupMemberships?.[0]?.OptionGroupName,
    StorageType: o.StorageType,
    AllocatedStorage: o.AllocatedStorage,
    ...(provisioned && o.Iops ? { Iops: o.Iops } : {}),
    ...(provisioned && o.StorageType === 'gp3' && o.StorageThroughput
      ? { StorageThroughput: o.StorageThroughput }
      : {}),
    EnableIAMDatabaseAuthentication: o.IAMDatabaseAuthenticationEnabled,
    DeletionProtection: o.DeletionProtection,
    CopyTagsToSnapshot: o.CopyTagsToSnapshot,
    EnableCloudwatchLogsExports: o.EnabledCloudwatchLogsExports,
    CACertificateIdentifier: o.CACertificateIdentifier,
    Tags: carriedTags(o.TagList, tags),
  };
}

/**
 * RestoreDBClusterFromSnapshot with the original's configuration: engine, port, subnet group, security groups,
 * cluster parameter group, KMS key, IAM database authentication, deletion protection, log exports, Serverless v2
 * capacity, storage type, backtrack window, tags. The members are created after it is available ({@link memberInput}).
 */
export function clusterRestoreInput(
  o: DBCluster,
  restored: string,
  snapshotId: string,
  tags: Tag[],
): RestoreDBClusterFromSnapshotCommandInput {
  const scaling = o.ServerlessV2ScalingConfiguration;
  return {
    DBClusterIdentifier: restored,
    SnapshotIdentifier: snapshotId,
    Engine: o.Engine,
    Port: o.Port,
    DBSubnetGroupName: o.DBSubnetGroup,
    VpcSecurityGroupIds: (o.VpcSecurityGroups ?? []).flatMap((g) =>
      g.VpcSecurityGroupId ? [g.VpcSecurityGroupId] : [],
    ),
    DBClusterParameterGroupName: o.DBClusterParameterGroup,
    ...(o.StorageEncrypted && o.KmsKeyId ? { KmsKeyId: o.KmsKeyId } : {}),
    EnableIAMDatabaseAuthentication: o.IAMDatabaseAuthenticationEnabled,
    DeletionProtection: o.DeletionProtection,
    CopyTagsToSnapshot: o.CopyTagsToSnapshot,
    EnableCloudwatchLogsExports: o.EnabledCloudwatchLogsExports,
    ...(scaling
      ? {
          ServerlessV2ScalingConfiguration: {
            MinCapacity: scaling.MinCapacity,
            MaxCapacity: scaling.MaxCapacity,
          },
        }
      : {}),
    ...(o.StorageType ? { StorageType: o.StorageType } : {}),
    ...(o.BacktrackWindow ? { BacktrackWindow: o.BacktrackWindow } : {}),
    Tags: carriedTags(o.TagList, tags),
  };
}

/** CreateDBInstance of a restored cluster's member, as `source` (the original cluster's member) is configured. */
export function memberInput(
  source: DBInstance,
  cluster: string,
  identifier: string,
  tags: Tag[],
): CreateDBInstanceCommandInput {
  return {
    DBInstanceIdentifier: identifier,
    DBClusterIdentifier: cluster,
    Engine: source.Engine,
    DBInstanceClass: source.DBInstanceClass,
    DBParameterGroupName: source.DBParameterGroups?.[0]?.DBParameterGroupName,
    PromotionTier: source.PromotionTier,
    PubliclyAccessible: source.PubliclyAccessible,
    AutoMinorVersionUpgrade: source.AutoMinorVersionUpgrade,
    CACertificateIdentifier: source.CACertificateIdentifier,
    Tags: carriedTags(source.TagList, tags),
  };
}

const instanceApi: DatabaseApi = {
  noun: 'DB instance',
  async find(rds, identifier) {
    const found = await describeInstance(rds, identifier);
    return found && fromInstance(found, identifier);
  },
  async findSnapshot(rds, snapshotId) {
    const out = await orUndefined(
      () => rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: snapshotId })),
      FAULT.snapshotNotFound,
    );
    const s = out?.DBSnapshots?.[0];
    return (
      s && {
        id: s.DBSnapshotIdentifier ?? snapshotId,
        source: s.DBInstanceIdentifier,
        status: s.Status ?? 'unknown',
      }
    );
  },
  async restore(rds, original, restored, snapshotId, tags) {
    const o = required(await describeInstance(rds, original), 'DB instance', original);
    const out = await rds.send(
      new RestoreDBInstanceFromDBSnapshotCommand(instanceRestoreInput(o, restored, snapshotId, tags)),
    );
    return fromInstance(out.DBInstance ?? {}, restored);
  },
  async rename(rds, from, to) {
    await rds.send(
      new ModifyDBInstanceCommand({
        DBInstanceIdentifier: from,
        NewDBInstanceIdentifier: to,
        ApplyImmediately: true,
      }),
    );
  },
};

const clusterApi: DatabaseApi = {
  noun: 'DB cluster',
  async find(rds, identifier) {
    const found = await describeCluster(rds, identifier);
    return found && fromCluster(found, identifier);
  },
  async findSnapshot(rds, snapshotId) {
    const out = await orUndefined(
      () => rds.send(new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: snapshotId })),
      FAULT.clusterSnapshotNotFound,
    );
    const s = out?.DBClusterSnapshots?.[0];
    return (
      s && {
        id: s.DBClusterSnapshotIdentifier ?? snapshotId,
        source: s.DBClusterIdentifier,
        status: s.Status ?? 'unknown',
      }
    );
  },
  async restore(rds, original, restored, snapshotId, tags) {
    const o = required(await describeCluster(rds, original), 'DB cluster', original);
    const out = await rds.send(
      new RestoreDBClusterFromSnapshotCommand(clusterRestoreInput(o, restored, snapshotId, tags)),
    );
    return fromCluster(out.DBCluster ?? {}, restored);
  },
  async rename(rds, from, to) {
    await rds.send(
      new ModifyDBClusterCommand({
        DBClusterIdentifier: from,
        NewDBClusterIdentifier: to,
        ApplyImmediately: true,
      }),
    );
  },
};

export const DATABASE_APIS: Readonly<Record<DbKind, DatabaseApi>> = {
  instance: instanceApi,
  cluster: clusterApi,
};

/** The original cluster's members, the writer first (the first member created in a restored cluster is its writer). */
export async function clusterMembers(rds: RDSClient, cluster: string): Promise<Member[]> {
  const c = required(await describeCluster(rds, cluster), 'DB cluster', cluster);
  return (c.DBClusterMembers ?? [])
    .flatMap((m) =>
      m.DBInstanceIdentifier
        ? [{ identifier: m.DBInstanceIdentifier, writer: m.IsClusterWriter === true }]
        : [],
    )
    .sort((a, b) => Number(b.writer) - Number(a.writer));
}

/** Creates a restored cluster's member as `source` is configured. */
export async function createMember(
  rds: RDSClient,
  source: string,
  cluster: string,
  identifier: string,
  tags: Tag[],
): Promise<void> {
  const s = required(await describeInstance(rds, source), 'DB instance', source);
  await rds.send(new CreateDBInstanceCommand(memberInput(s, cluster, identifier, tags)));
}
