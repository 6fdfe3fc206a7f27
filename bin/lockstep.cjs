#!/usr/bin/env node
// The installed entry point. dist/cli.cjs is cli/main.ts bundled by `npm run build:cli` (run on install):
// one CommonJS file loads several times faster than the ES module graph it is built from.
require('../dist/cli.cjs');
