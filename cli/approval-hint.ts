/**
 * What `--follow` prints when the execution enters its approval gate: the exact `lockstep approve` and `lockstep
 * reject` commands. The release-lock table they need is the one the execution's state machine was deployed with: its
 * `Clear approval token` state updates it (infra/constructs/approval-gate.ts), so its definition names it.
 */
import { DescribeStateMachineForExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { STATE } from '../infra/constructs/state-names.ts';

/** The stack output that names the table, shown when the table could not be learned. */
const PLACEHOLDER = '<ReleaseLockTable>';

export async function approvalCommands(
  sfn: SFNClient,
  executionArn: string,
  lockTable: string | undefined,
): Promise<string[]> {
  const found = lockTable ? { table: lockTable } : await lockTableOf(sfn, executionArn);
  const table = `--lock-table ${found.table ?? PLACEHOLDER}`;
  return [
    `waiting for approval: nothing is migrated or deployed until someone decides (${STATE.awaitApproval})`,
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
async function lockTableOf(sfn: SFNClient, executionArn: string): Promise<{ table?: string; why?: string }> {
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
    const table = findTableName(JSON.parse(definition ?? '{}'));
    return table ? { table } : { why: `the definition has no "${STATE.clearApproval}" state with a table` };
  } catch {
    return { why: 'the definition could not be read' };
  }
}

/** `Parameters.TableName` of the state named `Clear approval token`, at any depth (Parallel or Map states too). */
function findTableName(node: unknown): string | undefined {
  if (!node || typeof node !== 'object') return undefined;
  const states = (node as { States?: unknown }).States;
  if (states && typeof states === 'object') {
    const clear = (states as Record<string, { Parameters?: { TableName?: unknown } }>)[STATE.clearApproval];
    const name = clear?.Parameters?.TableName;
    if (typeof name === 'string') return name;
  }
  for (const value of Object.values(node)) {
    const found = findTableName(value);
    if (found) return found;
  }
  return undefined;
}
