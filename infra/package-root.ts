/**
 * The lockstep package's root directory (where its package.json is), from a module inside it: from source
 * (`infra/…`, `rehearsal/…`) as from the installed bundle (`dist/…`, where the build defines `import.meta.url` as
 * the bundle's own file).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRoot(moduleUrl: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (
      existsSync(manifest) &&
      (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'lockstep'
    )
      return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no lockstep package.json above ${fileURLToPath(moduleUrl)}`);
    dir = parent;
  }
}

/**
 * The lock file the functions' bundling keys on: package-lock.json in a checkout. An installed lockstep has none
 * (npm never packs package-lock.json), and the rehearsal synthesizes from there without bundling: package.json
 * stands in, which CDK reads as npm's (`PackageManager.fromLockFile` treats any other name as npm).
 */
export function dependencyLockFile(root: string): string {
  const lock = join(root, 'package-lock.json');
  return existsSync(lock) ? lock : join(root, 'package.json');
}
