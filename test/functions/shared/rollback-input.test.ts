import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidInputError } from '../../../functions/shared/errors.ts';
import { parseRollbackInput } from '../../../functions/shared/rollback-input.ts';

const INPUT = {
  rollback: 'rollback-to-v1.3.0',
  to: {
    release: 'v1.3.0',
    recordKey: '2026-01-31T12:00:00.000Z#v1.3.0',
    image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api:v1.3.0',
    taskDefinitionArn: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-api:41',
  },
  restore: { snapshotId: 'lockstep-shop-20260131120500-k3x9', snapshotCreatedAt: '2026-01-31T12:05:00Z' },
  requestedBy: 'arn:aws:sts::123456789012:assumed-role/deployer/alice',
  reason: 'checkout fails on v1.4.0',
};

describe('parseRollbackInput', () => {
  test('a restoring rollback and an image-only one (restore null) are both accepted as they are', () => {
    assert.deepEqual(parseRollbackInput(INPUT), INPUT);
    assert.deepEqual(parseRollbackInput({ ...INPUT, restore: null }), { ...INPUT, restore: null });
  });

  test('a missing restore, a revision that is no task-definition ARN and an unknown field are refused by name', () => {
    const { restore: _r, ...noRestore } = INPUT;
    const cases: Array<[unknown, string]> = [
      [noRestore, 'restore'],
      [{ ...INPUT, to: { ...INPUT.to, taskDefinitionArn: 'shop-api:41' } }, 'to.taskDefinitionArn'],
      [
        { ...INPUT, restore: { ...INPUT.restore, snapshotCreatedAt: 'yesterday' } },
        'restore.snapshotCreatedAt',
      ],
      [{ ...INPUT, reason: '' }, 'reason'],
      [{ ...INPUT, extra: 1 }, 'input'],
    ];
    for (const [raw, field] of cases)
      assert.throws(
        () => parseRollbackInput(raw),
        (err) => err instanceof InvalidInputError && err.field === field,
        field,
      );
  });
});
