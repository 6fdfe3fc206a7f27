/** The tags lockstep puts on what it creates in RDS (snapshots, a rollback's restored database), and their values. */

export const TAG_MANAGED = 'lockstep:managed';
export const TAG_RELEASE = 'lockstep:release';
export const TAG_EXECUTION = 'lockstep:execution';
/** Which rollback restored a database (issue 16). */
export const TAG_ROLLBACK = 'lockstep:rollback';
/** The snapshot a rollback restored it from. */
export const TAG_RESTORED_FROM = 'lockstep:restored-from';
const MAX_TAG_VALUE_LENGTH = 256;

/**
 * A valid RDS tag value: characters RDS rejects (it allows letters, digits, spaces and `_ . : / = + - @`)
 * become `_`, then at most 256 characters, never splitting a character.
 */
export function tagValue(text: string): string {
  return Array.from(text.replace(/[^\p{L}\p{Z}\p{N}_.:/=+\-@]/gu, '_'))
    .slice(0, MAX_TAG_VALUE_LENGTH)
    .join('');
}
