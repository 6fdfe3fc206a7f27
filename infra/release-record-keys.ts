/**
 * The release record's keys and indexes (./constructs/release-records.ts builds the table, cli/release-records.ts
 * reads it, rehearsal/stand-ins/records.ts keeps it locally): no CDK here, so the CLI can import it.
 */
export const RECORD = {
  partitionKey: 'database',
  sortKey: 'recordKey',
  /** Index by release label, newest first. */
  byRelease: 'byRelease',
  /** Index of every database's records, newest first. */
  newest: 'newest',
  /** Every item's `kind`: the `newest` index's one partition. */
  kind: 'release',
} as const;

/** What a record says of how the release ended; `RUNNING` until it ends (an execution stopped or timed out stays so). */
export type RecordOutcome = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'DRY_RUN';
