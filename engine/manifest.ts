/**
 * The manifest published with a release's migrations (`lockstep publish`): every file's name, size and
 * sha256. The migrate function runs exactly the files it lists, byte for byte, or refuses.
 */
import { createHash } from 'node:crypto';

export const MANIFEST_FILE = 'manifest.json';
const FORMAT = 'lockstep-migrations/1';

export interface ManifestEntry {
  readonly name: string;
  readonly sha256: string;
  readonly bytes: number;
}

export interface Manifest {
  readonly format: typeof FORMAT;
  readonly release: string;
  readonly createdAt: string;
  readonly files: readonly ManifestEntry[];
}

export const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export function createManifest(
  release: string,
  files: ReadonlyArray<readonly [name: string, bytes: Buffer]>,
  now: Date,
): Manifest {
  return {
    format: FORMAT,
    release,
    createdAt: now.toISOString(),
    files: [...files]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, bytes]) => ({ name, sha256: sha256(bytes), bytes: bytes.length })),
  };
}

/** Parses a manifest, or returns the problems that make it unusable. */
export function parseManifest(text: string): { manifest?: Manifest; problems: string[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { problems: ['manifest.json is not JSON'] };
  }
  const m = raw as Partial<Manifest>;
  if (m?.format !== FORMAT) return { problems: [`manifest.json: format must be "${FORMAT}"`] };
  const valid =
    typeof m.release === 'string' &&
    Array.isArray(m.files) &&
    m.files.every(
      (f) =>
        typeof f?.name === 'string' &&
        /^[^/\\]+\.sql$/.test(f.name) &&
        typeof f.sha256 === 'string' &&
        /^[0-9a-f]{64}$/.test(f.sha256) &&
        Number.isInteger(f.bytes),
    );
  return valid
    ? { manifest: m as Manifest, problems: [] }
    : { problems: ['manifest.json: malformed file list'] };
}

/** Compares downloaded files with the manifest: missing, extra and altered files are problems, by name. */
export function verifyAgainstManifest(
  manifest: Manifest,
  files: ReadonlyArray<readonly [name: string, bytes: Buffer]>,
): string[] {
  const problems: string[] = [];
  const present = new Map(files);
  for (const entry of manifest.files) {
    const bytes = present.get(entry.name);
    if (!bytes) problems.push(`${entry.name}: listed in the manifest but missing`);
    else if (sha256(bytes) !== entry.sha256) problems.push(`${entry.name}: sha256 differs from the manifest`);
    present.delete(entry.name);
  }
  for (const name of present.keys()) problems.push(`${name}: present but not in the manifest`);
  return problems;
}
