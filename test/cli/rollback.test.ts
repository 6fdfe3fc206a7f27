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
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { run } from '../../cli/commands/rollback.ts';
import { ExitCode } from '../../cli/exit-codes.ts';
import { Output } from '../../cli/output.ts';
import { RollbackFailedError } from '../../cli/rollback.ts';
import type { RawRollbackOptions } from '../../cli/rollback-options.ts';
import { loadMigrations } from '../../engine/migration-files.ts';
import { ROLLBACK_STATE } from '../../infra/constructs/rollback-state-names.ts';
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

  test('--follow of a rollback that fails reports a failed rollback, its alert and record, and exits 8', async () => {
    const executionArn = `${SM.replace(':stateMachine:', ':execution:')}:rollback-to-v2-20260301113000`;
    const at = (s: number) => new Date(Date.UTC(2026, 2, 1, 11, 30, s));
    const message = 'Rollback rollback-to-v2 (to release v2, image …) FAILED at step Start deploy.';
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        {
          id: 1,
          type: 'TaskStateEntered',
          timestamp: at(0),
          stateEnteredEventDetails: { name: 'Start deploy' },
        },
        {
          id: 2,
          type: 'TaskFailed',
          timestamp: at(1),
          taskFailedEventDetails: {
            resourceType: 'lambda',
            resource: 'invoke',
            error: 'DeployFailedError',
            cause: 'service shop not found',
          },
        },
        {
          id: 3,
          type: 'PassStateExited',
          timestamp: at(1),
          stateExitedEventDetails: {
            name: ROLLBACK_STATE.formatAlert,
            output: JSON.stringify({ alert: { message } }),
          },
        },
        {
          id: 4,
          type: 'FailStateEntered',
          timestamp: at(2),
          stateEnteredEventDetails: { name: ROLLBACK_STATE.failed },
        },
        {
          id: 5,
          type: 'ExecutionFailed',
          timestamp: at(2),
          executionFailedEventDetails: { error: 'DeployFailedError' },
        },
      ],
    });
    sfn.on(DescribeExecutionCommand).resolves({
      status: 'FAILED',
      error: 'DeployFailedError',
      cause: 'service shop not found',
      executionArn,
      stateMachineArn: SM,
      startDate: at(0),
    });
    const err: string[] = [];
    const output = new Output(new PassThrough(), { write: (text: string) => err.push(text) });

    const outcome = await run(
      { dir: join(dir, 'migrations'), to: 'v2', follow: true },
      {
        output,
        env: { LOCKSTEP_RECORDS_TABLE: TABLE, LOCKSTEP_ROLLBACK_STATE_MACHINE: SM },
        cwd: dir,
        now: () => at(0),
        dynamodb: () => new DynamoDBClient({ region: 'eu-west-1' }),
        sfn: () => new SFNClient({ region: 'eu-west-1' }),
        callerArn: async () => CALLER,
      },
    );
    output.flush();

    assert.equal(outcome.exitCode, ExitCode.ReleaseFailed);
    assert.ok(outcome.error instanceof RollbackFailedError);
    assert.match(
      outcome.error.message,
      /^the rollback FAILED: DeployFailedError — service shop not found \(arn:/,
    );
    const printed = err.join('').split('\n');
    const end = printed.slice(printed.indexOf(`→ ${ROLLBACK_STATE.failed}`));
    assert.deepEqual(end.slice(0, 5), [
      `→ ${ROLLBACK_STATE.failed}`,
      'rollback failed',
      `record: ${at(0).toISOString()}#rollback-to-v2-20260301113000 (lockstep releases show rollback-to-v2 --table ${TABLE})`,
      '',
      'ALERT',
    ]);
    assert.ok(printed.includes(message));
    assert.doesNotMatch(err.join(''), /\brelease (failed|succeeded)\b/);
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
