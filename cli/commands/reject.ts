/**
 * `lockstep reject <execution> --reason "…" [--lock-table <name>]`: stop a release waiting at its approval gate. It
 * fails with ReleaseRejectedError naming the caller and the reason (in the alert, the execution and the release
 * record); nothing is migrated or deployed. Loaded only for it, with the AWS SDK clients it uses.
 */
import { decideApproval, parseDecisionRequest } from '../approval.ts';
import type { RawApprovalOptions } from '../approval-options.ts';
import { type Outcome, outcomeOf, succeeded } from '../report.ts';
import { type DecisionClients, decisionDeps } from './decision-clients.ts';

export function run(execution: string, raw: RawApprovalOptions, deps: DecisionClients): Promise<Outcome> {
  return outcomeOf(async () => {
    const request = parseDecisionRequest(execution, raw.lockTable ?? deps.env.LOCKSTEP_LOCK_TABLE, {
      kind: 'reject',
      reason: raw.reason,
    });
    const result = await decisionDeps(deps, request, (clients) => decideApproval(clients, request));
    return succeeded(
      `rejected ${result.executionArn} as ${result.by} (${result.at}): ${result.reason}. The release fails without migrating or deploying; the alert names you and the reason`,
      { ...result },
    );
  });
}
