/**
 * One RDS DB instance's manual snapshots, for the local rehearsal and the state-machine tests. Where snapshots
 * live is a {@link SnapshotStore}: in the rehearsal a real copy of the database ({@link PostgresSnapshots}:
 * `CREATE DATABASE <snapshot> TEMPLATE <database>`, tags in a table of the maintenance database, and `lockstep
 * restore --local <id>` copies one back); in the tests a record in memory ({@link MemorySnapshots}). A new
 * snapshot is "creating" and moves through {@link LocalRds.statuses}, one step per look at it by identifier.
 */
import {
  CreateDBSnapshotCommand,
  type CreateDBSnapshotCommandInput,
  DBInstanceNotFoundFault,
  type DBSnapshot,
  DBSnapshotAlreadyExistsFault,
  DBSnapshotNotFoundFault,
  DeleteDBSnapshotCommand,
  type DeleteDBSnapshotCommandInput,
  DescribeDBSnapshotsCommand,
  type DescribeDBSnapshotsCommandInput,
  InvalidDBInstanceStateFault,
  RDSClient,
  SnapshotQuotaExceededFault,
  type Tag,
} from '@aws-sdk/client-rds';
import pg from 'pg';
import { InvalidInputError } from '../../engine/errors.ts';
import { LOCAL_CLIENT_CONFIG, type LocalAccount, notImplemented } from './account.ts';

const meta = { $metadata: {} };

export interface LocalSnapshot {
  readonly id: string;
  readonly source: string;
  readonly createdAt: Date;
  readonly tags: readonly Tag[];
}

/** Where a {@link LocalRds}'s snapshots are kept. */
export interface SnapshotStore {
  create(id: string, tags: readonly Tag[]): Promise<LocalSnapshot>;
  /** Newest first. */
  list(): Promise<LocalSnapshot[]>;
  remove(id: string): Promise<void>;
}

/** Snapshots as records in memory: for tests, where what matters is which calls were made. */
export class MemorySnapshots implements SnapshotStore {
  private readonly snapshots = new Map<string, LocalSnapshot>();

  constructor(readonly database: string) {}

  /** Adds an existing snapshot, such as one from an earlier release. */
  seed(snapshot: LocalSnapshot): void {
    this.snapshots.set(snapshot.id, snapshot);
  }

  async create(id: string, tags: readonly Tag[]): Promise<LocalSnapshot> {
    if (this.snapshots.has(id))
      throw new DBSnapshotAlreadyExistsFault({ message: `snapshot ${id} already exists`, ...meta });
    const snapshot = { id, source: this.database, createdAt: new Date(), tags };
    this.snapshots.set(id, snapshot);
    return snapshot;
  }

  async list(): Promise<LocalSnapshot[]> {
    return [...this.snapshots.values()].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  }

  async remove(id: string): Promise<void> {
    this.snapshots.delete(id);
  }

  /** Forgets every snapshot (a test's fresh start). */
  clear(): void {
    this.snapshots.clear();
  }
}

/** Snapshots of `database` on the server `adminUrl` points at (its maintenance database holds the metadata). */
export class PostgresSnapshots implements SnapshotStore {
  constructor(
    private readonly adminUrl: string,
    readonly database: string,
  ) {}

