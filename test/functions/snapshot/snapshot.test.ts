import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import {
  CreateDBClusterSnapshotCommand,
  type CreateDBClusterSnapshotCommandInput,
  CreateDBSnapshotCommand,
  type CreateDBSnapshotCommandInput,
  DBClusterNotFoundFault,
  DBClusterSnapshotAlreadyExistsFault,
  DBClusterSnapshotNotFoundFault,
  DBInstanceNotFoundFault,
  DBSnapshotAlreadyExistsFault,
  DBSnapshotNotFoundFault,
  DeleteDBClusterSnapshotCommand,
  DeleteDBSnapshotCommand,
  DescribeDBClusterSnapshotsCommand,
  type DescribeDBClusterSnapshotsCommandInput,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  type DescribeDBSnapshotsCommandInput,
  InvalidDBClusterSnapshotStateFault,
  InvalidDBClusterStateFault,
  InvalidDBInstanceStateFault,
  InvalidDBSnapshotStateFault,
  RDSClient,
  RDSServiceException,
  SnapshotQuotaExceededFault,
  type Tag,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import {
  ConfigError,
  DatabaseNotReadyError,
  DatabaseStoppedError,
  InvalidInputError,
  RETRYABLE_ERRORS,
  SnapshotFailedError,
  SnapshotQuotaExceededError,
  SnapshotTimeoutError,
} from '../../../functions/shared/errors.ts';
import type { Log } from '../../../functions/shared/logger.ts';
import type { ReleaseInput } from '../../../functions/shared/release-input.ts';
import { readSnapshotConfig } from '../../../functions/snapshot/config.ts';
import {
  type CreatedSnapshot,
  createSnapshot,
  type DbKind,
  executionSuffix,
  type PruneResult,
  parseSnapshotEvent,
  pruneSnapshots,
  runSnapshotAction,
  type SnapshotConfig,
  type SnapshotDeps,
  type SnapshotEvent,
  type SnapshotStatus,
  snapshotIdentifier,
  snapshotStatus,
  tagValue,
} from '../../../functions/snapshot/snapshot.ts';

const rdsMock = mockClient(RDSClient);
const rds = new RDSClient({ region: 'eu-west-1' });

const DB = 'orders-db';
const NOW = new Date('2024-05-06T07:08:09.123Z');
/** NOW plus the default SNAPSHOT_TIMEOUT_SECONDS (7200), the deadline the test deps' create returns. */
const WAIT_UNTIL = '2024-05-06T09:08:09.123Z';
const ONE_SECOND_BEFORE_NOW = '2024-05-06T07:08:08.123Z';
const ONE_SECOND_AFTER_NOW = '2024-05-06T07:08:10.123Z';
const EXECUTION =
  'arn:aws:states:eu-west-1:123456789012:execution:lockstep-release:3F2a9c1d-7b4e-4c1a-9f00-0123456789ab';
const OTHER_EXECUTION =
  'arn:aws:states:eu-west-1:123456789012:execution:lockstep-release:9b8c7d6e-0000-4000-8000-000000000000';
/** Of an earlier release: the default owner of the snapshots the describe stubs list. */
const EARLIER_EXECUTION =
  'arn:aws:states:eu-west-1:123456789012:execution:lockstep-release:0a0b0c0d-1111-4222-8333-444455556666';
const SNAPSHOT_ID = 'lockstep-orders-db-20240506070809-3f2a9c1d';
const RELEASE: ReleaseInput = {
  release: 'v1.2.3',
  image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v1.2.3',
  migrations: 'bundled',
  options: { skipSnapshot: false, dryRun: false },
};

/** Every identifier must obey RDS's rules. */
const RDS_IDENTIFIER = /^[a-z](?:[a-z0-9]|-(?=[a-z0-9]))*$/;

interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly extra: Record<string, unknown> | undefined;
}

