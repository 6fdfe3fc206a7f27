/** Rewrites the README's diagram block from the synthesized state machine (npm run diagram). */
import { readFileSync, writeFileSync } from 'node:fs';
import { toMermaid } from '../infra/diagram.ts';
import { synthesizeReleaseDefinition } from '../rehearsal/definition.ts';

const file = new URL('../README.md', import.meta.url);
const readme = readFileSync(file, 'utf8');
const block = /(<!-- diagram:start[^>]*-->\n```mermaid\n)[\s\S]*?(```\n<!-- diagram:end -->)/;
if (!block.test(readme)) throw new Error('README.md has no diagram block');
writeFileSync(
  file,
  readme.replace(
    block,
    (_, start: string, end: string) => `${start}${toMermaid(synthesizeReleaseDefinition().definition)}${end}`,
  ),
);
