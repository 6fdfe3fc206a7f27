#!/usr/bin/env node
// The installed entry point. dist/cli.cjs is cli/main.ts bundled by `npm run build:cli` (run on install):
// one CommonJS file loads several times faster than the ES module graph it is built from. The bundle is built
// with `--define:Response=undefined`: node-postgres tells Cloudflare Workers apart by constructing a `Response`,
// which on Node 20 loads undici, 20–30 ms of every run; nothing in the CLI uses fetch.
//
// V8's code cache, so that later runs skip compiling the bundle. Where Node has it (`module.enableCompileCache`,
// Node >= 22.1), Node's own, kept beside the bundle in dist/.compile-cache (so whoever can write it could as well edit
// the bundle); where that directory is not writable Node carries on without. On older Node, ./code-cache.cjs, in the
// user's cache directory.
const { join } = require('node:path');
const { enableCompileCache } = require('node:module');
const bundle = join(__dirname, '..', 'dist', 'cli.cjs');
if (typeof enableCompileCache === 'function') {
  try {
    enableCompileCache(join(__dirname, '..', 'dist', '.compile-cache'));
  } catch {
    // A cache is an optimisation: without one the bundle compiles as it would without this.
  }
  require(bundle);
} else {
  const command = process.argv[2] ?? '';
  require('./code-cache.cjs').runWithCodeCache(
    bundle,
    undefined,
    /^[a-z][a-z-]*$/.test(command) ? command : 'other',
  );
}