function recordingLog(): Log & { readonly lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (message: string, extra?: Record<string, unknown>) =>
    void lines.push({ level, message, extra });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function makeDeps(kind: DbKind, config: Partial<SnapshotConfig> = {}) {
  const log = recordingLog();
  const deps: SnapshotDeps = {
    rds,
    log,
    now: () => NOW,
    config: {
      dbKind: kind,
      dbIdentifier: DB,
      prefix: 'lockstep',
      snapshotsToKeep: 10,
      snapshotTimeoutSeconds: 7200,
      ...config,
    },
  };
  return { deps, log };
}

function makeEvent(action: SnapshotEvent['action'], extra: Partial<SnapshotEvent> = {}): SnapshotEvent {
  return { action, executionId: EXECUTION, release: RELEASE, ...extra };
}

/** A snapshot as a describe call returns it. */
interface Spec {
  readonly id: string;
  readonly status?: string;
  readonly created?: Date;
  readonly percent?: number;
  /** Defaults to lockstep's own tags for {@link EARLIER_EXECUTION}; `{}` for none. */
  readonly tags?: Record<string, string>;
}

const ownTags = (execution = EXECUTION) => ({
  'lockstep:managed': 'true',
  'lockstep:release': 'v1.2.3',
  'lockstep:execution': execution,
});
const tagList = (tags: Record<string, string>): Tag[] =>
  Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
const day = (n: number) => new Date(Date.UTC(2024, 4, n, 12));
/** An identifier lockstep would have given a snapshot taken on day `n`. */
const ownId = (n: number, suffix = 'a1b2c3d4') =>
  `lockstep-orders-db-202405${String(n).padStart(2, '0')}120000-${suffix}`;
const arnOf = (id: string) => `arn:aws:rds:eu-west-1:123456789012:snapshot:${id}`;

/** The same scenarios run against both RDS APIs; this hides which one a test talks to. */
interface Fixture {
  readonly kind: DbKind;
  /** The SDK's exceptions for this kind, built as the SDK builds them. */
  readonly faults: {
    databaseNotFound(): Error;
    databaseNotReady(): Error;
    snapshotExists(): Error;
    snapshotNotFound(): Error;
    deleteRefused(): Error;
  };
  /** The snapshots of DB, as pages of DescribeDB(Cluster)Snapshots by database identifier. */
  listPages(...pages: Spec[][]): void;
  /** The snapshot DescribeDB(Cluster)Snapshots returns for one identifier, or the error it throws. */
  findResult(id: string, result: Spec | Error | 'empty'): void;
  createResult(result: Error | { status: string }): void;
  deleteRejects(id: string, err: Error): void;
  readonly sent: {
    /** Names of the commands sent, in order. */
    commands(): string[];
    creates(): {
      dbIdentifier: string | undefined;
      snapshotId: string | undefined;
      tags: Tag[] | undefined;
    }[];
    finds(): (string | undefined)[];
    lists(): { dbIdentifier: string | undefined; snapshotType: string | undefined }[];
    /** Marker of each list call, captured when it was sent (the paginator reuses its input object). */
    markers: (string | undefined)[];
    deletes(): (string | undefined)[];
  };
}

function pagedByMarker<T>(pages: T[][], markers: (string | undefined)[]) {
  return (marker: string | undefined) => {
    markers.push(marker);
    const index = marker === undefined ? 0 : Number(marker.replace('page-', '')) - 1;
    const page = pages[index];
    if (!page) throw new Error(`no page for marker ${marker}`);
    return { items: page, next: index + 1 < pages.length ? `page-${index + 2}` : undefined };
  };
}

const instanceSent: Fixture['sent'] = {
  commands: () => rdsMock.calls().map((c) => c.args[0].constructor.name),
  creates: () =>
    rdsMock.commandCalls(CreateDBSnapshotCommand).map(({ args: [{ input }] }) => ({
      dbIdentifier: input.DBInstanceIdentifier,
      snapshotId: input.DBSnapshotIdentifier,
      tags: input.Tags,
    })),
  finds: () =>
    rdsMock
      .commandCalls(DescribeDBSnapshotsCommand)
      .map(({ args: [{ input }] }) => input.DBSnapshotIdentifier)
      .filter((id) => id !== undefined),
  lists: () =>
    rdsMock
      .commandCalls(DescribeDBSnapshotsCommand)
      .filter(({ args: [{ input }] }) => input.DBSnapshotIdentifier === undefined)
      .map(({ args: [{ input }] }) => ({
        dbIdentifier: input.DBInstanceIdentifier,
        snapshotType: input.SnapshotType,
      })),
  markers: [],
  deletes: () =>
    rdsMock.commandCalls(DeleteDBSnapshotCommand).map(({ args: [{ input }] }) => input.DBSnapshotIdentifier),
};

const toDbSnapshot = (s: Spec) => ({
  DBSnapshotIdentifier: s.id,
  DBSnapshotArn: arnOf(s.id),
  DBInstanceIdentifier: DB,
  SnapshotType: 'manual',
  Status: s.status ?? 'available',
  PercentProgress: s.percent ?? 100,
  SnapshotCreateTime: s.created,
  TagList: tagList(s.tags ?? ownTags(EARLIER_EXECUTION)),
});

const instance: Fixture = {
  kind: 'instance',
  faults: {
    databaseNotFound: () =>
      new DBInstanceNotFoundFault({ message: `DBInstance ${DB} not found.`, $metadata: {} }),
    databaseNotReady: () =>
      new InvalidDBInstanceStateFault({
        message: 'DB instance is not in the available state',
        $metadata: {},
      }),
    snapshotExists: () =>
      new DBSnapshotAlreadyExistsFault({
        message: 'Cannot create the snapshot because a snapshot with the identifier already exists.',
        $metadata: {},
      }),
    snapshotNotFound: () => new DBSnapshotNotFoundFault({ message: 'DBSnapshot not found', $metadata: {} }),
    deleteRefused: () =>
      new InvalidDBSnapshotStateFault({ message: 'snapshot is being copied', $metadata: {} }),
  },
  listPages: (...pages) => {
    const page = pagedByMarker(pages, instanceSent.markers);
    rdsMock
      .on(DescribeDBSnapshotsCommand, { DBInstanceIdentifier: DB })
      .callsFake((input: DescribeDBSnapshotsCommandInput) => {
        const { items, next } = page(input.Marker);
        return { DBSnapshots: items.map(toDbSnapshot), Marker: next };
      });
  },
  findResult: (id, result) => {
    const stub = rdsMock.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: id });
    if (result instanceof Error) stub.rejects(result);
    else stub.resolves({ DBSnapshots: result === 'empty' ? [] : [toDbSnapshot(result)] });
  },
  createResult: (result) => {
    const stub = rdsMock.on(CreateDBSnapshotCommand);
    if (result instanceof Error) stub.rejects(result);
    else
      stub.callsFake((input: CreateDBSnapshotCommandInput) => ({
        DBSnapshot: {
          DBSnapshotIdentifier: input.DBSnapshotIdentifier,
          DBSnapshotArn: arnOf(input.DBSnapshotIdentifier ?? ''),
          Status: result.status,
          PercentProgress: 0,
        },
      }));
  },
  deleteRejects: (id, err) => {
    rdsMock.on(DeleteDBSnapshotCommand, { DBSnapshotIdentifier: id }).rejects(err);
  },
  sent: instanceSent,
};

const clusterSent: Fixture['sent'] = {
  commands: instanceSent.commands,
  creates: () =>
    rdsMock.commandCalls(CreateDBClusterSnapshotCommand).map(({ args: [{ input }] }) => ({
      dbIdentifier: input.DBClusterIdentifier,
      snapshotId: input.DBClusterSnapshotIdentifier,
      tags: input.Tags,
    })),
  finds: () =>
    rdsMock
      .commandCalls(DescribeDBClusterSnapshotsCommand)
      .map(({ args: [{ input }] }) => input.DBClusterSnapshotIdentifier)
      .filter((id) => id !== undefined),
  lists: () =>
    rdsMock
      .commandCalls(DescribeDBClusterSnapshotsCommand)
      .filter(({ args: [{ input }] }) => input.DBClusterSnapshotIdentifier === undefined)
      .map(({ args: [{ input }] }) => ({
        dbIdentifier: input.DBClusterIdentifier,
        snapshotType: input.SnapshotType,
      })),
  markers: [],
  deletes: () =>
    rdsMock
      .commandCalls(DeleteDBClusterSnapshotCommand)
      .map(({ args: [{ input }] }) => input.DBClusterSnapshotIdentifier),
};

