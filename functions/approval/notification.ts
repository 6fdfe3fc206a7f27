/**
 * The approval gate's notification: what the release will do (plan and lint, or command mode's command), the snapshot
 * to restore from, and exactly how to approve or reject it, with the deadline. A rollback's confirmation before its
 * switch says instead what the switch does and what the live database loses. It holds no task token.
 */
import { consoleLink } from '../shared/console-link.ts';
import type { ApprovalEvent } from './approval.ts';

export interface NotificationContext {
  readonly lockTable: string;
  readonly database: string;
  readonly timeoutSeconds: number;
  readonly deadline: Date;
}

/** SNS: a subject is 1-100 printable ASCII characters on one line. */
const SUBJECT_LIMIT = 100;

const subjectOf = (text: string) => text.replace(/[^\x20-\x7e]/g, '?').slice(0, SUBJECT_LIMIT);

export function approvalNotification(
  event: ApprovalEvent,
  context: NotificationContext,
): { subject: string; message: string } {
  if (event.rollback) return switchNotification(event, event.rollback, context);
  const { release, image } = event.release;
  const subject = subjectOf(`lockstep: release ${release} awaits approval`);
  const execution = event.executionId;
  const table = `--lock-table ${context.lockTable}`;
  const lines = [
    `Release ${release} of image ${image} is waiting for approval before it changes database ${context.database}.`,
    '',
    ...whatItWillDo(event),
    `Snapshot: ${event.snapshotId === 'none' ? 'none taken by this release' : `${event.snapshotId} (taken before anything changes)`}`,
    '',
    'Approve (the release migrates, then deploys):',
    `  lockstep approve ${execution} ${table}`,
    'Reject (nothing is migrated or deployed; the release fails with your reason):',
    `  lockstep reject ${execution} ${table} --reason "<why>"`,
    '',
    `No decision by ${context.deadline.toISOString()} (${formatDuration(context.timeoutSeconds)} from now) fails the release: nothing is migrated or deployed, and the lock is released.`,
    `Deciding needs states:SendTaskSuccess / states:SendTaskFailure and read access to the lock table ${context.lockTable} (README, "Approval gate").`,
    `Execution: ${executionLink(execution)}`,
  ];
  return { subject, message: lines.join('\n') };
}

/** The rollback's pause between "restored and available" and the switch. */
function switchNotification(
  event: ApprovalEvent,
  rollback: NonNullable<ApprovalEvent['rollback']>,
  context: NotificationContext,
): { subject: string; message: string } {
  const label = event.release.release;
  const noun = rollback.kind === 'instance' ? 'DB instance' : 'DB cluster';
  const execution = event.executionId;
  const table = `--lock-table ${context.lockTable}`;
  const lines = [
    `Rollback ${label} to release ${rollback.to.release} is waiting for your confirmation before it switches ${noun} ${rollback.database}.`,
    `Requested by ${rollback.requestedBy}: ${rollback.reason}`,
    '',
    `Restored from snapshot ${event.snapshotId} (taken ${rollback.snapshotCreatedAt}): ${rollback.restored} is available.`,
    rollback.endpoint
      ? `  Endpoint: ${rollback.endpoint}. Connect to it (the snapshot's credentials) to check the data before you confirm.`
      : '  RDS reported no endpoint for it yet; describe it to connect and check the data before you confirm.',
    '',
    'Confirm (the switch, then the redeploy):',
    `  1. ${rollback.database} is renamed to ${rollback.aside}: kept, with every change made since ${rollback.snapshotCreatedAt}.`,
    `  2. ${rollback.restored} is renamed to ${rollback.database}: the endpoint and the secret stay valid, and the app reads the snapshot's data.`,
    `     Between the two renames ${rollback.database} does not answer: the app cannot reach its database for a few minutes.`,
    `  3. The service is redeployed with release ${rollback.to.release}'s task definition ${rollback.to.taskDefinitionArn}.`,
    `  lockstep approve ${execution} ${table}`,
    `Reject (nothing is switched or deployed; ${rollback.database} keeps serving, ${rollback.restored} is kept for you to delete):`,
    `  lockstep reject ${execution} ${table} --reason "<why>"`,
    '',
    `No decision by ${context.deadline.toISOString()} (${formatDuration(context.timeoutSeconds)} from now) ends the rollback the same way as a rejection, and releases the lock.`,
    `Deciding needs states:SendTaskSuccess / states:SendTaskFailure and read access to the lock table ${context.lockTable} (README, "Rolling back").`,
    `Execution: ${executionLink(execution)}`,
  ];
  return {
    subject: subjectOf(`lockstep: rollback ${label} awaits confirmation to switch`),
    message: lines.join('\n'),
  };
}

function whatItWillDo(event: ApprovalEvent): string[] {
  const lines: string[] = [];
  if (event.plan) {
    const { pendingCount, pending, lint } = event.plan;
    lines.push(`Plan: ${pendingCount} migration(s) pending${pendingCount ? ':' : '.'}`);
    for (const name of pending.first) lines.push(`  ${name}`);
    if (pending.last.length) {
      const skipped = pending.count - pending.first.length - pending.last.length;
      if (skipped > 0) lines.push(`  … ${skipped} more …`);
      for (const name of pending.last) lines.push(`  ${name}`);
    }
    if (lint) {
      const rules = [...lint.rules.first, ...lint.rules.last];
      lines.push(
        lint.findings === 0
          ? 'Lint: no findings.'
          : `Lint: ${lint.findings} finding(s), ${lint.failing} at or above the stack's fail-on severity (accepted with -- lockstep:allow or under it)${rules.length ? `: ${rules.join(', ')}` : ''}. Each finding is in the plan step's log.`,
      );
    }
  }
  if (event.command) {
    lines.push(`Migration command: ${event.command.command}`);
    lines.push(`  in task definition ${event.command.taskDefinitionArn}`);
    if (event.command.pendingCheck) lines.push(`Pending check: ${event.command.pendingCheck}`);
  }
  return lines;
}

/** `1 hour`, `90 minutes`, `2 hours 30 minutes`, `45 seconds`. */
export function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const part = (n: number, unit: string) => (n ? [`${n} ${unit}${n === 1 ? '' : 's'}`] : []);
  return [...part(h, 'hour'), ...part(m, 'minute'), ...part(s, 'second')].join(' ') || '0 seconds';
}

function executionLink(executionArn: string): string {
  const [, partition = 'aws', , region = 'us-east-1'] = executionArn.split(':');
  return consoleLink(partition, region, `/states/home#/v2/executions/details/${executionArn}`);
}
