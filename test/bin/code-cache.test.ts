/**
 * bin/code-cache.cjs: the installed command's V8 code cache on Node 20. Each case runs a small CommonJS bundle (or the
 * real one) in fresh node processes, as bin/lockstep.cjs does, with the cache in a temporary directory.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot } from '../support/cli-process.ts';

const codeCache = join(repoRoot, 'bin', 'code-cache.cjs');
const { cacheDirectory } = createRequire(import.meta.url)(codeCache) as {
  cacheDirectory(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string;
};

// Line 5 makes the Error whose stack the bundle prints: the stack must still say line 5.
const BUNDLE = `'use strict';
const dep = require('./dep.cjs');
if (process.env.SET_FLAG) require('node:v8').setFlagsFromString('--liftoff-only');
const answer = () => dep.value * 2;
const frame = new Error('where').stack.split('\\n')[1];
process.stdout.write(JSON.stringify({ answer: answer(), dirname: __dirname, filename: __filename, frame }));
if (process.env.THROW) throw new Error('boom');
process.exitCode = Number(process.env.CODE ?? 0);
`;

interface Run {
  readonly status: number | null;
  readonly outcome: string;
  readonly out: { answer: number; dirname: string; filename: string; frame: string };
  readonly stderr: string;
}

describe('bin/code-cache.cjs', () => {
  let root: string;
  let app: string;
  let bundle: string;
  let cache: string;

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'lockstep-code-cache-'));
    app = join(root, 'app');
    mkdirSync(app);
    bundle = join(app, 'bundle.cjs');
    writeFileSync(join(app, 'dep.cjs'), 'exports.value = 21;\n');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  /** A fresh cache directory and the bundle as given. */
  function reset(source = BUNDLE): void {
    cache = join(root, `cache-${Math.random().toString(36).slice(2)}`);
    writeFileSync(bundle, source);
  }

  /** One fresh node running the bundle through the cache, as bin/lockstep.cjs does. */
  function run(env: Record<string, string> = {}, dir = cache, variant = 'run'): Run {
    const driver = `const outcome = require(${JSON.stringify(codeCache)}).runWithCodeCache(process.argv[1], process.argv[2], process.argv[3]);
      process.on('exit', () => process.stderr.write('cache:' + outcome));`;
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    delete childEnv.NODE_OPTIONS;
    if (!('NODE_DISABLE_COMPILE_CACHE' in env)) delete childEnv.NODE_DISABLE_COMPILE_CACHE;
    const r = spawnSync(process.execPath, ['-e', driver, bundle, dir, variant], {
      env: childEnv,
      encoding: 'utf8',
    });
    return {
      status: r.status,
      outcome: /cache:(\w+)/.exec(r.stderr)?.[1] ?? '',
      out: JSON.parse(r.stdout || 'null'),
      stderr: r.stderr,
    };
  }

  const cacheFiles = () => {
    try {
      return readdirSync(cache).filter((f) => f.endsWith('.bin'));
    } catch {
      return [];
    }
  };
  const onlyCacheFile = () => {
    const files = cacheFiles();
    assert.equal(files.length, 1, `cache files: ${files.join(', ')}`);
    return join(cache, files[0] as string);
  };

  const expected = () => ({ answer: 42, dirname: app, filename: bundle });
  const assertRanAsRequire = (r: Run) => {
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual({ ...r.out, frame: undefined }, { ...expected(), frame: undefined });
    assert.match(r.out.frame, /bundle\.cjs:5:\d+\)?$/);
  };

  test('writes the cache at exit, and the next run compiles from it', () => {
    reset();
    const first = run();
    assertRanAsRequire(first);
    assert.equal(first.outcome, 'miss');
    const file = onlyCacheFile();
    assert.equal(statSync(file).mode & 0o077, 0, 'readable by this user only');
    const written = statSync(file).mtimeMs;

    const second = run();
    assertRanAsRequire(second);
    assert.equal(second.outcome, 'hit');
    assert.equal(statSync(file).mtimeMs, written, 'a cache in use is not written again');
  });

  test('each variant (the command) has a cache of its own', () => {
    reset();
    run();
    assert.equal(run({}, cache, 'other').outcome, 'miss');
    assert.equal(run({}, cache, 'other').outcome, 'hit');
    assert.equal(run().outcome, 'hit');
    assert.equal(cacheFiles().length, 2);
  });

  test('keeps the exit code and a thrown error of the bundle, with its own line numbers', () => {
    reset();
    run();
    assert.equal(run({ CODE: '3' }).status, 3);
    const thrown = run({ THROW: '1' });
    assert.equal(thrown.outcome, '');
    assert.equal(thrown.status, 1);
    assert.match(thrown.stderr, /Error: boom\n\s+at .*bundle\.cjs:7:/);
  });

  test('a corrupt, truncated or foreign cache is not read, and the run replaces it', () => {
    reset();
    run();
    const file = onlyCacheFile();
    const good = readFileSync(file);

    const flipped = Buffer.from(good);
    flipped[flipped.length - 1] = (flipped.at(-1) ?? 0) ^ 0xff;
    for (const broken of [flipped, good.subarray(0, 10), Buffer.alloc(0)]) {
      writeFileSync(file, broken);
      const r = run();
      assertRanAsRequire(r);
      assert.equal(r.outcome, 'miss');
      assert.notDeepEqual(readFileSync(onlyCacheFile()), broken, 'written again');
      assert.equal(run().outcome, 'hit');
    }

    // Whole, but another user could have written it.
    chmodSync(file, 0o666);
    const foreign = run();
    assertRanAsRequire(foreign);
    assert.equal(foreign.outcome, 'miss');
    assert.equal(statSync(onlyCacheFile()).mode & 0o077, 0, 'replaced by one of this user');
  });

  test('a cache V8 refuses (its checksum right, its content not code) is replaced', () => {
    reset();
    run();
    const file = onlyCacheFile();
    const junk = Buffer.alloc(4096, 7);
    const { createHash } = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
    writeFileSync(file, Buffer.concat([createHash('sha1').update(junk).digest(), junk]));
    const r = run();
    assertRanAsRequire(r);
    assert.equal(r.outcome, 'rejected');
    assert.equal(run().outcome, 'hit');
  });

  test('a changed bundle gets a cache of its own; week-old caches of the bundle go when a new one is written', () => {
    reset();
    run();
    const old = onlyCacheFile();
    writeFileSync(bundle, `${BUNDLE}// changed\n`);
    const changed = run();
    assertRanAsRequire(changed);
    assert.equal(changed.outcome, 'miss', 'the old cache is not used for the new bundle');
    assert.equal(cacheFiles().length, 2, 'a recent old cache stays (another install may still use it)');

    const weekAgo = (Date.now() - 8 * 24 * 3600 * 1000) / 1000;
    utimesSync(old, weekAgo, weekAgo);
    const leftByAKilledRun = join(cache, `${cacheFiles()[0]}.123-abcd.tmp`);
    writeFileSync(leftByAKilledRun, 'partial');
    utimesSync(leftByAKilledRun, weekAgo, weekAgo);
    writeFileSync(bundle, `${BUNDLE}// changed again\n`);
    run();
    assert.equal(cacheFiles().length, 2);
    assert.ok(!cacheFiles().includes(old.slice(cache.length + 1)), 'the week-old cache is removed');
    assert.ok(!existsSync(leftByAKilledRun), 'and the week-old temporary file');
  });

  test('a cache directory that cannot be written changes nothing but the cache', () => {
    reset();
    const blocked = join(root, 'a-file');
    writeFileSync(blocked, '');
    for (let i = 0; i < 2; i++) {
      const r = run({}, join(blocked, 'cache'));
      assertRanAsRequire(r);
      assert.equal(r.outcome, 'miss');
      assert.equal(r.stderr, 'cache:miss');
    }
  });

  test('a run that changed V8 flags writes no cache (V8 would refuse it in a fresh process)', () => {
    reset();
    assertRanAsRequire(run({ SET_FLAG: '1' }));
    assert.deepEqual(cacheFiles(), []);
  });

  test("NODE_DISABLE_COMPILE_CACHE, Node's own switch, turns it off", () => {
    reset();
    const r = run({ NODE_DISABLE_COMPILE_CACHE: '1' });
    assertRanAsRequire(r);
    assert.equal(r.outcome, 'off');
    assert.deepEqual(cacheFiles(), []);
  });

  test("lives in the user's cache directory", () => {
    assert.equal(cacheDirectory({ XDG_CACHE_HOME: '/x/cache' }, 'linux'), '/x/cache/lockstep/code-cache');
    assert.match(cacheDirectory({ XDG_CACHE_HOME: 'relative' }, 'linux'), /\.cache\/lockstep\/code-cache$/);
    assert.match(cacheDirectory({}, 'darwin'), /\.cache\/lockstep\/code-cache$/);
  });

  test('the installed command run from its cache loads the SQL parser and prints what it prints without one', () => {
    const xdg = join(root, 'xdg');
    const dir = join(root, 'migrations');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '0001_t.sql'), 'ALTER TABLE orders ADD COLUMN region text NOT NULL;\n');
    const lockstep = (args: string[], env: Record<string, string>) => {
      const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
      delete childEnv.NODE_DISABLE_COMPILE_CACHE;
      const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'lockstep.cjs'), ...args], {
        env: childEnv,
        encoding: 'utf8',
      });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const empty = join(root, 'no-migrations');
    mkdirSync(empty, { recursive: true });
    const uncached = lockstep(['lint', '--dir', dir], { NODE_DISABLE_COMPILE_CACHE: '1' });
    // Nothing to parse: the parser's V8 flag is not set, so this run writes the lint command's cache.
    assert.equal(lockstep(['lint', '--dir', empty], { XDG_CACHE_HOME: xdg }).status, 0);
    assert.equal(readdirSync(join(xdg, 'lockstep', 'code-cache')).length, 1, 'written by the first lint');
    const cached = lockstep(['lint', '--dir', dir], { XDG_CACHE_HOME: xdg });
    assert.deepEqual(cached, uncached);
    assert.match(cached.stdout + cached.stderr, /region/, 'the lint parsed the file');
  });
});