const toDbClusterSnapshot = (s: Spec) => ({
  DBClusterSnapshotIdentifier: s.id,
  DBClusterSnapshotArn: arnOf(s.id).replace(':snapshot:', ':cluster-snapshot:'),
  DBClusterIdentifier: DB,
  SnapshotType: 'manual',
  Status: s.status ?? 'available',
  PercentProgress: s.percent ?? 100,
  SnapshotCreateTime: s.created,
  TagList: tagList(s.tags ?? ownTags(EARLIER_EXECUTION)),
});

const cluster: Fixture = {
  kind: 'cluster',
  faults: {
    databaseNotFound: () =>
      new DBClusterNotFoundFault({ message: `DBCluster ${DB} not found.`, $metadata: {} }),
    databaseNotReady: () =>
      new InvalidDBClusterStateFault({ message: 'DB cluster is not in the available state', $metadata: {} }),
    snapshotExists: () =>
      new DBClusterSnapshotAlreadyExistsFault({
        message: 'Cannot create the cluster snapshot because one with the identifier already exists.',
        $metadata: {},
      }),
    snapshotNotFound: () =>
      new DBClusterSnapshotNotFoundFault({ message: 'DBClusterSnapshot not found', $metadata: {} }),
    deleteRefused: () =>
      new InvalidDBClusterSnapshotStateFault({ message: 'cluster snapshot is being copied', $metadata: {} }),
  },
  listPages: (...pages) => {
    const page = pagedByMarker(pages, clusterSent.markers);
    rdsMock
      .on(DescribeDBClusterSnapshotsCommand, { DBClusterIdentifier: DB })
      .callsFake((input: DescribeDBClusterSnapshotsCommandInput) => {
        const { items, next } = page(input.Marker);
        return { DBClusterSnapshots: items.map(toDbClusterSnapshot), Marker: next };
      });
  },
  findResult: (id, result) => {
    const stub = rdsMock.on(DescribeDBClusterSnapshotsCommand, { DBClusterSnapshotIdentifier: id });
    if (result instanceof Error) stub.rejects(result);
    else stub.resolves({ DBClusterSnapshots: result === 'empty' ? [] : [toDbClusterSnapshot(result)] });
  },
  createResult: (result) => {
    const stub = rdsMock.on(CreateDBClusterSnapshotCommand);
    if (result instanceof Error) stub.rejects(result);
    else
      stub.callsFake((input: CreateDBClusterSnapshotCommandInput) => ({
        DBClusterSnapshot: {
          DBClusterSnapshotIdentifier: input.DBClusterSnapshotIdentifier,
          DBClusterSnapshotArn: arnOf(input.DBClusterSnapshotIdentifier ?? '').replace(
            ':snapshot:',
            ':cluster-snapshot:',
          ),
          Status: result.status,
          PercentProgress: 0,
        },
      }));
  },
  deleteRejects: (id, err) => {
    rdsMock.on(DeleteDBClusterSnapshotCommand, { DBClusterSnapshotIdentifier: id }).rejects(err);
  },
  sent: clusterSent,
};

const commandNames = {
  instance: {
    describe: 'DescribeDBSnapshotsCommand',
    create: 'CreateDBSnapshotCommand',
    delete: 'DeleteDBSnapshotCommand',
  },
  cluster: {
    describe: 'DescribeDBClusterSnapshotsCommand',
    create: 'CreateDBClusterSnapshotCommand',
    delete: 'DeleteDBClusterSnapshotCommand',
  },
} as const;

beforeEach(() => {
  rdsMock.reset();
  instanceSent.markers.length = 0;
  clusterSent.markers.length = 0;
  // By default the database has no manual snapshots.
  instance.listPages([]);
  cluster.listPages([]);
});

// ---------------------------------------------------------------------------------------------------------

