/**
 * Flyway's SQL migrations: `V<version>__<description>.sql`, the version's parts separated by dots or underscores and
 * compared part by part as numbers; repeatable `R__<description>.sql`; undo `U<version>__…` (Flyway docs "Migrations",
 * naming). lockstep runs versioned files in version order, ignores undo files, and refuses repeatable ones clearly:
 * their history is a checksum per run rather than a version, which lockstep's history has no place for. A
 * `<file>.sql.conf` beside a file with `executeInTransaction=false` runs it outside a transaction (Flyway docs
 * "Script Configuration", "Execute In Transaction Setting"). History: `flyway_schema_history`, with a CRC32 of the
 * file's lines as `checksum` (flyway/flyway `flyway-core/src/main/java/org/flywaydb/core/internal/resolver/ChecksumCalculator.java`).
 *
 * lockstep keys history by one integer: a one-part version is that number; a version of two or three parts is
 * `major·10¹² + minor·10⁶ + patch` (each of minor and patch below 10⁶), a fixed rule per file, so adding a file never
 * changes another's version; the tool-order check refuses a directory where that rule would reorder files.
 */
import type { MigrationFileProblem } from '../errors.ts';
import { MAX_VERSION } from '../migration.ts';
import {
  type Entry,
  inToolOrder,
  type LayoutMigration,
  layoutMigration,
  pathOf,
  readSource,
  versionedSource,
} from './layout.ts';

export const FLYWAY_VERSIONED = /^V(\d+(?:[._]\d+)*)__(.+)\.sql$/;
export const FLYWAY_OTHER = /^(R__|U\d+(?:[._]\d+)*__).+\.sql$/;
const PART = 10n ** 6n;

/** The parts of a Flyway version (`1.2`, `1_2`), trailing zeros dropped as Flyway compares them (1.0 = 1). */
export function flywayParts(version: string): bigint[] {
  const parts = version.split(/[._]/).map((p) => BigInt(p));
  while (parts.length > 1 && parts.at(-1) === 0n) parts.pop();
  return parts;
}

/** lockstep's integer version for a Flyway version, or why there is none. */
export function flywayVersion(version: string): bigint | string {
  const parts = flywayParts(version);
  const [major = 0n, minor = 0n, patch = 0n] = parts;
  if (parts.length === 1) return major <= MAX_VERSION ? major : `version ${version} is too large`;
  if (parts.length > 3 || minor >= PART || patch >= PART || major * PART * PART > MAX_VERSION)
    return `version ${version}: lockstep maps versions of up to three parts (minor and patch below 1000000, major below 9223372), this one does not fit`;
  return major * PART * PART + minor * PART + patch;
}

function compareParts(a: readonly bigint[], b: readonly bigint[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0n;
    const y = b[i] ?? 0n;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

export function readFlyway(dir: string, entries: readonly Entry[]): LayoutMigration[] {
  const problems: MigrationFileProblem[] = [];
  const names = new Set(entries.map((e) => e.name));
  const migrations: LayoutMigration[] = [];
  for (const entry of entries) {
    if (entry.directory || !entry.name.endsWith('.sql')) continue;
    const match = FLYWAY_VERSIONED.exec(entry.name);
    if (!match) {
      if (entry.name.startsWith('R__'))
        problems.push({
          file: entry.name,
          problem:
            'is a Flyway repeatable migration: lockstep does not run those (its history keys migrations by version); move its SQL into a versioned file, or keep running it with Flyway',
        });
      else if (!FLYWAY_OTHER.test(entry.name))
        problems.push({ file: entry.name, problem: 'is not named V<version>__<description>.sql' });
      continue; // U…: undo files never run
    }
    const version = flywayVersion(match[1] as string);
    const source = versionedSource(pathOf(dir, entry.name), entry.name, version, problems);
    if (source === undefined || typeof version !== 'bigint') continue;
    migrations.push(
      layoutMigration({
        version,
        file: entry.name,
        description: (match[2] as string).replace(/_/g, ' '),
        source,
        sql: source,
        noTransaction: !executeInTransaction(dir, entry.name, names, problems),
        toolId: flywayParts(match[1] as string).join('.'),
      }),
    );
  }
  return inToolOrder('flyway', migrations, problems, (a, b) =>
    compareParts(flywayParts(a.toolId), flywayParts(b.toolId)),
  );
}

/** `executeInTransaction` from the script's `.conf` file, when it has one. */
function executeInTransaction(
  dir: string,
  file: string,
  names: ReadonlySet<string>,
  problems: MigrationFileProblem[],
): boolean {
  if (!names.has(`${file}.conf`)) return true;
  const lines = (readSource(pathOf(dir, `${file}.conf`)) ?? '').split(/\r?\n/);
  for (const line of lines) {
    const [key, value] = line.split('=').map((s) => s.trim());
    if (key !== 'executeInTransaction') continue;
    if (value === 'false') return false;
    if (value !== 'true')
      problems.push({ file: `${file}.conf`, problem: 'executeInTransaction must be true or false' });
  }
  return true;
}
