/**
 * Status commands that list pending migrations but exit 0 either way, refused as a `pendingCheck`: with one, every
 * release would read "nothing pending" and skip its migrations. From the README's migration-tools table and its
 * sources. Best effort: a wrapper script is not looked into; this catches the commands as the tools spell them.
 */

interface NonCheck {
  /** The program, as its last path segment (`node_modules/.bin/knex` is `knex`). */
  readonly programs: readonly string[];
  /** The words right after it. */
  readonly words: readonly string[];
  /** Words that turn it into a real check. */
  readonly unless?: (tokens: readonly string[]) => boolean;
  readonly why: string;
}

const NON_CHECKS: readonly NonCheck[] = [
  {
    programs: ['knex'],
    words: ['migrate:status'],
    why: 'knex migrate:status exits 0 whether or not anything is pending',
  },
  {
    programs: ['sequelize', 'sequelize-cli'],
    words: ['db:migrate:status'],
    why: 'sequelize-cli db:migrate:status exits 0 whether or not anything is pending',
  },
  {
    programs: ['diesel'],
    words: ['migration', 'pending'],
    why: 'diesel migration pending prints true or false and exits 0',
  },
  {
    programs: ['sqlx'],
    words: ['migrate', 'info'],
    why: 'sqlx migrate info exits 0 whether or not anything is pending',
  },
  {
    programs: ['liquibase'],
    words: ['status'],
    why: 'liquibase status has no exit status for pending changesets',
  },
  {
    programs: ['artisan'],
    words: ['migrate:status'],
    unless: (tokens) => tokens.some((t) => /^--pending=[1-9]\d*$/.test(t)),
    why: 'php artisan migrate:status exits 0 unless given --pending=<N> (N ≥ 1): use --pending=1',
  },
  {
    programs: ['dbmate'],
    words: ['status'],
    unless: (tokens) => tokens.includes('--exit-code') || tokens.includes('--quiet'),
    why: 'dbmate status exits 0 unless given --exit-code: use dbmate status --exit-code',
  },
];

/** Why `command` is no pending check, or undefined when it is not one of the known status commands. */
export function knownNonCheck(command: readonly string[]): string | undefined {
  // `sh -c "npx knex migrate:status"` is one word holding several: look at every whitespace-separated token.
  const tokens = command.flatMap((word) => word.split(/\s+/)).filter(Boolean);
  for (const rule of NON_CHECKS) {
    const at = tokens.findIndex(
      (t, i) =>
        rule.programs.includes(t.split('/').pop() ?? t) &&
        rule.words.every((w, j) => tokens[i + 1 + j] === w),
    );
    if (at >= 0 && !rule.unless?.(tokens))
      return `is a status command that exits 0 whether or not migrations are pending (${rule.why}), so every release would skip its migrations`;
  }
  return undefined;
}
