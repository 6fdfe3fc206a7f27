#!/usr/bin/env node
// The published entry point: dist/cli.js is built from cli/main.ts by `npm run build:cli` (run on install).
import '../dist/cli.js';
