/**
 * The rollback state machine's state names (./rollback-definition.ts): alerts, the CLI's progress lines and the tests
 * find states by them. Apart from the definition so that reading a name loads no CDK.
 */
export const ROLLBACK_STATE = {
  preflight: 'Preflight',
  restoreWanted: 'Restore the database?',
  imageOnly: 'Image only',
  restore: 'Restore snapshot',
  waitRestore: 'Wait for restore',
  restoreStatus: 'Restore status',
  restored: 'Restore available?',
  renameOriginal: 'Rename original aside',
  waitRenameOriginal: 'Wait for rename of the original',
  renameOriginalStatus: 'Original renamed?',
  originalRenamed: 'Original aside?',
  renameRestored: 'Rename restored into place',
  waitRenameRestored: 'Wait for rename of the restored',
  renameRestoredStatus: 'Restored renamed?',
  restoredRenamed: 'Restored in place?',
  switched: 'Switched',
  startDeploy: 'Start deploy',
  waitRollout: 'Wait for rollout',
  rolloutStatus: 'Rollout status',
  rolledOut: 'Rollout complete?',
  unlock: 'Release lock',
  notify: 'Notify rollback',
  rolledBack: 'Rolled back',
  unlockFailed: 'Release lock (failed)',
  formatAlert: 'Format alert',
  sendAlert: 'Send alert',
  failed: 'Rollback failed',
} as const;