describe('snapshotIdentifier', () => {
  const at = NOW;

  test('joins prefix, database, UTC timestamp and the start of the execution name', () => {
    // prepare: a clock reading that is a different calendar day in most time zones east of UTC
    const lateEvening = new Date('2024-12-31T23:59:58.999Z');

    // act
    const id = snapshotIdentifier({
      prefix: 'lockstep',
      dbIdentifier: DB,
      executionArn: EXECUTION,
      at: lateEvening,
    });

    // assess
    assert.equal(id, 'lockstep-orders-db-20241231235958-3f2a9c1d');
  });

  test('turns underscores, dots and capitals in the database id into single lowercase hyphens', () => {
    const id = snapshotIdentifier({
      prefix: 'lockstep',
      dbIdentifier: 'Orders__DB..prod_',
      executionArn: EXECUTION,
      at,
    });

    assert.equal(id, 'lockstep-orders-db-prod-20240506070809-3f2a9c1d');
  });

  test('shortens a long database id, keeping the timestamp and execution suffix, without a trailing hyphen', () => {
    // prepare: the cut falls just after a hyphen (room for 30 characters of database after "lockstep-")
    const dbIdentifier = `${'a'.repeat(29)}-${'b'.repeat(33)}`;

    // act
    const id = snapshotIdentifier({ prefix: 'lockstep', dbIdentifier, executionArn: EXECUTION, at });

    // assess
    assert.equal(id, `lockstep-${'a'.repeat(29)}-20240506070809-3f2a9c1d`);
    assert.ok(id.length <= 63);
    assert.match(id, RDS_IDENTIFIER);
  });

  test('a 63-character database id still gives an identifier of at most 63 characters', () => {
    const id = snapshotIdentifier({
      prefix: 'lockstep',
      dbIdentifier: 'd'.repeat(63),
      executionArn: EXECUTION,
      at,
    });

    assert.equal(id.length, 63);
    assert.ok(id.endsWith('-20240506070809-3f2a9c1d'));
  });

  test('keeps only letters and digits of an execution name with odd characters', () => {
    const arn = (name: string) => `arn:aws:states:eu-west-1:123456789012:execution:release-flow:${name}`;

    assert.equal(executionSuffix(arn('Release_V1.2.3+hotfix')), 'releasev');
    assert.equal(executionSuffix(arn('a-b_c')), 'abc');
    assert.equal(executionSuffix(arn('ÄÖÜ-42')), '42');
  });

  test('an execution name with no letters or digits gets a stable hash instead', () => {
    const arn = 'arn:aws:states:eu-west-1:123456789012:execution:release-flow:(-_-)';

    const suffix = executionSuffix(arn);

    assert.match(suffix, /^[0-9a-f]{8}$/);
    assert.equal(executionSuffix(arn), suffix);
    assert.notEqual(executionSuffix(`${arn}!`), suffix);
  });

  test('takes the name, not the run id, from an express execution ARN', () => {
    const arn =
      'arn:aws:states:eu-west-1:123456789012:express:release-flow:Nightly-01:0f0e0d0c-1111-2222-3333-444455556666';

    assert.equal(executionSuffix(arn), 'nightly0');
  });

  test('obeys the RDS identifier rules for any database id, execution name and valid prefix', () => {
    const prefixes = ['lockstep', 'a', `p${'q'.repeat(29)}`, 'Team-X'];
    const databases = [
      'orders_db',
      'Orders.DB.prod',
      '__x__',
      'a--b',
      'x'.repeat(200),
      '-lead',
      '9nine',
      'ünï-db',
      '',
    ];
    const names = ['abc', 'ALL_CAPS-NAME', '!!!', 'ä', 'n'.repeat(80)];

    for (const prefix of prefixes)
      for (const dbIdentifier of databases)
        for (const name of names) {
          const executionArn = `arn:aws:states:eu-west-1:123456789012:execution:sm:${name}`;
          const id = snapshotIdentifier({ prefix, dbIdentifier, executionArn, at });
          assert.ok(id.length <= 63, id);
          assert.match(id, RDS_IDENTIFIER);
          assert.match(id, /-20240506070809-[a-z0-9]{1,8}$/);
        }
  });
});

describe('tagValue', () => {
  test('truncates to 256 characters without splitting a character', () => {
    const value = tagValue(`${'x'.repeat(255)}ä${'y'.repeat(100)}`);

    assert.equal(Array.from(value).length, 256);
    assert.ok(value.endsWith('ä'));
  });

  test('replaces characters RDS does not allow in a tag value', () => {
    assert.equal(
      tagValue('arn:aws:states:x:1:execution:sm:a/b=c+d@e f'),
      'arn:aws:states:x:1:execution:sm:a/b=c+d@e f',
    );
    assert.equal(tagValue('v1#2!(3)'), 'v1_2__3_');
  });
});

describe('readSnapshotConfig', () => {
  test('applies the defaults and lowercases the prefix', () => {
    const config = readSnapshotConfig({ DB_KIND: 'cluster', DB_IDENTIFIER: DB, SNAPSHOT_PREFIX: 'Team-X' });

    assert.deepEqual(config, {
      dbKind: 'cluster',
      dbIdentifier: DB,
      prefix: 'team-x',
      snapshotsToKeep: 10,
      snapshotTimeoutSeconds: 7200,
    });
    assert.equal(readSnapshotConfig({ DB_KIND: 'instance', DB_IDENTIFIER: DB }).prefix, 'lockstep');
  });

  test('reads SNAPSHOT_TIMEOUT_SECONDS', () => {
    const config = readSnapshotConfig({
      DB_KIND: 'instance',
      DB_IDENTIFIER: DB,
      SNAPSHOT_TIMEOUT_SECONDS: '900',
    });

    assert.equal(config.snapshotTimeoutSeconds, 900);
  });

  test('a non-numeric SNAPSHOT_TIMEOUT_SECONDS is a ConfigError naming it', () => {
    assert.throws(
      () =>
        readSnapshotConfig({ DB_KIND: 'instance', DB_IDENTIFIER: DB, SNAPSHOT_TIMEOUT_SECONDS: 'two hours' }),
      (err) =>
        err instanceof ConfigError &&
        err.variable === 'SNAPSHOT_TIMEOUT_SECONDS' &&
        err.message === 'environment variable SNAPSHOT_TIMEOUT_SECONDS: must be a whole number',
    );
  });

  test('a missing DB_IDENTIFIER is a ConfigError naming it', () => {
    assert.throws(
      () => readSnapshotConfig({ DB_KIND: 'instance' }),
      (err) =>
        err instanceof ConfigError && err.variable === 'DB_IDENTIFIER' && /is not set/.test(err.message),
    );
  });

  test('rejects each malformed variable by name', () => {
    const valid = { DB_KIND: 'instance', DB_IDENTIFIER: DB };
    const cases: [Record<string, string>, string][] = [
      [{ DB_KIND: 'aurora' }, 'DB_KIND'],
      [{ DB_KIND: '' }, 'DB_KIND'],
      [{ DB_IDENTIFIER: 'orders_db' }, 'DB_IDENTIFIER'],
      [{ DB_IDENTIFIER: '1orders' }, 'DB_IDENTIFIER'],
      [{ DB_IDENTIFIER: 'x'.repeat(64) }, 'DB_IDENTIFIER'],
      [{ SNAPSHOT_PREFIX: '1abc' }, 'SNAPSHOT_PREFIX'],
      [{ SNAPSHOT_PREFIX: 'ab--c' }, 'SNAPSHOT_PREFIX'],
      [{ SNAPSHOT_PREFIX: 'abc-' }, 'SNAPSHOT_PREFIX'],
      [{ SNAPSHOT_PREFIX: 'a_b' }, 'SNAPSHOT_PREFIX'],
      [{ SNAPSHOT_PREFIX: 'p'.repeat(31) }, 'SNAPSHOT_PREFIX'],
      [{ SNAPSHOTS_TO_KEEP: '0' }, 'SNAPSHOTS_TO_KEEP'],
      [{ SNAPSHOTS_TO_KEEP: '2.5' }, 'SNAPSHOTS_TO_KEEP'],
      [{ SNAPSHOTS_TO_KEEP: 'ten' }, 'SNAPSHOTS_TO_KEEP'],
      [{ SNAPSHOT_TIMEOUT_SECONDS: '0' }, 'SNAPSHOT_TIMEOUT_SECONDS'],
      [{ SNAPSHOT_TIMEOUT_SECONDS: '-60' }, 'SNAPSHOT_TIMEOUT_SECONDS'],
      [{ SNAPSHOT_TIMEOUT_SECONDS: '1.5' }, 'SNAPSHOT_TIMEOUT_SECONDS'],
      [{ SNAPSHOT_TIMEOUT_SECONDS: '2h' }, 'SNAPSHOT_TIMEOUT_SECONDS'],
    ];
    for (const [override, variable] of cases)
      assert.throws(
        () => readSnapshotConfig({ ...valid, ...override }),
        (err) => err instanceof ConfigError && err.variable === variable,
        JSON.stringify(override),
      );
  });
});

