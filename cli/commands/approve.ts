/**
 * `lockstep approve <execution> [--lock-table <name>]`: let a release waiting at its approval gate go on (it migrates,
 * then deploys), or a rollback waiting before its switch switch to the restored database and redeploy; recorded as
 * approved by the caller's identity. Loaded only for it, with the AWS SDK clients it uses.
 */
import { type DecisionRequest, decideApproval, parseDecisionRequest } from '../approval.ts';
import type { RawApprovalOptions } from '../approval-options.ts';
import { type Outcome, outcomeOf, succeeded } from '../report.ts';
import { type DecisionClients, decisionDeps } from './decision-clients.ts';

export function run(execution: string, raw: RawApprovalOptions, deps: DecisionClients): Promise<Outcome> {
  return outcomeOf(async () => {
    const request: DecisionRequest = parseDecisionRequest(
      execution,
      raw.lockTable ?? deps.env.LOCKSTEP_LOCK_TABLE,
      { kind: 'approve' },
    );
    const result = await decisionDeps(deps, request, (clients) => decideApproval(clients, request));
    const next =
      result.waiting === 'rollback'
        ? 'the rollback goes on to switch to the restored database and redeploy'
        : 'the release goes on to migrate and deploy';
    return succeeded(`approved ${result.executionArn} as ${result.by} (${result.at}): ${next}`, {
      ...result,
    });
  });
}
