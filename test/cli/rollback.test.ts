/**
 * `lockstep rollback` on AWS (cli/commands/rollback.ts): the records read through a mocked DynamoDB client (the
 * rehearsal's records table answering the Query), the files classified from a real --dir, and the rollback state
 * machine started through a mocked Step Functions client with exactly the contract input
 * (functions/shared/rollback-input.ts); nothing is started when the decision refuses or with --dry-run.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, beforeEach, describe, test } from 'node:test';
import { DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { run } from '../../cli/commands/rollback.ts';
import { ExitCode } from '../../cli/exit-codes.ts';
import { Output } from '../../cli/output.ts';
import type { RawRollbackOptions } from '../../cli/rollback-options.ts';
import { loadMigrations } from '../../engine/migration-files.ts';
import { LocalRecordsTable } from '../../rehearsal/stand-ins/records.ts';

const TABLE = 'ReleaseRecords';
const SM = 'arn:aws:states:eu-west-1:123456789012:stateMachine:Rollback-StateMachine';
const CALLER = 'arn:aws:sts::123456789012:assumed-role/deployer/alice';
const TD = (n: number) => `arn:aws:ecs:eu-west-1:123456789012:task-definition/shop:${n}`;
const IMAGE = (r: string) => `123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop:${r}`;

describe('lockstep rollback (AWS)', () => {
  const dynamo = mockClient(DynamoDBClient);
  const sfn = mockClient(SFNClient);
  let dir: string;
  let table: LocalRecordsTable;
  let callerAsked: number;

  /** Release `n` of database shop, applying `files` (with their checksums in --dir) after taking a snapshot. */
  async function release(n: number, label: string, files: string[]) {
    const sums = new Map((await loadMigrations(join(dir, 'migrations'))).map((f) => [f.file, f.checksum]));
    const startedAt = `2026-03-01T10:0${n}:00.000Z`;
    const S = (s: string) => ({ S: s });
    table.putItem({
      TableName: TABLE,
      Item: {
        database: S('shop'),
        recordKey: S(`${startedAt}#${label}`),
        kind: S('release'),
        release: S(label),
        image: S(IMAGE(label)),
        outcome: S('SUCCEEDED'),
        startedAt: S(startedAt),
        snapshotId: S(`lockstep-shop-20260301100${n}01-${label}`),
        plan: S(
          JSON.stringify({
            record: {
              phase: 'pre-deploy',
              count: files.length,
              truncated: false,
              migrations: files.map((file) => ({
                version: file.slice(0, 4),
                file,
                checksum: sums.get(file),
              })),
            },
          }),
        ),
        deployment: S(JSON.stringify({ taskDefinitionArn: TD(n), previousTaskDefinitionArn: TD(n - 1) })),
        input: S(JSON.stringify({ image: IMAGE(label) })),
      },
    });
  }

  const rollback = (raw: RawRollbackOptions) => {
    return run(
      { dir: join(dir, 'migrations'), ...raw },
      {
        output: new Output(new PassThrough(), new PassThrough()),
        env: { LOCKSTEP_RECORDS_TABLE: TABLE, LOCKSTEP_ROLLBACK_STATE_MACHINE: SM },
        cwd: dir,
        now: () => new Date(Date.UTC(2026, 2, 1, 11, 30, 0)),
        dynamodb: () => new DynamoDBClient({ region: 'eu-west-1' }),
        sfn: () => new SFNClient({ region: 'eu-west-1' }),
        callerArn: async () => {
          callerAsked++;
          return CALLER;
        },
      },
    );
  };
  const started = () => sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lockstep-rollback-aws-'));
    mkdirSync(join(dir, 'migrations'));
    table = new LocalRecordsTable(TABLE, join(dir, 'records'));
    const files = {
      '0001_accounts.sql': 'CREATE TABLE accounts (id bigint PRIMARY KEY, legacy text);',
      '0002_drop_legacy.sql': 'ALTER TABLE accounts DROP COLUMN legacy;',
      '0003_nickname.sql': 'ALTER TABLE accounts ADD COLUMN nickname text;',
    };
    for (const [file, sql] of Object.entries(files)) writeFileSync(join(dir, 'migrations', file), sql);
    await release(1, 'v1', ['0001_accounts.sql']);
    await release(2, 'v2', ['0002_drop_legacy.sql']);
    await release(3, 'v3', ['0003_nickname.sql']);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  beforeEach(() => {
    dynamo.reset();
    sfn.reset();
    callerAsked = 0;
    dynamo.on(QueryCommand).callsFake((input) => table.query(input));
    sfn.on(StartExecutionCommand).resolves({
      executionArn: `${SM.replace(':stateMachine:', ':execution:')}:rollback-to-v2-20260301113000`,
    });
  });

  test('image only: starts the rollback state machine with exactly the contract input, restore null', async () => {
    const outcome = await rollback({ to: 'v2', reason: 'v3 breaks checkout' });

    assert.equal(outcome.exitCode, ExitCode.Success, String(outcome.error));
    assert.deepEqual(
      started().map((i) => [i.stateMachineArn, i.name]),
      [[SM, 'rollback-to-v2-20260301113000']],
    );
    assert.deepEqual(JSON.parse(started()[0]?.input ?? ''), {
      rollback: 'rollback-to-v2',
      to: {
        release: 'v2',
        recordKey: '2026-03-01T10:02:00.000Z#v2',
        image: IMAGE('v2'),
        taskDefinitionArn: TD(2),
      },
      restore: null,
      requestedBy: CALLER,
      reason: 'v3 breaks checkout',
    });
  });

  test('a restore: refused without --restore-database, nothing started; with it, the first later release’s snapshot', async () => {
    const refused = await rollback({ to: 'v1' });

    assert.equal(refused.exitCode, ExitCode.RollbackNeedsRestore);
    assert.equal((refused.error as Error).name, 'RestoreRequiredError');
    assert.deepEqual([started().length, callerAsked], [0, 0]);

    const outcome = await rollback({ to: 'v1', restoreDatabase: true, reason: 'bad data' });

    assert.equal(outcome.exitCode, ExitCode.Success, String(outcome.error));
    assert.deepEqual(JSON.parse(started()[0]?.input ?? ''), {
      rollback: 'rollback-to-v1',
      to: {
        release: 'v1',
        recordKey: '2026-03-01T10:01:00.000Z#v1',
        image: IMAGE('v1'),
        taskDefinitionArn: TD(1),
      },
      restore: { snapshotId: 'lockstep-shop-20260301100201-v2', snapshotCreatedAt: '2026-03-01T10:02:01Z' },
      requestedBy: CALLER,
      reason: 'bad data',
    });
  });

  test('--dry-run prints the decision and starts nothing', async () => {
    const outcome = await rollback({ to: 'v1', dryRun: true });

    assert.equal(outcome.exitCode, ExitCode.Success);
    assert.match(outcome.text ?? '', /0002_drop_legacy\.sql +incompatible/);
    assert.match(
      outcome.text ?? '',
      /snapshot {3}lockstep-shop-20260301100201-v2, taken 2026-03-01T10:02:01Z by v2/,
    );
    assert.deepEqual([started().length, callerAsked], [0, 0]);
  });

  test('without a table, or with a state machine that is no ARN, a usage error before anything starts', async () => {
    const noTable = await run(
      { to: 'v1' },
      {
        output: new Output(new PassThrough(), new PassThrough()),
        env: { LOCKSTEP_ROLLBACK_STATE_MACHINE: SM },
        cwd: dir,
        now: () => new Date(),
        dynamodb: () => assert.fail('no client without a table'),
        sfn: () => assert.fail('no client without a table'),
        callerArn: async () => CALLER,
      },
    );
    assert.equal(noTable.exitCode, ExitCode.UsageError);
    assert.match(String(noTable.error), /--table: name the release-records table/);
    const badArn = await rollback({ to: 'v2', stateMachine: 'Rollback' });
    assert.equal(badArn.exitCode, ExitCode.UsageError);
    assert.match(String(badArn.error), /--state-machine: must be a Step Functions state machine ARN/);
    assert.deepEqual([started().length, callerAsked, dynamo.calls().length], [0, 0, 0]);
  });
});
