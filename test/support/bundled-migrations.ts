import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleMigrations } from '../../infra/constructs/bundled-migrations.ts';
import { migrationsDir } from './database.ts';

export interface BundledMigrations {
  /** The directory the migrate function reads (`MIGRATIONS_DIR`): the files and their manifest. */
  readonly dir: string;
  /** Replaces the bundle with these files, checked and split again (a redeploy). */
  rebundle(files: Record<string, string>): Promise<void>;
  cleanup(): Promise<void>;
}

/** Migration files as the synth bundles them into the migrate function: checked, split, beside their manifest. */
export async function bundledMigrationsDir(files: Record<string, string>): Promise<BundledMigrations> {
  const dir = await mkdtemp(join(tmpdir(), 'lockstep-bundled-'));
  const rebundle = async (next: Record<string, string>) => {
    const source = await migrationsDir(next);
    try {
      await rm(dir, { recursive: true, force: true });
      await bundleMigrations(source.dir, dir);
    } finally {
      await source.cleanup();
    }
  };
  await rebundle(files);
  return { dir, rebundle, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
