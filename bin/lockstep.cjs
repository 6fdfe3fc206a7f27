#!/usr/bin/env node
// The installed entry point. dist/cli.cjs is cli/main.ts bundled by `npm run build:cli` (run on install):
// one CommonJS file loads several times faster than the ES module graph it is built from. The bundle is built
// with `--define:Response=undefined`: node-postgres tells Cloudflare Workers apart by constructing a `Response`,
// which on Node 20 loads undici, 20–30 ms of every run; nothing in the CLI uses fetch.
//
// V8's code cache, where Node has it (`module.enableCompileCache`, Node ≥ 22.1): the bundle's compiled code is kept
// beside it, in dist/.compile-cache (so whoever can write it could as well edit the bundle), and later runs skip
// compiling it. Where the directory is not writable Node carries on without. Node 20 has no such API; a fallback that
// loads the bundle through `vm.Script` with cachedData was measured and bought nothing there (bench/RESULTS.md).
//
// The SQL parser's V8 flag (see cli/main.ts) is set here, before the bundle compiles: V8 stamps a code cache with the
// flags in force, so a cache written after the bundle changed them would never match a fresh process.
const { join } = require('node:path');
require('node:v8').setFlagsFromString('--liftoff-only');
const { enableCompileCache } = require('node:module');
if (typeof enableCompileCache === 'function') {
  try {
    enableCompileCache(join(__dirname, '..', 'dist', '.compile-cache'));
  } catch {
    // A cache is an optimisation: without one the bundle compiles as on Node 20.
  }
}
require('../dist/cli.cjs');
