/** Writes schema/release-input.schema.json from the zod schema (npm run schema). A test fails when it is stale. */
import { writeFileSync } from 'node:fs';
import { releaseInputJsonSchema } from '../functions/shared/release-input.ts';

writeFileSync(
  new URL('../schema/release-input.schema.json', import.meta.url),
  `${JSON.stringify(releaseInputJsonSchema(), null, 2)}\n`,
);
