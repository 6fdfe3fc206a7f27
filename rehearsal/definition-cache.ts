/**
 * The synthesized definition, kept between rehearsals: synthesizing the CDK app in-process is most of a rehearsal
 * with nothing pending (~10 s here). The cache key is a hash of everything the synthesis reads: the sources of
 * infra/, functions/, engine/ and rehearsal/ (or the installed bundle that holds them), the installed aws-cdk-lib,
 * and the CDK context. Any change to one is a different key, so a stale definition is never used.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../infra/package-root.ts';
import type { LocalDefinition } from './definition.ts';

const PREFIX = 'release-definition-';
const SOURCE_DIRS = ['infra', 'functions', 'engine', 'rehearsal'];

export interface CachedDefinition {
  readonly local: LocalDefinition;
  /** False when this call synthesized it. */
  readonly cached: boolean;
}

/** The definition from `cacheDir` if its key matches, else synthesized and stored there (replacing older ones). */
export async function cachedReleaseDefinition(
  cacheDir: string,
  options: { readonly context?: Record<string, unknown>; readonly onSynthesize?: () => void } = {},
): Promise<CachedDefinition> {
  const context = options.context ?? {};
  const key = synthesisKey(context);
  const file = join(cacheDir, `${PREFIX}${key}.json`);
  if (existsSync(file)) {
    try {
      return { local: JSON.parse(readFileSync(file, 'utf8')) as LocalDefinition, cached: true };
    } catch {
      // Unreadable (a write cut short before the rename existed, a disk problem): synthesize again.
    }
  }
  options.onSynthesize?.();
  // Loaded only now: aws-cdk-lib alone takes seconds to load.
  const { synthesizeReleaseDefinition } = await import('./definition.ts');
  const local = synthesizeReleaseDefinition({ context });
  mkdirSync(cacheDir, { recursive: true });
  for (const old of readdirSync(cacheDir))
    if (old.startsWith(PREFIX)) rmSync(join(cacheDir, old), { force: true });
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, JSON.stringify(local));
  renameSync(partial, file);
  return { local, cached: false };
}

/** A hash of the synthesis's inputs. */
export function synthesisKey(context: Record<string, unknown>): string {
  const root = packageRoot();
  const hash = createHash('sha256');
  const add = (label: string, content: string | Buffer) => {
    hash.update(`${label}\0${content.length}\0`);
    hash.update(content);
  };
  add('context', JSON.stringify(context));
  add(
    'aws-cdk-lib',
    readFileSync(createRequire(join(root, 'package.json')).resolve('aws-cdk-lib/package.json')),
  );
  // In the installed bundle, this module's own file holds every source it was built from.
  add('module', readFileSync(fileURLToPath(import.meta.url)));
  for (const dir of SOURCE_DIRS) {
    const path = join(root, dir);
    if (!existsSync(path)) continue;
    const files = readdirSync(path, { recursive: true, encoding: 'utf8' })
      .filter((name) => name.endsWith('.ts'))
      .sort();
    for (const name of files) add(relative(root, join(path, name)), readFileSync(join(path, name)));
  }
  return hash.digest('hex').slice(0, 16);
}