describe('parseSnapshotEvent', () => {
  const valid = { action: 'create', executionId: EXECUTION, release: RELEASE };

  test('accepts the state machine event', () => {
    const event = parseSnapshotEvent({ ...valid, action: 'status', snapshotId: SNAPSHOT_ID });

    assert.deepEqual(event, { ...valid, action: 'status', snapshotId: SNAPSHOT_ID });
  });

  test('accepts the waitUntil create returned on a status event', () => {
    const status = { ...valid, action: 'status', snapshotId: SNAPSHOT_ID };

    for (const waitUntil of [WAIT_UNTIL, '2024-05-06T09:08:09Z', '2024-05-06T11:08:09+02:00'])
      assert.equal(parseSnapshotEvent({ ...status, waitUntil }).waitUntil, waitUntil);
  });

  test('names the bad field of a malformed event', () => {
    const cases: [unknown, string][] = [
      [{ ...valid, action: 'restore' }, 'action'],
      [{ ...valid, executionId: 'not-an-arn' }, 'executionId'],
      [
        { ...valid, executionId: 'arn:aws:states:eu-west-1:123456789012:stateMachine:release-flow' },
        'executionId',
      ],
      [{ ...valid, release: undefined }, 'release'],
      [
        { ...valid, release: { ...RELEASE, options: { dryRun: 'yes', skipSnapshot: false } } },
        'release.options.dryRun',
      ],
      [{ ...valid, action: 'status' }, 'snapshotId'],
      [{ ...valid, snapshotId: 'has_underscore' }, 'snapshotId'],
      [{ ...valid, action: 'status', snapshotId: SNAPSHOT_ID, waitUntil: 'tomorrow' }, 'waitUntil'],
      [{ ...valid, action: 'status', snapshotId: SNAPSHOT_ID, waitUntil: '2024-05-06' }, 'waitUntil'],
      [{ ...valid, action: 'status', snapshotId: SNAPSHOT_ID, waitUntil: 1714979289123 }, 'waitUntil'],
      ['create', 'event'],
    ];
    for (const [raw, field] of cases)
      assert.throws(
        () => parseSnapshotEvent(raw),
        (err) => err instanceof InvalidInputError && err.field === field,
        JSON.stringify(raw),
      );
  });
});

// ---------------------------------------------------------------------------------------------------------

