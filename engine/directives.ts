/**
 * The directives a migration file starts with: its first lines, each exactly one directive, before anything else.
 *
 *   -- lockstep:no-transaction   the file runs statement by statement in autocommit
 *   -- lockstep:after-deploy     the file runs after the new version is rolled out (the contract of expand/contract)
 *
 * Either, both in either order, or none. A directive anywhere else would be ignored, so ./analyze.ts refuses it there
 * (and a suppression, `-- lockstep:allow <rule> <reason>`, belongs above a statement, not here).
 */

export const NO_TRANSACTION_DIRECTIVE = /^--\s*lockstep:no-transaction\s*$/;
export const AFTER_DEPLOY_DIRECTIVE = /^--\s*lockstep:after-deploy\s*$/;

/** The phase a migration runs in: before the new version is deployed (the default), or after its rollout. */
export type MigrationPhase = 'before-deploy' | 'after-deploy';
export const MIGRATION_PHASES: readonly MigrationPhase[] = ['before-deploy', 'after-deploy'];

export interface FileHeader {
  readonly noTransaction: boolean;
  readonly afterDeploy: boolean;
  /** How many lines the directives take: lines 1..lines. */
  readonly lines: number;
}

const NONE: FileHeader = { noTransaction: false, afterDeploy: false, lines: 0 };

/** The directives at the top of `sql` (its text, byte-order mark dropped). */
export function readHeader(sql: string): FileHeader {
  // Most files start with no directive: one character says so.
  if (sql.charCodeAt(0) !== 45 /* - */) return NONE;
  let noTransaction = false;
  let afterDeploy = false;
  let lines = 0;
  let from = 0;
  while (from < sql.length) {
    const end = sql.indexOf('\n', from);
    const line = sql.slice(from, end === -1 ? sql.length : end).replace(/\r$/, '');
    if (NO_TRANSACTION_DIRECTIVE.test(line)) noTransaction = true;
    else if (AFTER_DEPLOY_DIRECTIVE.test(line)) afterDeploy = true;
    else break;
    lines++;
    if (end === -1) break;
    from = end + 1;
  }
  return lines === 0 ? NONE : { noTransaction, afterDeploy, lines };
}

/** The phase a file's header puts it in. */
export const phaseOf = (m: { readonly afterDeploy?: boolean }): MigrationPhase =>
  m.afterDeploy ? 'after-deploy' : 'before-deploy';
