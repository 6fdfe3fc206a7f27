/**
 * What the CLI prints. Progress, notices, warnings and (in text mode) errors go to stderr; the result goes to
 * stdout: a text summary, or with `--json` exactly one JSON document and nothing else. Every line passes
 * through {@link Output.redact}, so a database URL or password can never be printed, whatever carries it.
 */
import { ChecksumMismatchError, LockstepError } from '../engine/errors.ts';
import type { Plan } from '../engine/plan.ts';
import type { RepairResult } from '../engine/repair.ts';
import type { EngineEvent, MigrateResult, StatusResult } from '../engine/runner.ts';
import { ScriptFailedError } from '../engine/session.ts';
import { pendingNotes } from './ci/report.ts';

interface Writable {
  write(text: string): unknown;
}

/** How long a progress line may wait to be written with the ones after it. */
const COALESCE_MS = 100;

export class Output {
  private readonly secrets = new Set<string>();
  private pending: string[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stdout: Writable,
    private readonly stderr: Writable,
  ) {}

  /** Writes buffered progress lines now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.stderr.write(text);
  }

  /** Never print `value`, nor its URL-encoded form. Values shorter than 3 characters are ignored. */
  addSecret(value: string | undefined): void {
    for (const v of [value, value && encodeURIComponent(value)]) if (v && v.length >= 3) this.secrets.add(v);
  }

  redact(text: string): string {
    let out = text;
    // Longest first, so a URL is replaced whole rather than around its password.
    for (const secret of [...this.secrets].sort((a, b) => b.length - a.length))
      out = out.split(secret).join('***');
    return out;
  }

  /**
   * A progress or notice line, on stderr. Lines arriving together are written together, at most
   * {@link COALESCE_MS} later: a thousand quick migrations cost one write, not a thousand.
   */
  note(line: string): void {
    this.pending.push(`${this.redact(line)}\n`);
    this.timer ??= setTimeout(() => this.flush(), COALESCE_MS);
  }

  /** The result, on stdout. */
  result(text: string): void {
    this.flush();
    if (text) this.stdout.write(`${this.redact(text)}\n`);
  }

  /** The `--json` document, on stdout. */
  json(document: Record<string, unknown>): void {
    this.flush();
    this.stdout.write(`${this.redact(JSON.stringify(document, null, 2))}\n`);
  }
}

/** The `error` member of a JSON document: the error's own `toJSON()`, or name, code and message. */
export function errorJson(err: unknown): Record<string, unknown> {
  if (err instanceof LockstepError) return err.toJSON();
  return { name: 'InternalError', code: 'INTERNAL', message: internalMessage(err) };
}

/** An error for a human, on stderr. */
export function errorText(err: unknown): string {
  if (err instanceof ChecksumMismatchError) {
    const versions = err.changed.map((c) => c.version).join(', ');
    return `${err.name}: ${err.message}\n(if an edit was deliberate and changes nothing that ran: lockstep repair --accept-checksum <version> --reason "…", for ${versions})`;
  }
  if (err instanceof LockstepError) return `${err.name}: ${err.message}`;
  return `internal error: ${internalMessage(err)}\n(this is a lockstep bug or a database error it does not classify)`;
}