  private async withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({
      connectionString: this.adminUrl,
      application_name: 'lockstep local snapshots',
    });
    await client.connect();
    try {
      await client.query(
        'CREATE TABLE IF NOT EXISTS lockstep_local_snapshots (id text PRIMARY KEY, source text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), tags jsonb NOT NULL)',
      );
      return await work(client);
    } finally {
      await client.end();
    }
  }

  async create(id: string, tags: readonly Tag[]): Promise<LocalSnapshot> {
    return this.withAdmin(async (client) => {
      const ident = client.escapeIdentifier(id);
      try {
        await client.query(`CREATE DATABASE ${ident} TEMPLATE ${client.escapeIdentifier(this.database)}`);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === '55006') {
          throw new InvalidDBInstanceStateFault({
            message: `database ${this.database} has open connections`,
            ...meta,
          });
        }
        if (code === '3D000')
          throw new DBInstanceNotFoundFault({ message: `no database ${this.database}`, ...meta });
        throw err;
      }
      const { rows } = await client.query(
        'INSERT INTO lockstep_local_snapshots (id, source, tags) VALUES ($1, $2, $3) RETURNING created_at',
        [id, this.database, JSON.stringify(tags)],
      );
      return { id, source: this.database, createdAt: rows[0].created_at, tags };
    });
  }

  async list(): Promise<LocalSnapshot[]> {
    return this.withAdmin(async (client) => {
      const { rows } = await client.query(
        'SELECT id, source, created_at, tags FROM lockstep_local_snapshots WHERE source = $1 ORDER BY created_at DESC',
        [this.database],
      );
      return rows.map((r) => ({ id: r.id, source: r.source, createdAt: r.created_at, tags: r.tags }));
    });
  }

  async remove(id: string): Promise<void> {
    await this.withAdmin(async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(id)}`);
      await client.query('DELETE FROM lockstep_local_snapshots WHERE id = $1', [id]);
    });
  }

  /** Replaces the database with a copy of the snapshot; open sessions to it are ended. */
  async restore(id: string): Promise<void> {
    const snapshots = await this.list();
    if (!snapshots.some((s) => s.id === id)) {
      throw new InvalidInputError(
        'snapshot',
        `there is no local snapshot "${id}" of the database ${this.database}; ${
          snapshots.length === 0
            ? 'there are none yet (a rehearsal with something pending takes one)'
            : `the local snapshots are, newest first: ${snapshots.map((s) => s.id).join(', ')}`
        }`,
      );
    }
    await this.withAdmin(async (client) => {
      const db = client.escapeIdentifier(this.database);
      await client.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await client.query(`CREATE DATABASE ${db} TEMPLATE ${client.escapeIdentifier(id)}`);
    });
  }
}

export interface LocalRdsOptions {
  readonly account: LocalAccount;
  /** The DB instance identifier, as the snapshot function is configured with it. */
  readonly instance: string;
  readonly store: SnapshotStore;
}

export class LocalRds {
  /** What successive looks at a new snapshot report; the last one repeats. */
  statuses: string[] = ['creating', 'available'];
  /** Rehearse a failure: CreateDBSnapshot fails as with the manual-snapshot quota reached. */
  failCreate: string | undefined;
  private readonly pending = new Map<string, string[]>();
  private readonly status = new Map<string, string>();

  constructor(private readonly options: LocalRdsOptions) {}

  get store(): SnapshotStore {
    return this.options.store;
  }

  /** The snapshots' statuses start over; what the store holds stays. */
  reset(): void {
    this.statuses = ['creating', 'available'];
    this.failCreate = undefined;
    this.pending.clear();
    this.status.clear();
  }

  /** An RDSClient whose snapshot commands act on this instance. */
  client(): RDSClient {
    return new LocalRdsClient(this);
  }

  async createDBSnapshot(input: CreateDBSnapshotCommandInput) {
    if (input.DBInstanceIdentifier !== this.options.instance)
      throw new DBInstanceNotFoundFault({
        message: `DBInstance ${input.DBInstanceIdentifier} not found`,
        ...meta,
      });
    if (this.failCreate !== undefined)
      throw new SnapshotQuotaExceededFault({ message: this.failCreate, ...meta });
    const snapshot = await this.options.store.create(input.DBSnapshotIdentifier ?? '', input.Tags ?? []);
    this.status.set(snapshot.id, 'creating');
    this.pending.set(snapshot.id, [...this.statuses]);
    return { DBSnapshot: this.toDbSnapshot(snapshot) };
  }

  /** By identifier: the next status of that snapshot. Otherwise every snapshot, as they are, filtered. */
  async describeDBSnapshots(input: DescribeDBSnapshotsCommandInput) {
    const all = await this.options.store.list();
    if (input.DBSnapshotIdentifier) {
      const one = all.find((s) => s.id === input.DBSnapshotIdentifier);
      if (!one)
        throw new DBSnapshotNotFoundFault({ message: `${input.DBSnapshotIdentifier} not found`, ...meta });
      const next = this.pending.get(one.id) ?? [];
      if (next.length > 0) this.status.set(one.id, (next.length > 1 ? next.shift() : next[0]) as string);
      return { DBSnapshots: [this.toDbSnapshot(one)] };
    }
    const matches =
      (!input.DBInstanceIdentifier || input.DBInstanceIdentifier === this.options.instance) &&
      (!input.SnapshotType || input.SnapshotType === 'manual');
    return { DBSnapshots: matches ? all.map((s) => this.toDbSnapshot(s)) : [] };
  }

  async deleteDBSnapshot(input: DeleteDBSnapshotCommandInput) {
    const id = input.DBSnapshotIdentifier ?? '';
    const snapshot = (await this.options.store.list()).find((s) => s.id === id);
    if (!snapshot) throw new DBSnapshotNotFoundFault({ message: `${id} not found`, ...meta });
    await this.options.store.remove(id);
    this.status.delete(id);
    return { DBSnapshot: { ...this.toDbSnapshot(snapshot), Status: 'deleted' } };
  }

  private toDbSnapshot(s: LocalSnapshot): DBSnapshot {
    const { region, account } = this.options.account;
    const status = this.status.get(s.id) ?? 'available';
    return {
      DBSnapshotIdentifier: s.id,
      DBInstanceIdentifier: this.options.instance,
      DBSnapshotArn: `arn:aws:rds:${region}:${account}:snapshot:${s.id}`,
      SnapshotType: 'manual',
      Status: status,
      PercentProgress: status === 'available' ? 100 : status === 'creating' ? 0 : 50,
      SnapshotCreateTime: s.createdAt,
      TagList: [...s.tags],
    };
  }
}

/** The RDSClient the rehearsal hands the snapshot function. */
class LocalRdsClient extends RDSClient {
  constructor(private readonly rds: LocalRds) {
    super(LOCAL_CLIENT_CONFIG);
  }

  override send = (async (command: unknown) => {
    if (command instanceof CreateDBSnapshotCommand)
      return { ...(await this.rds.createDBSnapshot(command.input)), ...meta };
    if (command instanceof DescribeDBSnapshotsCommand)
      return { ...(await this.rds.describeDBSnapshots(command.input)), ...meta };
    if (command instanceof DeleteDBSnapshotCommand)
      return { ...(await this.rds.deleteDBSnapshot(command.input)), ...meta };
    throw notImplemented('RDS', command);
  }) as RDSClient['send'];
}
