/**
 * The snapshot function's RDS client, for local rehearsals: a snapshot is a real copy of the database
 * (`CREATE DATABASE <snapshot> TEMPLATE <database>`), its tags kept in a table of the maintenance database.
 * Restoring one (`lockstep restore --local <id>`) copies it back.
 */
import {
  CreateDBSnapshotCommand,
  DBInstanceNotFoundFault,
  type DBSnapshot,
  DBSnapshotNotFoundFault,
  DeleteDBSnapshotCommand,
  DescribeDBSnapshotsCommand,
  InvalidDBInstanceStateFault,
  RDSClient,
  SnapshotQuotaExceededFault,
  type Tag,
} from '@aws-sdk/client-rds';
import pg from 'pg';
import { InvalidInputError } from '../../engine/errors.ts';

const LOCAL = { region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
const meta = { $metadata: {} };

export interface LocalSnapshot {
  readonly id: string;
  readonly source: string;
  readonly createdAt: Date;
  readonly tags: readonly Tag[];
}

/** Snapshots of `database` on the server `adminUrl` points at (its maintenance database holds the metadata). */
export class LocalSnapshots {
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

/** An RDSClient whose snapshot commands act on {@link LocalSnapshots}. `failCreate` rehearses a failed snapshot. */
export class LocalRdsClient extends RDSClient {
  constructor(
    private readonly snapshots: LocalSnapshots,
    private readonly options: { readonly failCreate?: boolean } = {},
  ) {
    super(LOCAL);
  }

  override send = (async (command: unknown) => {
    if (command instanceof CreateDBSnapshotCommand) {
      if (this.options.failCreate) {
        throw new SnapshotQuotaExceededFault({
          message: 'rehearsed failure (--fail-at snapshot): manual snapshot quota reached',
          ...meta,
        });
      }
      const s = await this.snapshots.create(
        command.input.DBSnapshotIdentifier ?? '',
        command.input.Tags ?? [],
      );
      return { DBSnapshot: toDbSnapshot(s), ...meta };
    }
    if (command instanceof DescribeDBSnapshotsCommand) {
      const all = (await this.snapshots.list()).map(toDbSnapshot);
      if (command.input.DBSnapshotIdentifier) {
        const one = all.filter((s) => s.DBSnapshotIdentifier === command.input.DBSnapshotIdentifier);
        if (one.length === 0)
          throw new DBSnapshotNotFoundFault({
            message: `${command.input.DBSnapshotIdentifier} not found`,
            ...meta,
          });
        return { DBSnapshots: one, ...meta };
      }
      return { DBSnapshots: all, ...meta };
    }
    if (command instanceof DeleteDBSnapshotCommand) {
      await this.snapshots.remove(command.input.DBSnapshotIdentifier ?? '');
      return { ...meta };
    }
    throw new Error(`the local RDS stand-in does not implement ${(command as object).constructor.name}`);
  }) as RDSClient['send'];
}

function toDbSnapshot(s: LocalSnapshot): DBSnapshot {
  return {
    DBSnapshotIdentifier: s.id,
    DBInstanceIdentifier: s.source,
    DBSnapshotArn: `arn:aws:rds:local:000000000000:snapshot:${s.id}`,
    SnapshotType: 'manual',
    Status: 'available',
    PercentProgress: 100,
    SnapshotCreateTime: s.createdAt,
    TagList: [...s.tags],
  };
}
