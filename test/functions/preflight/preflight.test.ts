import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { type PreflightDeps, preflight } from '../../../functions/preflight/preflight.ts';
import {
  InvalidInputError,
  MigrationsNotFoundError,
  ReleaseInProgressError,
} from '../../../functions/shared/errors.ts';
import { publishMigrations } from '../../../functions/shared/migrations-s3.ts';
import { fakeS3 } from '../../support/fake-s3.ts';

const STATE_MACHINE = 'arn:aws:states:eu-west-1:123456789012:stateMachine:lockstep-shop';
const SELF = 'arn:aws:states:eu-west-1:123456789012:execution:lockstep-shop:v1-4-2';
const IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api:v1.4.2';
const started = new Date('2026-11-22T10:00:00Z');

const event = (input: unknown) => ({
  input,
  execution: { id: SELF, startTime: started.toISOString(), stateMachineArn: STATE_MACHINE },
});

describe('preflight', () => {
  const sfn = mockClient(SFNClient);
  let s3: ReturnType<typeof fakeS3>;
  let deps: PreflightDeps;
  const logs: string[] = [];

  beforeEach(() => {
    sfn.reset();
    s3?.mock.restore();
    s3 = fakeS3();
    sfn.on(ListExecutionsCommand).resolves({
      executions: [
        {
          executionArn: SELF,
          stateMachineArn: STATE_MACHINE,
          name: 'v1-4-2',
          status: 'RUNNING',
          startDate: started,
        },
      ],
    });
    deps = {
      sfn: new SFNClient({ region: 'eu-west-1' }),
      s3: s3.client,
      log: { debug() {}, info: (m) => logs.push(m), warn() {}, error() {} },
      config: {
        defaultMigrations: 'bundled',
        s3: { bucket: 'shop-releases', prefix: 'migrations' },
        database: 'shop-db',
      },
    };
  });

  test('normalizes the input and lists only this state machine’s running executions', async () => {
    const out = await preflight(deps, event({ image: IMAGE }));
    assert.deepEqual(out, {
      release: {
        release: 'v1.4.2',
        image: IMAGE,
        migrations: 'bundled',
        options: { skipSnapshot: false, dryRun: false },
      },
      executionId: SELF,
      database: 'shop-db',
    });
    const sent = sfn.commandCalls(ListExecutionsCommand)[0]?.args[0].input;
    assert.equal(sent?.stateMachineArn, STATE_MACHINE);
    assert.equal(sent?.statusFilter, 'RUNNING');
  });

  test('another release already running against the database stops this one, naming it', async () => {
    const other = 'arn:aws:states:eu-west-1:123456789012:execution:lockstep-shop:v1-4-1';
    sfn.on(ListExecutionsCommand).resolves({
      executions: [
        {
          executionArn: SELF,
          stateMachineArn: STATE_MACHINE,
          name: 'v1-4-2',
          status: 'RUNNING',
          startDate: started,
        },
        {
          executionArn: other,
          stateMachineArn: STATE_MACHINE,
          name: 'v1-4-1',
          status: 'RUNNING',
          startDate: new Date(started.getTime() - 60_000),
        },
      ],
    });
    await assert.rejects(preflight(deps, event({ image: IMAGE })), (err: unknown) => {
      assert.ok(err instanceof ReleaseInProgressError);
      assert.equal(err.name, 'ReleaseInProgressError');
      assert.equal(err.otherExecutionArn, other);
      assert.match(err.message, /v1-4-1 \(started 2026-11-22T09:59:00\.000Z\)/);
      return true;
    });
  });

  test('two releases started together: the older goes on, the newer stops — never both', async () => {
    const newer = 'arn:aws:states:eu-west-1:123456789012:execution:lockstep-shop:v1-4-3';
    sfn.on(ListExecutionsCommand).resolves({
      executions: [
        {
          executionArn: newer,
          stateMachineArn: STATE_MACHINE,
          name: 'v1-4-3',
          status: 'RUNNING',
          startDate: new Date(started.getTime() + 1),
        },
        {
          executionArn: SELF,
          stateMachineArn: STATE_MACHINE,
          name: 'v1-4-2',
          status: 'RUNNING',
          startDate: started,
        },
      ],
    });
    await preflight(deps, event({ image: IMAGE }));
    const asNewer = {
      ...event({ image: IMAGE }),
      execution: {
        id: newer,
        startTime: new Date(started.getTime() + 1).toISOString(),
        stateMachineArn: STATE_MACHINE,
      },
    };
    await assert.rejects(preflight(deps, asNewer), ReleaseInProgressError);
  });

  test('reads every page of running executions', async () => {
    const other = 'arn:aws:states:eu-west-1:123456789012:execution:lockstep-shop:old';
    sfn
      .on(ListExecutionsCommand)
      .resolvesOnce({
        executions: [
          {
            executionArn: SELF,
            stateMachineArn: STATE_MACHINE,
            name: 'x',
            status: 'RUNNING',
            startDate: started,
          },
        ],
        nextToken: 'p2',
      })
      .resolvesOnce({
        executions: [
          {
            executionArn: other,
            stateMachineArn: STATE_MACHINE,
            name: 'old',
            status: 'RUNNING',
            startDate: new Date(0),
          },
        ],
      });
    await assert.rejects(preflight(deps, event({ image: IMAGE })), ReleaseInProgressError);
    assert.equal(sfn.commandCalls(ListExecutionsCommand)[1]?.args[0].input.nextToken, 'p2');
  });

  test('S3 migrations must have been published for this release', async () => {
    await assert.rejects(preflight(deps, event({ image: IMAGE, migrations: 's3' })), (err: unknown) => {
      assert.ok(err instanceof MigrationsNotFoundError);
      assert.match(err.message, /s3:\/\/shop-releases\/migrations\/v1\.4\.2\//);
      return true;
    });
    await publishMigrations(
      s3.client,
      { bucket: 'shop-releases', prefix: 'migrations' },
      'v1.4.2',
      [['0001_a.sql', Buffer.from('SELECT 1;')]],
      started,
    );
    const out = await preflight(deps, event({ image: IMAGE, migrations: 's3' }));
    assert.equal(out.release.migrations, 's3');
  });

  const malformed: Array<[string, unknown, string]> = [
    ['no input at all', undefined, 'input'],
    ['an image without a tag', { image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api' }, 'image'],
    ['a misspelled option', { image: IMAGE, options: { skipSnapshots: true } }, 'options'],
    ['a release label with spaces', { image: IMAGE, release: 'v 1' }, 'release'],
    ['s3 migrations on a stack without a bucket', { image: IMAGE, migrations: 's3' }, 'migrations'],
  ];
  for (const [what, input, field] of malformed) {
    test(`rejects ${what} naming ${field}, before any AWS call`, async () => {
      if (field === 'migrations') deps = { ...deps, config: { ...deps.config, s3: undefined } };
      await assert.rejects(preflight(deps, event(input)), (err: unknown) => {
        assert.ok(err instanceof InvalidInputError, String(err));
        assert.equal(err.field, field);
        return true;
      });
      assert.equal(sfn.calls().length, 0);
      assert.equal(s3.mock.commandCalls(HeadObjectCommand).length, 0);
    });
  }

  test('an event without the execution context is rejected naming the field', async () => {
    await assert.rejects(preflight(deps, { input: { image: IMAGE } }), (err: unknown) => {
      assert.ok(err instanceof InvalidInputError);
      assert.equal(err.field, 'execution');
      return true;
    });
  });
});
