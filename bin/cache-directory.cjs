// Where lockstep keeps its per-user caches (bin/code-cache.cjs, cli/analysis-store.ts): $XDG_CACHE_HOME, else
// ~/.cache (%LOCALAPPDATA% on Windows), under lockstep/. Never the project directory, never a shared temp directory.
// Undefined when the user has none: no cache variable, no `HOME`, and a user id the password database does not know
// (a container run as an arbitrary user), where `os.homedir()` throws; every cache is then off.
'use strict';
const { homedir } = require('node:os');
const { isAbsolute, join } = require('node:path');

function lockstepCacheDirectory(env = process.env, platform = process.platform) {
  const base = platform === 'win32' ? env.LOCALAPPDATA : env.XDG_CACHE_HOME;
  if (base && isAbsolute(base)) return join(base, 'lockstep');
  try {
    return join(homedir(), '.cache', 'lockstep');
  } catch {
    return undefined;
  }
}

module.exports = { lockstepCacheDirectory };
