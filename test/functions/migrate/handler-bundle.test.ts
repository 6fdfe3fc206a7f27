import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { build } from 'esbuild';

const repoRoot = resolve(import.meta.dirname, '..', '..', '..');

// Its size is a benchmark (bench/bundles.ts); what it is made of is a rule: the function runs statements split at synth
// or `lockstep publish`, so nothing it imports may reach the SQL parser.
test('the migrate function’s bundle holds no SQL parser: not libpg-query, nor the engine code that drives it', async () => {
  const result = await build({
    absWorkingDir: repoRoot,
    entryPoints: ['functions/migrate/handler.ts'],
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    minify: true,
    external: ['@aws-sdk/*'],
    metafile: true,
    write: false,
    logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(inputs.includes('engine/runner.ts'), 'the engine is in it');
  assert.deepEqual(
    inputs.filter((path) =>
      /libpg-query|@pgsql|engine\/(sql-parser|analyze|prepare|migration-files|lint\/lint-file|lint\/statement-rules)\.ts/.test(
        path,
      ),
    ),
    [],
  );
  const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.map((i) => i.path));
  assert.deepEqual(
    imports.filter((path) => /libpg-query|@pgsql/.test(path)),
    [],
    'not left to load at run time either',
  );
  const js = result.outputFiles?.[0]?.text ?? '';
  assert.doesNotMatch(js, /libpg-query|\.wasm/);
});