function internalMessage(err: unknown): string {
  if (err instanceof ScriptFailedError) {
    const code = err.serverError.code;
    return `database error${code ? ` [SQLSTATE ${code}]` : ''}: ${err.message}`;
  }
  return err instanceof Error ? err.message || err.name : String(err);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Reports engine events as lines; a migration still running after a while gets a line too. */
export function progressReporter(
  write: (line: string) => void,
  settings: { lockWaitMs?: number | undefined; slowAfterMs?: number },
): { onEvent: (event: EngineEvent) => void; dispose: () => void } {
  let slow: NodeJS.Timeout | undefined;
  const clear = () => {
    clearTimeout(slow);
    slow = undefined;
  };
  const onEvent = (event: EngineEvent) => {
    switch (event.type) {
      case 'lock-wait':
        write(
          settings.lockWaitMs === 0
            ? `the migration lock is held by ${event.holder}; not waiting (--lock-wait 0)`
            : `waiting for the migration lock, held by ${event.holder}` +
                (settings.lockWaitMs === undefined
                  ? ''
                  : ` (for up to ${formatDuration(settings.lockWaitMs)})`),
        );
        break;
      case 'history-created':
        write(`created history table ${event.table}`);
        break;
      case 'migration-start': {
        clear();
        const { file, noTransaction } = event.migration;
        slow = setTimeout(
          () => write(`  running ${file}${noTransaction ? ' (no transaction)' : ''} …`),
          settings.slowAfterMs ?? 3_000,
        );
        slow.unref();
        break;
      }
      case 'migration-applied':
        clear();
        write(`  applied ${event.migration.file} in ${formatDuration(event.migration.durationMs)}`);
        break;
      case 'migration-retry':
        write(
          `  ${event.file}: attempt ${event.attempt} gave up waiting for a lock (${event.reason}); ` +
            `retrying in ${formatDuration(event.delayMs)}`,
        );
        break;
      case 'deadline-stop':
        clear();
        write(
          `stopping: only ${formatDuration(Math.max(0, event.remainingMs))} left before --max-duration ends`,
        );
        break;
      case 'cleanup-failed':
        write(`warning: after the failure below, lockstep could not ${event.action}: ${event.reason}`);
        break;
      default:
        event satisfies never;
    }
  };
  return { onEvent, dispose: clear };
}

export function formatMigrate(result: MigrateResult, durationMs: number, fileCount: number): string {
  const left = deferredLine(result.deferred);
  if (result.applied.length === 0 && !result.incomplete) {
    return left
      ? `nothing to do in this phase\n${left}`
      : `nothing to do: all ${plural(fileCount, 'migration')} are applied`;
  }
  const lines = [`applied ${plural(result.applied.length, 'migration')} in ${formatDuration(durationMs)}`];
  if (left) lines.push(left);
  if (result.incomplete) {
    lines.push(
      `incomplete: the --max-duration deadline stopped the run; ${plural(result.pending.length, 'migration')} ` +
        `still pending, run again: ${result.pending.map((p) => p.file).join(', ')}`,
    );
  }
  return lines.join('\n');
}

/** The other phase's pending migrations, left for their run. */
function deferredLine(deferred: Plan['deferred']): string | undefined {
  const after = deferred[0]?.phase === 'after-deploy';
  if (deferred.length === 0) return undefined;
  return after
    ? `${plural(deferred.length, 'after-deploy migration')} left for after the deploy (lockstep migrate --phase after-deploy): ${deferred.map((m) => m.file).join(', ')}`
    : `${plural(deferred.length, 'before-deploy migration')} pending: ${deferred.map((m) => m.file).join(', ')}`;
}

function pendingLines(pending: Plan['pending']): string[] {
  return pending.map((p) => {
    const notes = pendingNotes(p);
    return `  ${p.file}${notes.length > 0 ? `  (${notes.join('; ')})` : ''}`;
  });
}

function appliedLines(applied: Plan['applied']): string[] {
  const width = Math.max(0, ...applied.map((a) => a.file.length));
  return applied.map(
    (a) =>
      `  ${a.file.padEnd(width)}  ${a.appliedAt.replace(/\.\d+/, '')}  by ${a.appliedBy}  (${formatDuration(a.executionMs)})`,
  );
}

function aheadLines(databaseAhead: Plan['databaseAhead']): string[] {
  return databaseAhead.map((m) => `  ${m.file} (version ${m.version})`);
}

/**
 * The pending migrations: a flat list, or, when a run of both phases has after-deploy ones, a section per phase that
 * has any (before the deploy, then after it).
 */
function pendingSection(plan: Plan): string[] {
  if (plan.pending.length === 0) return ['nothing pending'];
  const heading = `${plural(plan.pending.length, 'pending migration')}${plan.phase === 'all' ? '' : ` (${plan.phase})`}:`;
  const before = plan.pending.filter((m) => m.phase === 'before-deploy');
  const after = plan.pending.filter((m) => m.phase === 'after-deploy');
  if (plan.phase !== 'all' || after.length === 0) return [heading, ...pendingLines(plan.pending)];
  const section = (title: string, migrations: Plan['pending']) =>
    migrations.length === 0 ? [] : [`  ${title}:`, ...pendingLines(migrations).map((l) => `  ${l}`)];
  return [
    heading,
    ...section(`before the deploy (${before.length})`, before),
    ...section(`after the deploy (${after.length}, -- lockstep:after-deploy)`, after),
  ];
}

export function formatPlan(plan: Plan): string {
  const lines = pendingSection(plan);
  const left = deferredLine(plan.deferred);
  if (left) lines.push(left);
  const drift = [
    ...plan.checksumMismatches.map(
      (c) =>
        `  edited after it was applied: ${c.file} (applied sha256 ${c.appliedChecksum.slice(0, 12)}…, ` +
        `file sha256 ${c.fileChecksum.slice(0, 12)}…)`,
    ),
    ...plan.outOfOrder.map(
      (m) => `  older than the highest applied version ${plan.highestApplied ?? '?'}: ${m.file}`,
    ),
    ...plan.databaseAhead.map(
      (m) => `  applied, but this release has no file for it: ${m.file} (version ${m.version})`,
    ),
    ...plan.inDoubt.map(
      (m) => `  started and never recorded as finished (in doubt): ${m.file}, started ${m.startedAt}`,
    ),
  ];
  lines.push(drift.length === 0 ? 'drift: none' : 'drift:', ...drift);
  return lines.join('\n');
}

export function formatStatus(status: StatusResult): string {
  const lines = [
    status.applied.length === 0 ? 'applied: none' : `applied (${status.applied.length}):`,
    ...appliedLines(status.applied),
    status.pending.length === 0 ? 'pending: none' : `pending (${status.pending.length}):`,
    ...pendingLines(status.pending),
  ];
  if (status.databaseAhead.length > 0) {
    lines.push(
      `applied, but this release has no file for them (${status.databaseAhead.length}):`,
      ...aheadLines(status.databaseAhead),
    );
  }
  return lines.join('\n');
}

export function formatRepair(result: RepairResult, repairedBy: string, osUser: string | undefined): string {
  if (!result.changed) {
    return `${result.file} matches the checksum recorded when it was applied: nothing to repair`;
  }
  return (
    `accepted the current ${result.file} as applied: recorded checksum ${result.previousChecksum.slice(0, 12)}… ` +
    `is now ${result.checksum.slice(0, 12)}…; logged in ${result.auditTable} ` +
    `(by ${repairedBy}${osUser ? `, OS user ${osUser}` : ''})`
  );
}
