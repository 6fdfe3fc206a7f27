import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseReleaseInput, releaseInputJsonSchema } from '../../../functions/shared/release-input.ts';

const root = new URL('../../../', import.meta.url);

test('schema/release-input.schema.json is generated from the current schema (run `npm run schema`)', () => {
  const committed = JSON.parse(readFileSync(new URL('schema/release-input.schema.json', root), 'utf8'));
  assert.deepEqual(committed, JSON.parse(JSON.stringify(releaseInputJsonSchema())));
});

test('every release input example in the README is one preflight accepts', () => {
  const readme = readFileSync(new URL('README.md', root), 'utf8');
  const examples = [...readme.matchAll(/<!-- release-input -->\n```json\n([\s\S]*?)```/g)].map(
    (m) => m[1] as string,
  );
  assert.ok(examples.length >= 2, `found ${examples.length} examples`);
  for (const example of examples) {
    const input = parseReleaseInput(JSON.parse(example), { migrations: 'bundled' });
    assert.ok(input.image && input.release);
  }
});
