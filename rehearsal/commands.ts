/** What the rehearsal commands of the CLI load (`release`, `snapshots`, `restore` and `rollback --local`, `diagram`). */
import { toMermaid } from '../infra/diagram.ts';

export { localSnapshots, releaseLocal, restoreLocal, withLocalDatabase } from './release.ts';
export { rollbackLocal } from './rollback.ts';

/** The release state machine, as synthesized, as a Mermaid flowchart. */
export async function diagram(): Promise<string> {
  const { synthesizeReleaseDefinition } = await import('./definition.ts');
  return toMermaid(synthesizeReleaseDefinition().definition);
}
