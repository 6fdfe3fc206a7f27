/**
 * `lockstep reject <execution> --reason "…" [--lock-table <name>]`: stop a release waiting at its approval gate, or a
 * rollback waiting before its switch. It fails with ReleaseRejectedError naming the caller and the reason (in the
 * alert, the execution and the record); nothing is migrated or deployed (a rollback switches nothing). Loaded only for it, with the AWS SDK clients it uses.
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
    const consequence =
      result.waiting === 'rollback'
        ? 'The rollback fails without switching or deploying: the database keeps serving, the restored copy is kept for you to delete'
        : 'The release fails without migrating or deploying';
    return succeeded(
      `rejected ${result.executionArn} as ${result.by} (${result.at}): ${result.reason}. ${consequence}; the alert names you and the reason`,
      { ...result },
    );
  });
}
