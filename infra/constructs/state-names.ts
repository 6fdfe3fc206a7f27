/**
 * The release state machine's state names: the definition is built with them (./release-definition.ts), and the
 * rehearsal and the tests find states by them. Apart from the definition so that reading a name loads no CDK.
 */

/** Names of the states a release passes through, in order. */
export const STATE = {
  preflight: 'Preflight',
  plan: 'Plan',
  route: 'Route',
  dryRun: 'Dry run complete',
  createSnapshot: 'Create snapshot',
  waitSnapshot: 'Wait for snapshot',
  snapshotStatus: 'Snapshot status',
  snapshotReady: 'Snapshot available?',
  awaitApproval: 'Await approval',
  approvalTimedOut: 'Approval timed out',
  clearApproval: 'Clear approval token',
  migrate: 'Migrate',
  registerRevision: 'Register revision',
  runPendingCheck: 'Run pending check',
  readPendingCheck: 'Read pending check',
  pendingRoute: 'Migrations pending?',
  nothingPending: 'Nothing pending',
  runMigrationTask: 'Run migration task',
  checkMigrationTask: 'Check migration task',
  migrated: 'Migrations done?',
  startDeploy: 'Start deploy',
  waitRollout: 'Wait for rollout',
  rolloutStatus: 'Rollout status',
  rolledOut: 'Rollout complete?',
  prune: 'Prune snapshots',
  pruneAlert: 'Alert: prune snapshots',
  sendPruneAlert: 'Send prune alert',
  notify: 'Notify success',
  released: 'Released',
  formatAlert: 'Format alert',
  unlock: 'Release lock',
  unlockDryRun: 'Release lock (dry run)',
  unlockFailed: 'Release lock (failed)',
  sendAlert: 'Send alert',
  failed: 'Release failed',
} as const;
