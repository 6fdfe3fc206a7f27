// V8's code cache for the CLI bundle on a Node without `module.enableCompileCache` (before 22.1, such as Node 20):
// the bundle is compiled through `vm.Script` with the cached data of an earlier run, so V8 skips parsing and compiling
// the functions that run already ran. Measured on Node 20 (bench/RESULTS.md).
//
// - Where: the user's cache directory (./cache-directory.cjs), under lockstep/code-cache; no cache for a user with
//   no home directory.
// - Keyed by the bundle's SHA-1, Node's version and architecture, and `v8.cachedDataVersionTag()` (V8's version, its
//   flags and the CPU's features): a new bundle or another Node never reads an old cache. V8 itself checks only the
//   source's length, so a cache for other code of the same length must never reach it. One per command, too: each
//   holds what its command compiles (a cache made by `--version` would leave `migrate` compiling most of its code).
// - Written at exit, so that it holds every function the run compiled, and only by a run that left V8's flags as a
//   fresh process has them (a run that loaded the SQL parser did not, cli/parser-tier.ts): V8 rejects a cache made
//   under other flags. Written to a temporary file, then renamed: a reader sees a whole file or none.
// - Read only when it is whole (its SHA-1 is stored in front of it) and could only have come from this user (owned by
//   them, writable by no one else). Otherwise, or when V8 rejects it, the bundle compiles as without a cache and the
//   run writes a new one. A directory that cannot be written costs one failed mkdir or open at exit.
// - `NODE_DISABLE_COMPILE_CACHE`, Node's own switch for its compile cache, turns this one off too, as does
//   `LOCKSTEP_NO_CACHE`, which turns off every cache lockstep keeps (cli/analysis-store.ts).
//
// The bundle runs as CommonJS: `require` from its own path, its own `__filename` and `__dirname`. On Node 20 a script
// restored from cached data has no `import()` ("A dynamic import callback was not specified"; nor with
// `vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER`), so the bundle requires its two external packages instead
// (engine/sql-parser.ts, cli/embedded-postgres.ts), one of them an ES module: the cache is used only where Node can
// require an ES module (`process.features.require_module`, Node >= 20.19); elsewhere the bundle is required as usual.
'use strict';
const { createHash, randomBytes } = require('node:crypto');
const fs = require('node:fs');
const { createRequire } = require('node:module');
const { basename, dirname, join } = require('node:path');
const v8 = require('node:v8');
const vm = require('node:vm');
const { lockstepCacheDirectory } = require('./cache-directory.cjs');

const HASH = 'sha1';
const HASH_BYTES = 20;
// Other caches of the same bundle (earlier versions) are removed when a new one is written, once this old.
const STALE_MS = 7 * 24 * 60 * 60 * 1000;
// On a line of its own, so that the bundle's line numbers stay its own (lineOffset).
const HEAD = '(function (exports, require, module, __filename, __dirname) {\n';
const TAIL = '\n})';

/** The directory the cache lives in, for this user; undefined when the user has none (./cache-directory.cjs). */
function cacheDirectory(env = process.env, platform = process.platform) {
  const base = lockstepCacheDirectory(env, platform);
  return base === undefined ? undefined : join(base, 'code-cache');
}

const digest = (data) => createHash(HASH).update(data).digest();

/** The cached data at `path` when it is whole and only this user could have written it; otherwise undefined. */
function readCache(path) {
  let fd;
  try {
    fd = fs.openSync(path, 'r');
    const stat = fs.fstatSync(fd);
    if (
      typeof process.getuid === 'function' &&
      (stat.uid !== process.getuid() || (stat.mode & 0o022) !== 0)
    ) {
      return undefined;
    }
    const file = fs.readFileSync(fd);
    if (file.length <= HASH_BYTES) return undefined;
    const data = file.subarray(HASH_BYTES);
    return digest(data).equals(file.subarray(0, HASH_BYTES)) ? data : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Writes `make()`'s data to `path` through a temporary file; any failure leaves things as they were. */
function writeCache(path, make) {
  const dir = dirname(path);
  const temporary = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const fd = fs.openSync(temporary, 'wx', 0o600);
    try {
      const data = make();
      fs.writeSync(fd, digest(data));
      fs.writeSync(fd, data);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, path);
  } catch {
    try {
      fs.unlinkSync(temporary);
    } catch {}
    return false;
  }
  return true;
}

/** Removes caches of other builds of the bundle, and temporary files a killed run left, not modified for a week. */
function removeStale(dir, bundleName, current) {
  try {
    const old = Date.now() - STALE_MS;
    for (const name of fs.readdirSync(dir)) {
      if (!name.startsWith(`${bundleName}-`) || (name.startsWith(current) && name.endsWith('.bin'))) continue;
      const path = join(dir, name);
      if (fs.statSync(path).mtimeMs < old) fs.unlinkSync(path);
    }
  } catch {}
}

/**
 * Runs the CommonJS bundle `file` as `require(file)` would, through the code cache in `directory`. `variant` names
 * what the run will do (the CLI's command): each variant has a cache of its own, holding the functions such a run
 * compiles, since a cache is written only when there is none. Returns what happened to the cache: `hit` (used),
 * `miss` (none yet, or unreadable), `rejected` (V8 refused it), `off`.
 */
function runWithCodeCache(file, directory = cacheDirectory(), variant = 'run') {
  if (
    directory === undefined ||
    !process.features.require_module ||
    process.env.NODE_DISABLE_COMPILE_CACHE ||
    process.env.LOCKSTEP_NO_CACHE !== undefined
  ) {
    require(file);
    return 'off';
  }
  const source = fs.readFileSync(file, 'utf8');
  const tag = v8.cachedDataVersionTag();
  const key = `${digest(source).toString('hex')}-${process.version}-${process.arch}-${tag}`;
  const build = `${basename(file)}-${key}-`;
  const path = join(directory, `${build}${variant.replace(/[^a-z0-9-]/gi, '_')}.bin`);
  const cachedData = readCache(path);
  const script = new vm.Script(HEAD + source + TAIL, {
    filename: file,
    lineOffset: -1,
    cachedData,
  });
  const outcome = cachedData === undefined ? 'miss' : script.cachedDataRejected ? 'rejected' : 'hit';
  if (outcome !== 'hit') {
    process.once('exit', () => {
      if (v8.cachedDataVersionTag() !== tag) return;
      if (writeCache(path, () => script.createCachedData())) removeStale(directory, basename(file), build);
    });
  }
  const module = { exports: {}, filename: file, id: file, loaded: false, children: [], paths: [] };
  script
    .runInThisContext()
    .call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  module.loaded = true;
  return outcome;
}

module.exports = { cacheDirectory, runWithCodeCache };
