/**
 * Release context, without a parser: the pending files' lints, in the order they will run, with what an earlier file
 * of the same release created counted as new (indexing a table created two files before is fine). The CLI runs it on
 * lints it just made; the migrate function on the lints the manifest carries.
 */
import { type FileEvent, type FileFinding, type FileLint, type LockSite, nameKey } from './finding.ts';
import { strongerLock } from './lock-modes.ts';

/** What the release as a whole does: findings on objects it did not create, and the existing tables it locks. */
export interface ReleaseLint {
  readonly findings: readonly FileFinding[];
  readonly locks: readonly LockSite[];
}

/** Updates the sets of created objects and NOT NULL-checked columns with one event (a file's rule too). */
export function applyEvent(e: FileEvent, created: Set<string>, checked: Set<string>): void {
  if (e.type === 'created') created.add(nameKey(e.object));
  else if (e.type === 'renamed' && created.has(nameKey(e.from))) created.add(nameKey(e.to));
  else if (e.type === 'not-null-checked') checked.add(`${nameKey(e.table)}:${e.column}`);
}

/** The release's lint: `pending` in run order. */
export function releaseLint(pending: readonly FileLint[]): ReleaseLint {
  const created = new Set<string>();
  const checked = new Set<string>();
  const findings: FileFinding[] = [];
  const locks = new Map<string, LockSite>();
  for (const lint of pending) {
    for (const f of lint.findings) {
      if (f.object && created.has(nameKey(f.object))) continue;
      if (f.rule === 'set-not-null' && f.object && checked.has(`${nameKey(f.object)}:${f.targetColumn}`))
        continue;
      findings.push(f);
    }
    for (const site of lint.locks) {
      const k = nameKey(site.object);
      const before = locks.get(k);
      if (!created.has(k) && (!before || strongerLock(site.mode, before.mode))) locks.set(k, site);
    }
    for (const e of lint.events) applyEvent(e, created, checked);
  }
  return { findings, locks: [...locks.values()] };
}
