/** PostgreSQL's table lock modes: their strength and which conflict (the table in "Explicit Locking"). */
import type { LockMode } from './finding.ts';

const ORDER: readonly LockMode[] = [
  'AccessShareLock',
  'RowShareLock',
  'RowExclusiveLock',
  'ShareUpdateExclusiveLock',
  'ShareLock',
  'ShareRowExclusiveLock',
  'ExclusiveLock',
  'AccessExclusiveLock',
];

/** Whether `a` is a stronger mode than `b`. */
export const strongerLock = (a: LockMode, b: LockMode): boolean => ORDER.indexOf(a) > ORDER.indexOf(b);

/** For each mode, the modes it conflicts with, by index in ORDER. */
const CONFLICTS: Readonly<Record<LockMode, readonly number[]>> = {
  AccessShareLock: [7],
  RowShareLock: [6, 7],
  RowExclusiveLock: [4, 5, 6, 7],
  ShareUpdateExclusiveLock: [3, 4, 5, 6, 7],
  ShareLock: [2, 3, 5, 6, 7],
  ShareRowExclusiveLock: [2, 3, 4, 5, 6, 7],
  ExclusiveLock: [1, 2, 3, 4, 5, 6, 7],
  AccessExclusiveLock: [0, 1, 2, 3, 4, 5, 6, 7],
};

/** Whether a session holding (or waiting for) `held` makes a request for `wanted` wait. */
export function locksConflict(wanted: LockMode, held: string): boolean {
  const i = ORDER.indexOf(held as LockMode);
  return i >= 0 && CONFLICTS[wanted].includes(i);
}

export const isLockMode = (mode: string): mode is LockMode => ORDER.includes(mode as LockMode);
