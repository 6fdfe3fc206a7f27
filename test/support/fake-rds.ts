/**
 * RDS as the rollback's restore function sees it, behind an aws-sdk-client-mock stub: DB instances and clusters
 * seeded from recorded DescribeDBInstances / DescribeDBClusters responses (test/fixtures/rds/), their snapshots, and
 * the calls the restore and the switch make. What it keeps of RDS's behaviour:
 * - a restored database (or a created cluster member) moves through {@link FakeRds.restoreStatuses}, one per look;
 * - a rename applies immediately but becomes visible only after {@link FakeRds.renameLooks} looks: until then the
 *   old identifier answers `renaming` with the new one pending, and the new one is not found (RDS User Guide,
 *   "Renaming a DB instance": "The renamed DB instance is not available until the new name becomes effective");
 * - an identifier in use cannot be taken ("You cannot use an existing DB instance name when renaming an instance"),
 *   a database not `available` refuses a rename, and a cluster's members can be created only once it is available;
 * - identity is the resource id (DbiResourceId, DbClusterResourceId), which a rename does not change.
 * Anything a test wants to go wrong is queued with {@link FakeRds.failNext}.
 */
import {
  CreateDBInstanceCommand,
  type CreateDBInstanceCommandInput,
  type DBCluster,
  DBClusterAlreadyExistsFault,
  DBClusterNotFoundFault,
  DBClusterSnapshotNotFoundFault,
  type DBInstance,
  DBInstanceAlreadyExistsFault,
  DBInstanceNotFoundFault,
  DBSnapshotNotFoundFault,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  InvalidDBClusterStateFault,
  InvalidDBInstanceStateFault,
  ModifyDBClusterCommand,
  ModifyDBInstanceCommand,
  type RDSClient,
  RestoreDBClusterFromSnapshotCommand,
  type RestoreDBClusterFromSnapshotCommandInput,
  RestoreDBInstanceFromDBSnapshotCommand,
  type RestoreDBInstanceFromDBSnapshotCommandInput,
} from '@aws-sdk/client-rds';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import recordedCluster from '../fixtures/rds/cluster.json' with { type: 'json' };
import clusterMembers from '../fixtures/rds/cluster-members.json' with { type: 'json' };
import recordedInstance from '../fixtures/rds/instance.json' with { type: 'json' };

const meta = { $metadata: {} };

/** The recorded original instance (`shop-db`), Aurora cluster (`shop-aurora`) and its two members. */
export const RECORDED = {
  instance: recordedInstance as DBInstance,
  cluster: recordedCluster as DBCluster,
  members: clusterMembers as DBInstance[],
} as const;

interface Entry<T> {
  desc: T;
  /** Statuses still to report, one per look; the last stays. */
  statuses: string[];
  rename?: { to: string; looks: number };
}

interface Snapshot {
  readonly id: string;
  readonly source: string;
  readonly status: string;
}

/** `mock.on(command)`, for any of the commands answered here. */
type On = (command: unknown) => { callsFake(fn: (input: never) => unknown): unknown };

export class FakeRds {
  /** What a restored database or a created member reports on successive looks. */
  restoreStatuses: string[] = ['creating', 'backing-up', 'available'];
  /** Looks a rename takes to become visible. */
  renameLooks = 1;
  private readonly instances: Entry<DBInstance>[] = [];
  private readonly clusters: Entry<DBCluster>[] = [];
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly clusterSnapshots = new Map<string, Snapshot>();
  private readonly failures = new Map<string, Error[]>();
  private created = 0;

  /** Seeds a database as DescribeDB… reported it. */
  addInstance(desc: DBInstance): void {
    this.instances.push({ desc: structuredClone(desc), statuses: [] });
  }
  addCluster(desc: DBCluster): void {
    this.clusters.push({ desc: structuredClone(desc), statuses: [] });
  }
  addSnapshot(snapshot: Snapshot, kind: 'instance' | 'cluster' = 'instance'): void {
    (kind === 'instance' ? this.snapshots : this.clusterSnapshots).set(snapshot.id, snapshot);
  }
  /** The next call of `command` (its class name) fails with `error`. */
  failNext(command: string, error: Error): void {
    this.failures.set(command, [...(this.failures.get(command) ?? []), error]);
  }

  /** The instance or cluster that holds `identifier` now, as a describe would see it, without counting as a look. */
  peek(identifier: string): DBInstance | DBCluster | undefined {
    return (
      this.instances.find((e) => e.desc.DBInstanceIdentifier === identifier)?.desc ??
      this.clusters.find((e) => e.desc.DBClusterIdentifier === identifier)?.desc
    );
  }

