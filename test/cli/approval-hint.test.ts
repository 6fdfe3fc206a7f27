/**
 * What `--follow` prints at a gate (cli/approval-hint.ts), for the rollback's `Confirm switch`: the approve and reject
 * commands with the lock table read from the synthesized rollback definition, as DescribeStateMachineForExecution
 * returns it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DescribeStateMachineForExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { approvalCommands, isGate } from '../../cli/approval-hint.ts';
import { ROLLBACK_STATE } from '../../infra/constructs/rollback-state-names.ts';
import { STATE } from '../../infra/constructs/state-names.ts';
import { synthesizeReleaseDefinition } from '../../rehearsal/definition.ts';

const EXEC = 'arn:aws:states:eu-west-1:123456789012:execution:shop-rollback:rollback-to-v1-3-0';

describe('the commands --follow prints at a gate', () => {
  test('the release’s and the rollback’s gates are gates; other states are not', () => {
    assert.ok(isGate(STATE.awaitApproval));
    assert.ok(isGate(ROLLBACK_STATE.confirmSwitch));
    assert.ok(!isGate(ROLLBACK_STATE.restore) && !isGate('toString'));
  });

  test('a state that is not a gate is refused, not printed as the release’s gate', async () => {
    await assert.rejects(
      approvalCommands(new SFNClient({ region: 'eu-west-1' }), EXEC, 'locks', ROLLBACK_STATE.restore),
      /"Restore snapshot" is not an approval gate/,
    );
  });

  test('a rollback waiting to switch: says what waits, with the lock table its definition clears the token in', async () => {
    const { definition, lockTableName } = synthesizeReleaseDefinition({ machine: 'rollback' });
    const sfn = mockClient(SFNClient);
    try {
      sfn.on(DescribeStateMachineForExecutionCommand).resolves({ definition: JSON.stringify(definition) });
      const lines = await approvalCommands(
        new SFNClient({ region: 'eu-west-1' }),
        EXEC,
        undefined,
        ROLLBACK_STATE.confirmSwitch,
      );
      assert.match(
        lines[0] ?? '',
        /^waiting for confirmation: the restored copy is available .*\(Confirm switch\)$/,
      );
      assert.deepEqual(lines.slice(1), [
        `  approve: lockstep approve ${EXEC} --lock-table ${lockTableName}`,
        `  reject:  lockstep reject ${EXEC} --lock-table ${lockTableName} --reason "<why>"`,
      ]);
    } finally {
      sfn.restore();
    }
  });
});
