/**
 * The rehearsal's approval gate (`release --local --approval`): the synthesized gate runs as on AWS — the approval
 * function stores its task token on the local lock item and sends its notification (printed here) — and the decision
 * goes through `lockstep approve`'s own code (cli/approval.ts): asked on the terminal (y/n, and a reason for a
 * rejection), or given with `--approve` / `--reject "<reason>"` for scripts.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type Decision, decideApproval } from '../cli/approval.ts';
import { InvalidInputError } from '../engine/errors.ts';
import { awaitTaskToken } from './interpreter.ts';
import { localIdentityClient } from './stand-ins/sts.ts';
import type { LocalTaskTokens } from './stand-ins/task-tokens.ts';

export interface RehearsalApprovalOptions {
  /** Synthesize the stack with its approval gate. */
  readonly approval?: boolean | undefined;
  /** Approve at the gate without asking. */
  readonly approve?: boolean | undefined;
  /** Reject at the gate, with this reason, without asking. */
  readonly reject?: string | undefined;
  /** Asks a question on the terminal; undefined without one. */
  readonly ask?: ((question: string) => Promise<string>) | undefined;
}

/** How the gate is decided: given up front, or asked when the release reaches it. */
export type ApprovalPlan =
  | { readonly how: 'given'; readonly decision: Decision }
  | { readonly how: 'ask'; readonly ask: (question: string) => Promise<string> };

/** Checks the flags before anything starts; undefined without `--approval`. */
export function parseApprovalPlan(options: RehearsalApprovalOptions): ApprovalPlan | undefined {
  const { approval, approve, reject, ask } = options;
  if (!approval) {
    if (approve || reject !== undefined)
      throw new InvalidInputError(
        approve ? '--approve' : '--reject',
        'needs --approval (the gate it decides)',
      );
    return undefined;
  }
  if (approve && reject !== undefined)
    throw new InvalidInputError('--reject', 'cannot be given with --approve: choose one');
  if (approve) return { how: 'given', decision: { kind: 'approve' } };
  if (reject !== undefined) {
    if (!reject.trim()) throw new InvalidInputError('--reject', 'say why: the reason goes into the alert');
    return { how: 'given', decision: { kind: 'reject', reason: reject.trim() } };
  }
  if (!ask)
    throw new InvalidInputError(
      '--approval',
      'there is no terminal to ask on: give --approve, or --reject "<reason>"',
    );
  return { how: 'ask', ask };
}

export interface LocalGateDeps {
  readonly tokens: LocalTaskTokens;
  /** The lock table's client and name, where the approval function stored the token. */
  readonly locks: DynamoDBClient;
  readonly lockTable: string;
  readonly executionArn: string;
  /** Who decides, as the decision records them (a user of the local account). */
  readonly approver: string;
  readonly now: () => Date;
  readonly print: (line: string) => void;
}

/**
 * The `.waitForTaskToken` state's local handler: the approval function (`request`), then the decision, sent as
 * `lockstep approve` / `reject` would send it, and the wait for it. A decision that cannot be sent fails the gate
 * with its error rather than leaving it to time out.
 */
export function localApprovalGate(
  plan: ApprovalPlan,
  deps: LocalGateDeps,
): (params: unknown, request: () => Promise<unknown>) => Promise<unknown> {
  return async (params, request) => {
    let deciding: Promise<void> = Promise.resolve();
    const decided = awaitTaskToken(deps.tokens, params, async () => {
      const out = await request();
      const token = deps.tokens.tokenIn(params) as string;
      deciding = decide(plan, deps).catch((err: Error) => {
        try {
          deps.tokens.sendTaskFailure({ taskToken: token, error: err.name, cause: err.message });
        } catch {
          // The gate closed meanwhile (timed out): its own error stands.
        }
      });
      return out;
    });
    // The decision's own line is printed before the state ends, whichever way it ends.
    try {
      return await decided;
    } finally {
      await deciding;
    }
  };
}

async function decide(plan: ApprovalPlan, deps: LocalGateDeps): Promise<void> {
  const decision = plan.how === 'given' ? plan.decision : await askDecision(plan.ask);
  const result = await decideApproval(
    {
      sfn: deps.tokens.client(),
      sts: localIdentityClient(deps.approver),
      dynamodb: deps.locks,
      now: deps.now,
    },
    { executionArn: deps.executionArn, lockTable: deps.lockTable, decision },
  );
  deps.print(
    `  ${result.decision} by ${result.by}${result.reason === undefined ? '' : `: ${result.reason}`}`,
  );
}

/** y/n, then a reason for a rejection; asked again until answered. */
async function askDecision(ask: (question: string) => Promise<string>): Promise<Decision> {
  for (;;) {
    const answer = (await ask('approve this release? [y/n] ')).trim().toLowerCase();
    if (answer === 'y' || answer === 'yes') return { kind: 'approve' };
    if (answer !== 'n' && answer !== 'no') continue;
    for (;;) {
      const reason = (await ask('reason for rejecting it: ')).trim();
      if (reason) return { kind: 'reject', reason };
    }
  }
}