  /** Answers the restore function's RDS commands on `mock`. */
  install(mock: AwsClientStub<RDSClient>): void {
    const on = (command: unknown, answer: (input: never) => unknown) => {
      const name = (command as { name: string }).name;
      (mock.on as unknown as On).call(mock, command).callsFake((input: never) => {
        const failure = this.failures.get(name)?.shift();
        if (failure) throw failure;
        return { ...(answer(input) as object), ...meta };
      });
    };
    on(DescribeDBInstancesCommand, (i: { DBInstanceIdentifier: string }) => ({
      DBInstances: [this.lookInstance(i.DBInstanceIdentifier)],
    }));
    on(DescribeDBClustersCommand, (i: { DBClusterIdentifier: string }) => ({
      DBClusters: [this.lookCluster(i.DBClusterIdentifier)],
    }));
    on(DescribeDBSnapshotsCommand, (i: { DBSnapshotIdentifier: string }) => {
      const s = this.snapshots.get(i.DBSnapshotIdentifier);
      if (!s)
        throw new DBSnapshotNotFoundFault({
          message: `DBSnapshot ${i.DBSnapshotIdentifier} not found.`,
          ...meta,
        });
      return {
        DBSnapshots: [{ DBSnapshotIdentifier: s.id, DBInstanceIdentifier: s.source, Status: s.status }],
      };
    });
    on(DescribeDBClusterSnapshotsCommand, (i: { DBClusterSnapshotIdentifier: string }) => {
      const s = this.clusterSnapshots.get(i.DBClusterSnapshotIdentifier);
      if (!s)
        throw new DBClusterSnapshotNotFoundFault({
          message: `DBClusterSnapshot ${i.DBClusterSnapshotIdentifier} not found.`,
          ...meta,
        });
      return {
        DBClusterSnapshots: [
          { DBClusterSnapshotIdentifier: s.id, DBClusterIdentifier: s.source, Status: s.status },
        ],
      };
    });
    on(RestoreDBInstanceFromDBSnapshotCommand, (i: RestoreDBInstanceFromDBSnapshotCommandInput) => ({
      DBInstance: this.restoreInstance(i),
    }));
    on(RestoreDBClusterFromSnapshotCommand, (i: RestoreDBClusterFromSnapshotCommandInput) => ({
      DBCluster: this.restoreCluster(i),
    }));
    on(CreateDBInstanceCommand, (i: CreateDBInstanceCommandInput) => ({ DBInstance: this.createMember(i) }));
    on(ModifyDBInstanceCommand, (i: { DBInstanceIdentifier: string; NewDBInstanceIdentifier: string }) => ({
      DBInstance: this.renameInstance(i.DBInstanceIdentifier, i.NewDBInstanceIdentifier),
    }));
    on(ModifyDBClusterCommand, (i: { DBClusterIdentifier: string; NewDBClusterIdentifier: string }) => ({
      DBCluster: this.renameCluster(i.DBClusterIdentifier, i.NewDBClusterIdentifier),
    }));
  }

  /** One look: the next status, a rename a step nearer to visible. */
  private tick<T>(entry: Entry<T>, apply: (to: string) => void): void {
    if (entry.statuses.length > 1) entry.statuses.shift();
    if (entry.rename && --entry.rename.looks <= 0) {
      apply(entry.rename.to);
      entry.rename = undefined;
    }
  }

  private lookInstance(id: string): DBInstance {
    const entry = this.instances.find((e) => e.desc.DBInstanceIdentifier === id || e.rename?.to === id);
    if (entry)
      this.tick(entry, (to) => {
        entry.desc.DBInstanceIdentifier = to;
        entry.desc.DBInstanceStatus = 'available';
        entry.desc.PendingModifiedValues = {};
      });
    if (!entry || entry.desc.DBInstanceIdentifier !== id)
      throw new DBInstanceNotFoundFault({ message: `DBInstance ${id} not found.`, ...meta });
    if (entry.statuses.length > 0) entry.desc.DBInstanceStatus = entry.statuses[0];
    return structuredClone(entry.desc);
  }

  private lookCluster(id: string): DBCluster {
    const entry = this.clusters.find((e) => e.desc.DBClusterIdentifier === id || e.rename?.to === id);
    if (entry)
      this.tick(entry, (to) => {
        entry.desc.DBClusterIdentifier = to;
        entry.desc.Status = 'available';
        entry.desc.PendingModifiedValues = {};
      });
    if (!entry || entry.desc.DBClusterIdentifier !== id)
      throw new DBClusterNotFoundFault({ message: `DBCluster ${id} not found.`, ...meta });
    if (entry.statuses.length > 0) entry.desc.Status = entry.statuses[0];
    return structuredClone(entry.desc);
  }

  private taken(id: string): boolean {
    return (
      this.peek(id) !== undefined || [...this.instances, ...this.clusters].some((e) => e.rename?.to === id)
    );
  }

