#!/usr/bin/env node
// The installed entry point. dist/cli.cjs is cli/main.ts bundled by `npm run build:cli` (run on install):
// one CommonJS file loads several times faster than the ES module graph it is built from. The bundle is built
// with `--define:Response=undefined`: node-postgres tells Cloudflare Workers apart by constructing a `Response`,
// which on Node 20 loads undici, 20–30 ms of every run; nothing in the CLI uses fetch.
require('../dist/cli.cjs');
