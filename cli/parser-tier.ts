/**
 * Which V8 tiers compile the SQL parser's 1.7 MB WebAssembly module: a process-wide choice, so the CLI's entry makes
 * it, not the engine. By default V8's optimising tier recompiles the module in the background and an exiting process
 * waits for that, 0.1–0.2 s more per run (bench/RESULTS.md); large files parse somewhat slower without that tier.
 *
 * Set only when the parser is about to load, not at start: a changed V8 flag changes the tag V8 checks code caches
 * against (`v8.cachedDataVersionTag()`), and bin/code-cache.cjs keeps the bundle's code cache only from runs that left
 * the flags as a fresh process has them, such as a migrate with nothing pending.
 */
import { setFlagsFromString } from 'node:v8';

export function keepParserOnBaselineTier(): void {
  setFlagsFromString('--liftoff-only');
}