  private restoreInstance(i: RestoreDBInstanceFromDBSnapshotCommandInput): DBInstance {
    const id = i.DBInstanceIdentifier ?? '';
    if (!this.snapshots.has(i.DBSnapshotIdentifier ?? ''))
      throw new DBSnapshotNotFoundFault({
        message: `DBSnapshot ${i.DBSnapshotIdentifier} not found.`,
        ...meta,
      });
    if (this.taken(id))
      throw new DBInstanceAlreadyExistsFault({ message: `DB instance already exists`, ...meta });
    const desc: DBInstance = {
      DBInstanceIdentifier: id,
      DBInstanceClass: i.DBInstanceClass,
      Engine: 'postgres',
      DBInstanceStatus: this.restoreStatuses[0],
      DbiResourceId: `db-RESTORED${++this.created}`,
      Endpoint: { Address: `${id}.c0ffee12.eu-west-1.rds.amazonaws.com`, Port: 5432 },
      MultiAZ: i.MultiAZ,
      TagList: i.Tags,
      PendingModifiedValues: {},
    };
    this.instances.push({ desc, statuses: [...this.restoreStatuses] });
    return structuredClone(desc);
  }

  private restoreCluster(i: RestoreDBClusterFromSnapshotCommandInput): DBCluster {
    const id = i.DBClusterIdentifier ?? '';
    if (!this.clusterSnapshots.has(i.SnapshotIdentifier ?? ''))
      throw new DBClusterSnapshotNotFoundFault({
        message: `DBClusterSnapshot ${i.SnapshotIdentifier} not found.`,
        ...meta,
      });
    if (this.taken(id))
      throw new DBClusterAlreadyExistsFault({ message: 'DB Cluster already exists', ...meta });
    const desc: DBCluster = {
      DBClusterIdentifier: id,
      Engine: i.Engine,
      Status: this.restoreStatuses[0],
      DbClusterResourceId: `cluster-RESTORED${++this.created}`,
      Endpoint: `${id}.cluster-c0ffee12.eu-west-1.rds.amazonaws.com`,
      Port: 5432,
      DBClusterMembers: [],
      TagList: i.Tags,
      PendingModifiedValues: {},
    };
    this.clusters.push({ desc, statuses: [...this.restoreStatuses] });
    return structuredClone(desc);
  }

  private createMember(i: CreateDBInstanceCommandInput): DBInstance {
    const id = i.DBInstanceIdentifier ?? '';
    const cluster = this.clusters.find((e) => e.desc.DBClusterIdentifier === i.DBClusterIdentifier);
    if (!cluster)
      throw new DBClusterNotFoundFault({ message: `DBCluster ${i.DBClusterIdentifier} not found.`, ...meta });
    if (cluster.desc.Status !== 'available')
      throw new InvalidDBClusterStateFault({
        message: `DBCluster ${i.DBClusterIdentifier} is not available`,
        ...meta,
      });
    if (this.taken(id))
      throw new DBInstanceAlreadyExistsFault({ message: 'DB instance already exists', ...meta });
    const members = cluster.desc.DBClusterMembers ?? [];
    members.push({ DBInstanceIdentifier: id, IsClusterWriter: members.length === 0 });
    cluster.desc.DBClusterMembers = members;
    const desc: DBInstance = {
      DBInstanceIdentifier: id,
      DBInstanceClass: i.DBInstanceClass,
      Engine: i.Engine,
      DBClusterIdentifier: i.DBClusterIdentifier,
      DBInstanceStatus: this.restoreStatuses[0],
      DbiResourceId: `db-MEMBER${++this.created}`,
      TagList: i.Tags,
    };
    this.instances.push({ desc, statuses: [...this.restoreStatuses] });
    return structuredClone(desc);
  }

  private renameInstance(from: string, to: string): DBInstance {
    const entry = this.instances.find((e) => e.desc.DBInstanceIdentifier === from);
    if (!entry) throw new DBInstanceNotFoundFault({ message: `DBInstance ${from} not found.`, ...meta });
    if (this.taken(to))
      throw new DBInstanceAlreadyExistsFault({ message: 'DB instance already exists', ...meta });
    if (entry.desc.DBInstanceStatus !== 'available')
      throw new InvalidDBInstanceStateFault({
        message: `DB instance ${from} is not in the available state`,
        ...meta,
      });
    entry.statuses = [];
    entry.desc.DBInstanceStatus = 'renaming';
    entry.desc.PendingModifiedValues = { DBInstanceIdentifier: to };
    entry.rename = { to, looks: this.renameLooks };
    return structuredClone(entry.desc);
  }

  private renameCluster(from: string, to: string): DBCluster {
    const entry = this.clusters.find((e) => e.desc.DBClusterIdentifier === from);
    if (!entry) throw new DBClusterNotFoundFault({ message: `DBCluster ${from} not found.`, ...meta });
    if (this.taken(to))
      throw new DBClusterAlreadyExistsFault({ message: 'DB Cluster already exists', ...meta });
    if (entry.desc.Status !== 'available')
      throw new InvalidDBClusterStateFault({
        message: `DBCluster ${from} is not in the available state`,
        ...meta,
      });
    entry.statuses = [];
    entry.desc.Status = 'renaming';
    entry.desc.PendingModifiedValues = { DBClusterIdentifier: to };
    entry.rename = { to, looks: this.renameLooks };
    return structuredClone(entry.desc);
  }
}
