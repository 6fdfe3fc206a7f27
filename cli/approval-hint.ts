/**
 * What `--follow` prints when the execution enters its approval gate (a release's `Await approval`, a rollback's
 * `Confirm switch`): the exact `lockstep approve` and `lockstep reject` commands. The release-lock table they need is
 * the one the execution's state machine was deployed with: the gate's clearing state (`Clear approval token`,
 * `Clear confirmation token`) updates it (infra/constructs/approval-gate.ts), so its definition names it.
 */
import { DescribeStateMachineForExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { ROLLBACK_STATE } from '../infra/constructs/rollback-state-names.ts';
import { STATE } from '../infra/constructs/state-names.ts';

/** Each gate: the state that clears its token (it names the table), and what waits on the decision. */
const GATES: Readonly<Record<string, { readonly clear: string; readonly waiting: string }>> = {
  [STATE.awaitApproval]: {
    clear: STATE.clearApproval,
    waiting: `waiting for approval: nothing is migrated or deployed until someone decides (${STATE.awaitApproval})`,
  },
  [ROLLBACK_STATE.confirmSwitch]: {
    clear: ROLLBACK_STATE.clearConfirmation,
    waiting: `waiting for confirmation: the restored copy is available (the alert topic names its endpoint); nothing is switched until someone decides (${ROLLBACK_STATE.confirmSwitch})`,
  },
};

/** Whether entering `state` means the execution waits for `lockstep approve` / `reject`. */
export const isGate = (state: string): boolean => Object.hasOwn(GATES, state);

/** The stack output that names the table, shown when the table could not be learned. */
const PLACEHOLDER = '<ReleaseLockTable>';

export async function approvalCommands(
  sfn: SFNClient,
  executionArn: string,
  lockTable: string | undefined,
  gate: string = STATE.awaitApproval,
): Promise<string[]> {
  const known = GATES[gate];
  // Callers ask only for a state `isGate` accepted: another is a bug here, not a reason to print the wrong gate.
  if (!known) throw new Error(`approvalCommands: "${gate}" is not an approval gate`);
  const { clear, waiting } = known;
  const found = lockTable ? { table: lockTable } : await lockTableOf(sfn, executionArn, clear);
  const table = `--lock-table ${found.table ?? PLACEHOLDER}`;
  return [
    waiting,
    `  approve: lockstep approve ${executionArn} ${table}`,
    `  reject:  lockstep reject ${executionArn} ${table} --reason "<why>"`,
    ...(found.table
      ? []
      : [
          `  (the lock table is the stack output ReleaseLockTable, or set LOCKSTEP_LOCK_TABLE: ${found.why})`,
        ]),
  ];
}

/** The table the execution's `Clear approval token` state updates, or why it could not be read. */
async function lockTableOf(
  sfn: SFNClient,
  executionArn: string,
  clear: string,
): Promise<{ table?: string; why?: string }> {
  let definition: string | undefined;
  try {
    // API Reference, DescribeStateMachineForExecution: "Describes the state machine associated with a specific
    // execution." / "Provides information about a state machine's definition, its execution role ARN, and
    // configuration." Its caller needs states:DescribeStateMachineForExecution on the execution.
    ({ definition } = await sfn.send(new DescribeStateMachineForExecutionCommand({ executionArn })));
  } catch (err) {
    return { why: `DescribeStateMachineForExecution failed: ${(err as Error).name}` };
  }
  try {
    const table = findTableName(JSON.parse(definition ?? '{}'), clear);
    return table ? { table } : { why: `the definition has no "${clear}" state with a table` };
  } catch {
    return { why: 'the definition could not be read' };
  }
}

/** `Parameters.TableName` of the state named `clear`, at any depth (Parallel or Map states too). */
function findTableName(node: unknown, clear: string): string | undefined {
  if (!node || typeof node !== 'object') return undefined;
  const states = (node as { States?: unknown }).States;
  if (states && typeof states === 'object') {
    const state = (states as Record<string, { Parameters?: { TableName?: unknown } }>)[clear];
    const name = state?.Parameters?.TableName;
    if (typeof name === 'string') return name;
  }
  for (const value of Object.values(node)) {
    const found = findTableName(value, clear);
    if (found) return found;
  }
  return undefined;
}