for (const fx of [instance, cluster]) {
  const names = commandNames[fx.kind];

  describe(`create (${fx.kind})`, () => {
    test(`starts a ${fx.kind} snapshot named after prefix, database, time and execution, tagged as lockstep's`, async () => {
      // prepare: a 15-minute timeout
      const { deps, log } = makeDeps(fx.kind, { snapshotTimeoutSeconds: 900 });
      fx.createResult({ status: 'creating' });

      // act
      const result = await createSnapshot(deps, makeEvent('create'));

      // assess
      assert.deepEqual(result, {
        snapshotId: SNAPSHOT_ID,
        snapshotArn:
          fx.kind === 'instance'
            ? arnOf(SNAPSHOT_ID)
            : arnOf(SNAPSHOT_ID).replace(':snapshot:', ':cluster-snapshot:'),
        status: 'creating',
        waitUntil: '2024-05-06T07:23:09.123Z',
      } satisfies CreatedSnapshot);
      assert.deepEqual(fx.sent.creates(), [
        {
          dbIdentifier: DB,
          snapshotId: SNAPSHOT_ID,
          tags: [
            { Key: 'lockstep:managed', Value: 'true' },
            { Key: 'lockstep:release', Value: 'v1.2.3' },
            { Key: 'lockstep:execution', Value: EXECUTION },
          ],
        },
      ]);
      assert.deepEqual(
        fx.sent.commands(),
        [names.describe, names.create],
        'looks for an earlier attempt, then creates',
      );
      assert.deepEqual(fx.sent.lists(), [{ dbIdentifier: DB, snapshotType: 'manual' }]);
      assert.ok(!JSON.stringify(log.lines).includes(RELEASE.image), 'logs identifiers, not the event');
    });

    test('a quota fault is a SnapshotQuotaExceededError that says what to do', async () => {
      const { deps } = makeDeps(fx.kind);
      const fault = new SnapshotQuotaExceededFault({
        message: 'Cannot create more than 100 manual snapshots',
        $metadata: {},
      });
      fx.createResult(fault);

      await assert.rejects(createSnapshot(deps, makeEvent('create')), (err) => {
        assert.ok(err instanceof SnapshotQuotaExceededError);
        assert.equal(err.name, 'SnapshotQuotaExceededError');
        assert.ok(!(RETRYABLE_ERRORS as readonly string[]).includes(err.name), 'fails the release at once');
        assert.match(err.message, new RegExp(SNAPSHOT_ID));
        assert.match(err.message, /delete old manual snapshots/);
        assert.equal(err.cause, fault);
        return true;
      });
    });

    test('a database that is not available is the retryable DatabaseNotReadyError', async () => {
      const { deps } = makeDeps(fx.kind);
      const fault = fx.faults.databaseNotReady();
      fx.createResult(fault);

      await assert.rejects(createSnapshot(deps, makeEvent('create')), (err) => {
        assert.ok(err instanceof DatabaseNotReadyError);
        assert.ok((RETRYABLE_ERRORS as readonly string[]).includes(err.name));
        assert.match(err.message, new RegExp(DB));
        assert.equal(err.cause, fault);
        return true;
      });
    });

    test('a stopped database is the final DatabaseStoppedError, not hours of retries', async () => {
      const { deps } = makeDeps(fx.kind);
      fx.createResult(fx.faults.databaseNotReady());
      rdsMock.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ DBInstanceStatus: 'stopped' }] });
      rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [{ Status: 'stopped' }] });

      await assert.rejects(createSnapshot(deps, makeEvent('create')), (err) => {
        assert.ok(err instanceof DatabaseStoppedError);
        assert.ok(!(RETRYABLE_ERRORS as readonly string[]).includes(err.name), 'fails the release at once');
        assert.match(err.message, new RegExp(`"${DB}" is stopped: start it`));
        return true;
      });
    });

    test('a database that does not exist is a ConfigError naming DB_IDENTIFIER', async () => {
      const { deps } = makeDeps(fx.kind);
      fx.createResult(fx.faults.databaseNotFound());

      await assert.rejects(createSnapshot(deps, makeEvent('create')), (err) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.variable, 'DB_IDENTIFIER');
        assert.match(err.message, new RegExp(`DB_KIND "${fx.kind}"`));
        return true;
      });
    });

    test('other SDK errors pass through unchanged, so Step Functions sees their own name', async () => {
      const { deps } = makeDeps(fx.kind);
      const throttled = new RDSServiceException({
        name: 'ThrottlingException',
        $fault: 'client',
        $metadata: {},
        message: 'Rate exceeded',
      });
      fx.createResult(throttled);

      await assert.rejects(createSnapshot(deps, makeEvent('create')), (err) => err === throttled);
    });

    test('when the identifier already exists for this execution, returns that snapshot as created', async () => {
      // prepare: a retried create in the same second
      const { deps } = makeDeps(fx.kind);
      fx.createResult(fx.faults.snapshotExists());
      fx.findResult(SNAPSHOT_ID, { id: SNAPSHOT_ID, status: 'creating', percent: 35, tags: ownTags() });

      // act
      const result = await createSnapshot(deps, makeEvent('create'));

      // assess
      assert.equal(result.snapshotId, SNAPSHOT_ID);
      assert.equal(result.status, 'creating');
      assert.equal(result.waitUntil, WAIT_UNTIL);
      assert.deepEqual(fx.sent.finds(), [SNAPSHOT_ID]);
    });

    test("fails when the identifier is taken by another execution's snapshot", async () => {
      const { deps } = makeDeps(fx.kind);
      fx.createResult(fx.faults.snapshotExists());
      fx.findResult(SNAPSHOT_ID, { id: SNAPSHOT_ID, tags: ownTags(OTHER_EXECUTION) });

      await assert.rejects(
        createSnapshot(deps, makeEvent('create')),
        (err) =>
          err instanceof SnapshotFailedError &&
          err.status === 'identifier-in-use' &&
          err.snapshotId === SNAPSHOT_ID,
      );
    });

    test('reuses the snapshot an earlier attempt of this execution started, without creating another', async () => {
      // prepare: the first attempt started a snapshot a minute ago (so under another identifier), then timed out
      const { deps } = makeDeps(fx.kind);
      const earlier = 'lockstep-orders-db-20240506070709-3f2a9c1d';
      fx.listPages([
        { id: ownId(1), created: day(1) },
        { id: earlier, status: 'creating', tags: ownTags() },
      ]);
      fx.createResult({ status: 'creating' });

      // act
      const result = await createSnapshot(deps, makeEvent('create'));

      // assess
      assert.equal(result.snapshotId, earlier);
      assert.equal(result.status, 'creating');
      assert.equal(result.waitUntil, WAIT_UNTIL, 'a deadline counted from this attempt');
      assert.deepEqual(fx.sent.creates(), []);
    });

    test("starts a new snapshot when this execution's earlier one failed", async () => {
      const { deps } = makeDeps(fx.kind);
      fx.listPages([{ id: 'lockstep-orders-db-20240506070709-3f2a9c1d', status: 'failed', tags: ownTags() }]);
      fx.createResult({ status: 'creating' });

      const result = await createSnapshot(deps, makeEvent('create'));

      assert.equal(result.snapshotId, SNAPSHOT_ID);
      assert.equal(fx.sent.creates().length, 1);
    });
  });

  describe(`status (${fx.kind})`, () => {
    test('an available snapshot is reported available', async () => {
      const { deps } = makeDeps(fx.kind);
      fx.findResult(SNAPSHOT_ID, { id: SNAPSHOT_ID, status: 'available', percent: 100 });

      const result = await snapshotStatus(deps, SNAPSHOT_ID);

      assert.deepEqual(result, {
        snapshotId: SNAPSHOT_ID,
        status: 'available',
        percentProgress: 100,
        available: true,
      } satisfies SnapshotStatus);
      assert.deepEqual(fx.sent.finds(), [SNAPSHOT_ID]);
      assert.deepEqual(fx.sent.commands(), [names.describe]);
    });

    test('a snapshot still being created is reported with its progress, not available', async () => {
      const { deps } = makeDeps(fx.kind);
      fx.findResult(SNAPSHOT_ID, { id: SNAPSHOT_ID, status: 'creating', percent: 40 });

      const result = await snapshotStatus(deps, SNAPSHOT_ID);

      assert.deepEqual(result, {
        snapshotId: SNAPSHOT_ID,
        status: 'creating',
        percentProgress: 40,
        available: false,
      });
    });

    test('a snapshot that can never become available is a SnapshotFailedError with its status', async () => {
      for (const status of [
        'failed',
        'deleted',
        'deleting',
        'incompatible-restore',
        'incompatible-parameters',
      ]) {
        rdsMock.reset();
        const { deps } = makeDeps(fx.kind);
        fx.findResult(SNAPSHOT_ID, { id: SNAPSHOT_ID, status });

        await assert.rejects(
          snapshotStatus(deps, SNAPSHOT_ID),
          (err) =>
            err instanceof SnapshotFailedError && err.status === status && err.snapshotId === SNAPSHOT_ID,
          status,
        );
      }
    });

    test("a snapshot RDS does not know is a SnapshotFailedError with status 'not-found'", async () => {
      for (const result of [fx.faults.snapshotNotFound(), 'empty' as const]) {
        rdsMock.reset();
        const { deps } = makeDeps(fx.kind);
        fx.findResult(SNAPSHOT_ID, result);

        await assert.rejects(
          snapshotStatus(deps, SNAPSHOT_ID),
          (err) => err instanceof SnapshotFailedError && err.status === 'not-found',
        );
      }
    });

    test('a snapshot not available after waitUntil is a SnapshotTimeoutError with its last status', async () => {
      // prepare
      const { deps, log } = makeDeps(fx.kind);
      fx.findResult(SNAPSHOT_ID, { id: SNAPSHOT_ID, status: 'creating', percent: 95 });

      // act
      const err = await snapshotStatus(deps, SNAPSHOT_ID, ONE_SECOND_BEFORE_NOW).then(
        () => assert.fail('expected a SnapshotTimeoutError'),
        (e: unknown) => e,
      );

      // assess
      assert.ok(err instanceof SnapshotTimeoutError, String(err));
      assert.equal(err.name, 'SnapshotTimeoutError');
      assert.equal(err.code, 'SNAPSHOT_TIMEOUT');
      assert.equal(err.snapshotId, SNAPSHOT_ID);
      assert.equal(err.status, 'creating');
      assert.equal(err.waitedUntil, ONE_SECOND_BEFORE_NOW);
      assert.deepEqual(err.toJSON(), {
        name: 'SnapshotTimeoutError',
        code: 'SNAPSHOT_TIMEOUT',
        message: err.message,
        snapshotId: SNAPSHOT_ID,
        status: 'creating',
        waitedUntil: ONE_SECOND_BEFORE_NOW,
      });
      assert.match(err.message, /did not become available in time/);
      assert.match(err.message, /nothing was migrated/);
      assert.match(err.message, /may still complete/);
      assert.ok(!(RETRYABLE_ERRORS as readonly string[]).includes(err.name), 'fails the release at once');
      assert.equal(log.lines.find((l) => l.level === 'warn')?.extra?.snapshotId, SNAPSHOT_ID);
      assert.deepEqual(fx.sent.deletes(), [], 'the snapshot is left in place');
    });

    test('a snapshot that became available is reported available even after waitUntil', async () => {
      const { deps } = makeDeps(fx.kind);
      fx.findResult(SNAPSHOT_ID, { id: SNAPSHOT_ID, status: 'available', percent: 100 });

      const result = await snapshotStatus(deps, SNAPSHOT_ID, ONE_SECOND_BEFORE_NOW);

      assert.equal(result.available, true);
    });

    test('before waitUntil, and exactly at it, a snapshot still being created is reported not available', async () => {
      for (const waitUntil of [ONE_SECOND_AFTER_NOW, NOW.toISOString()]) {
        rdsMock.reset();
        const { deps } = makeDeps(fx.kind);
        fx.findResult(SNAPSHOT_ID, { id: SNAPSHOT_ID, status: 'creating', percent: 40 });

        const result = await snapshotStatus(deps, SNAPSHOT_ID, waitUntil);

        assert.deepEqual(
          result,
          { snapshotId: SNAPSHOT_ID, status: 'creating', percentProgress: 40, available: false },
          waitUntil,
        );
      }
    });

    test('a failed snapshot past waitUntil is still a SnapshotFailedError, not a timeout', async () => {
      for (const result of [{ id: SNAPSHOT_ID, status: 'failed' }, 'empty' as const]) {
        rdsMock.reset();
        const { deps } = makeDeps(fx.kind);
        fx.findResult(SNAPSHOT_ID, result);

        await assert.rejects(
          snapshotStatus(deps, SNAPSHOT_ID, ONE_SECOND_BEFORE_NOW),
          (err) => err instanceof SnapshotFailedError,
          JSON.stringify(result),
        );
      }
    });

    test('runSnapshotAction passes the event waitUntil to status', async () => {
      const { deps } = makeDeps(fx.kind);
      fx.findResult(SNAPSHOT_ID, { id: SNAPSHOT_ID, status: 'creating', percent: 10 });

      await assert.rejects(
        runSnapshotAction(
          deps,
          makeEvent('status', { snapshotId: SNAPSHOT_ID, waitUntil: ONE_SECOND_BEFORE_NOW }),
        ),
        SnapshotTimeoutError,
      );
    });

    test('runSnapshotAction dispatches status with the event snapshotId', async () => {
      const { deps } = makeDeps(fx.kind);
      fx.findResult(SNAPSHOT_ID, { id: SNAPSHOT_ID, status: 'creating', percent: 10 });

      const result = await runSnapshotAction(deps, makeEvent('status', { snapshotId: SNAPSHOT_ID }));

      assert.equal((result as SnapshotStatus).percentProgress, 10);
    });
  });

  describe(`prune (${fx.kind})`, () => {
    test('keeps the newest snapshots up to the number to keep and deletes the older ones', async () => {
      // prepare: listed in no particular order
      const { deps } = makeDeps(fx.kind, { snapshotsToKeep: 2 });
      fx.listPages([
        { id: ownId(2), created: day(2) },
        { id: ownId(4), created: day(4) },
        { id: ownId(1), created: day(1) },
        { id: ownId(3), created: day(3) },
      ]);

      // act
      const result = await pruneSnapshots(deps, makeEvent('prune'));

      // assess
      assert.deepEqual(result, {
        kept: [ownId(4), ownId(3)],
        deleted: [ownId(2), ownId(1)],
        failed: [],
      } satisfies PruneResult);
      assert.deepEqual(fx.sent.deletes(), [ownId(2), ownId(1)]);
      assert.deepEqual(fx.sent.lists(), [{ dbIdentifier: DB, snapshotType: 'manual' }]);
      assert.deepEqual(fx.sent.commands(), [names.describe, names.delete, names.delete]);
    });

    test('never deletes a snapshot that is not managed by lockstep, has another prefix or database, or is not available', async () => {
      // prepare: keep 1; everything but the three old own available snapshots is off limits
      const { deps } = makeDeps(fx.kind, { snapshotsToKeep: 1 });
      const untouchable: Spec[] = [
        { id: ownId(1, 'untagged'), created: day(1), tags: {} },
        { id: ownId(2, 'managedf'), created: day(2), tags: { ...ownTags(), 'lockstep:managed': 'false' } },
        { id: 'other-orders-db-20240503120000-a1b2c3d4', created: day(3) },
        { id: 'lockstep-staging-orders-db-20240504120000-a1b2c3d4', created: day(4) },
        { id: 'orders-db-before-upgrade', created: day(5), tags: {} },
        { id: 'lockstep-orders-db-manual-copy', created: day(6) },
        { id: ownId(7, 'creating'), status: 'creating' },
        { id: ownId(8, 'failed'), created: day(8), status: 'failed' },
        { id: ownId(9, 'copying'), created: day(9), status: 'copying' },
      ];
      fx.listPages([
        ...untouchable,
        { id: ownId(10), created: day(10) },
        { id: ownId(11), created: day(11) },
        { id: ownId(12), created: day(12) },
      ]);

      // act
      const result = await pruneSnapshots(deps, makeEvent('prune'));

      // assess
      assert.deepEqual(result.kept, [ownId(12)]);
      assert.deepEqual(result.deleted, [ownId(11), ownId(10)]);
      assert.deepEqual(fx.sent.deletes(), [ownId(11), ownId(10)]);
    });

    test("never deletes this execution's snapshot, even beyond the number to keep", async () => {
      // prepare: this execution's snapshot (found by its tag, and by the event's snapshotId) is not the newest
      const { deps } = makeDeps(fx.kind, { snapshotsToKeep: 1 });
      fx.listPages([
        { id: ownId(3, 'other'), created: day(3) },
        { id: ownId(2, '3f2a9c1d'), created: day(2), tags: ownTags() },
        { id: ownId(1, 'byevent'), created: day(1) },
        { id: ownId(0, 'old'), created: new Date(Date.UTC(2024, 3, 30)) },
      ]);

      // act
      const result = await pruneSnapshots(deps, makeEvent('prune', { snapshotId: ownId(1, 'byevent') }));

      // assess
      assert.deepEqual(result.kept, [ownId(3, 'other'), ownId(2, '3f2a9c1d'), ownId(1, 'byevent')]);
      assert.deepEqual(fx.sent.deletes(), [ownId(0, 'old')]);
    });

    test('reads every page of snapshots before choosing which to delete', async () => {
      // prepare: the newest snapshots are on the second page
      const { deps } = makeDeps(fx.kind, { snapshotsToKeep: 2 });
      fx.listPages(
        [
          { id: ownId(1), created: day(1) },
          { id: ownId(2), created: day(2) },
        ],
        [
          { id: ownId(3), created: day(3) },
          { id: ownId(4), created: day(4) },
        ],
      );

      // act
      const result = await pruneSnapshots(deps, makeEvent('prune'));

      // assess
      assert.deepEqual(fx.sent.markers, [undefined, 'page-2']);
      assert.deepEqual(result.kept, [ownId(4), ownId(3)]);
      assert.deepEqual(result.deleted, [ownId(2), ownId(1)]);
    });

    test('a delete that fails is logged and reported, and the others still go ahead', async () => {
      // prepare
      const { deps, log } = makeDeps(fx.kind, { snapshotsToKeep: 1 });
      fx.listPages([
        { id: ownId(4), created: day(4) },
        { id: ownId(3), created: day(3) },
        { id: ownId(2), created: day(2) },
        { id: ownId(1), created: day(1) },
      ]);
      fx.deleteRejects(ownId(3), fx.faults.deleteRefused());

      // act
      const result = await pruneSnapshots(deps, makeEvent('prune'));

      // assess
      assert.deepEqual(result.kept, [ownId(4)]);
      assert.deepEqual(result.deleted, [ownId(2), ownId(1)]);
      assert.equal(result.failed.length, 1);
      assert.equal(result.failed[0]?.snapshotId, ownId(3));
      assert.match(result.failed[0]?.reason ?? '', /^InvalidDB(Cluster)?SnapshotStateFault: /);
      assert.deepEqual(fx.sent.deletes(), [ownId(3), ownId(2), ownId(1)]);
      const warning = log.lines.find((l) => l.level === 'warn');
      assert.equal(warning?.extra?.snapshotId, ownId(3));
    });

    test('with nothing beyond the number to keep, deletes nothing', async () => {
      const { deps } = makeDeps(fx.kind, { snapshotsToKeep: 10 });
      fx.listPages([{ id: ownId(1), created: day(1) }]);

      const result = await runSnapshotAction(deps, makeEvent('prune'));

      assert.deepEqual(result, { kept: [ownId(1)], deleted: [], failed: [] });
      assert.deepEqual(fx.sent.deletes(), []);
    });
  });
}
