/** What the rehearsal commands of cli/main.ts load, from source only. */
import { toMermaid } from '../infra/diagram.ts';
import { synthesizeReleaseDefinition } from '../infra/local-definition.ts';

export { localSnapshots, releaseLocal, restoreLocal, withLocalDatabase } from './release-local.ts';

/** The release state machine, as synthesized, as a Mermaid flowchart. */
export function diagram(): string {
  return toMermaid(synthesizeReleaseDefinition().definition);
}
