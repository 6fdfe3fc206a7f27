/**
 * `-- lockstep:allow <rule> <reason>`: a comment above a statement that accepts one rule's finding on that statement,
 * with the reason recorded in the output. Read from the comments between statements (./lint-file.ts); each applies
 * to the statement that follows it.
 */

/** The comment form; what follows the rule is the reason, required. */
export const ALLOW_DIRECTIVE = /^--\s*lockstep:allow\b\s*(\S*)\s*(.*)$/;

export interface Suppression {
  readonly rule: string;
  readonly reason: string;
  /** UTF-16 index of the comment in the file. */
  readonly start: number;
}

/** The suppression a comment is, `undefined` if it is no allow comment at all. */
export function parseSuppression(text: string, start: number): Suppression | undefined {
  const match = ALLOW_DIRECTIVE.exec(text);
  if (!match) return undefined;
  return { rule: match[1] ?? '', reason: (match[2] ?? '').trim(), start };
}
