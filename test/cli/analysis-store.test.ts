/**
 * cli/analysis-store.ts: where the installed command keeps the analyses of files it checked, and that it uses them.
 * The store's own rules run in process; the wiring runs the installed command (bin/lockstep.cjs, the bundle) against
 * the test server, with the cache in a temporary directory.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { lockstepCacheDirectory } from '../../bin/cache-directory.cjs';
import { FileAnalysisStore, installedAnalysisStore } from '../../cli/analysis-store.ts';
import { analysisKey } from '../../engine/analysis-cache.ts';
import { readMigrationFiles } from '../../engine/migration.ts';
import { repoRoot, runCli } from '../support/cli-process.ts';
import { freshDatabase, migrationsDir, type TestDatabase } from '../support/database.ts';

const KEY = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);

describe('the analysis store', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'lockstep-analysis-store-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('gives back what it kept, in a directory of its build, only this user can read', () => {
    const store = new FileAnalysisStore(join(root, 'kept'), () => 'build-1');
    assert.equal(store.read(KEY), undefined);
    store.write(KEY, '{"statements":[[0,1]]}');
    assert.equal(store.read(KEY), '{"statements":[[0,1]]}');
    assert.deepEqual(readdirSync(join(root, 'kept')), ['build-1']);
    assert.deepEqual(readdirSync(join(root, 'kept', 'build-1')), [KEY]);
    // Another build of lockstep does not see it.
    assert.equal(new FileAnalysisStore(join(root, 'kept'), () => 'build-2').read(KEY), undefined);
  });

  test('asks for its build once, and only when used', () => {
    let asked = 0;
    const store = new FileAnalysisStore(join(root, 'once'), () => {
      asked++;
      return 'b';
    });
    assert.equal(asked, 0);
    store.read(KEY);
    store.write(KEY, '{}');
    store.read(KEY);
    assert.equal(asked, 1);
  });

  test('does not read an entry others could have written', () => {
    const store = new FileAnalysisStore(join(root, 'foreign'), () => 'b');
    store.write(KEY, '{"statements":[[0,1]]}');
    const path = join(root, 'foreign', 'b', KEY);
    chmodSync(path, 0o666);
    assert.equal(store.read(KEY), undefined);
    chmodSync(path, 0o600);
    assert.notEqual(store.read(KEY), undefined);
    if (process.getuid?.() === 0) {
      chownSync(path, 4242, 4242);
      assert.equal(store.read(KEY), undefined);
    }
  });

  test('takes only keys that are sha256 in hex: no name reaches outside its directory', () => {
    const store = new FileAnalysisStore(join(root, 'keys'), () => 'b');
    store.write('../escape', 'x');
    store.write(KEY.toUpperCase(), 'x');
    assert.equal(existsSync(join(root, 'keys')), false);
    assert.equal(store.read('../escape'), undefined);
  });

  test('a directory it cannot write is a miss every time, never an error', () => {
    const file = join(root, 'a-file');
    writeFileSync(file, '');
    const store = new FileAnalysisStore(join(file, 'under'), () => 'b');
    store.write(KEY, '{}');
    assert.equal(store.read(KEY), undefined);
    // Nor does it try again for every file of the run: once the file is gone, a write would succeed.
    rmSync(file);
    store.write(OTHER, '{}');
    assert.equal(existsSync(join(file, 'under')), false);
  });

  test('a new build removes the directories of builds not written for a week, and leaves recent ones', () => {
    const dir = join(root, 'stale');
    for (const name of ['old', 'recent']) {
      mkdirSync(join(dir, name, 'x'), { recursive: true });
      writeFileSync(join(dir, name, OTHER), '{}');
    }
    const eightDaysAgo = new Date(Date.now() - 8 * 24 * 60 * 60 * 1000);
    utimesSync(join(dir, 'old'), eightDaysAgo, eightDaysAgo);
    new FileAnalysisStore(dir, () => 'new').write(KEY, '{}');
    assert.deepEqual(readdirSync(dir).sort(), ['new', 'recent']);
  });

  test('is off from source, where there is no build to key by', () => {
    assert.equal(installedAnalysisStore({}), undefined);
    assert.equal(lockstepCacheDirectory({ XDG_CACHE_HOME: '/c' }, 'linux'), join('/c', 'lockstep'));
    assert.equal(
      lockstepCacheDirectory({ XDG_CACHE_HOME: 'relative' }, 'linux')?.endsWith(join('.cache', 'lockstep')),
      true,
    );
  });
});

describe('the installed command’s analysis cache', () => {
  const FILES = {
    '1_a.sql': 'CREATE TABLE a (x int);\n\n-- between\nCREATE TABLE b (y int);\n',
    '2_b.sql': "INSERT INTO a VALUES (1);\nCOMMENT ON TABLE a IS 'a; b';\n",
  };
  let root: string;
  let migrations: Awaited<ReturnType<typeof migrationsDir>>;
  const databases: TestDatabase[] = [];
  const database = async () => {
    const db = await freshDatabase();
    databases.push(db);
    return db;
  };
  const build = () =>
    createHash('sha1')
      .update(readFileSync(join(repoRoot, 'dist', 'cli.cjs')))
      .digest('hex');

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'lockstep-analysis-cli-'));
    migrations = await migrationsDir(FILES);
  });
  after(async () => {
    await Promise.all(databases.map((db) => db.drop()));
    await migrations.cleanup();
    rmSync(root, { recursive: true, force: true });
  });

  const migrate = (url: string, cache: string, env: Record<string, string> = {}, dir = migrations.dir) =>
    runCli(['migrate', '--dir', dir, '--release', 'analysis-cache'], {
      installed: true,
      databaseUrl: url,
      env: { XDG_CACHE_HOME: cache, ...env },
      timeoutMs: 60_000,
    });

  test('keeps each checked file’s split, and a second database gets the same migrations from it', async () => {
    const cache = join(root, 'used');
    const first = await migrate((await database()).url, cache);
    assert.equal(first.code, 0, first.stderr);
    const dir = join(cache, 'lockstep', 'analysis', build());
    assert.equal(readdirSync(dir).length, 2);

    const db = await database();
    const second = await migrate(db.url, cache);
    assert.equal(second.code, 0, second.stderr);
    const client = await db.connect();
    const { rows } = await client.query(
      "SELECT (SELECT x FROM a) AS x, obj_description('a'::regclass) AS comment, to_regclass('b') IS NOT NULL AS b",
    );
    assert.deepEqual(rows, [{ x: 1, comment: 'a; b', b: true }]);
  });

  test('a kept split is what runs: the parser is not asked again (a planted one proves it)', async () => {
    const cache = join(root, 'planted');
    // Run statement by statement: the split is what reaches the server.
    const sql = '-- lockstep:no-transaction\nCREATE TABLE c (x int);\n';
    const planted = await migrationsDir({ '1_c.sql': sql });
    try {
      const [file] = readMigrationFiles([['1_c.sql', sql]], () => {
        throw new Error('not analyzed here');
      });
      assert.ok(file);
      const dir = join(cache, 'lockstep', 'analysis', build());
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // "CREATE TAB" and "LE c (x int)": it covers the text, as a damaged entry could not, so only the server refuses it.
      const at = sql.indexOf('CREATE');
      const spans = [
        [at, at + 10],
        [at + 10, at + 22],
      ];
      writeFileSync(join(dir, analysisKey(file)), JSON.stringify({ statements: spans }), { mode: 0o600 });
      const used = await migrate((await database()).url, cache, {}, planted.dir);
      assert.equal(used.code, 3, used.stderr);
      assert.match(used.stderr, /syntax error at or near "TAB"\n {2}statement: CREATE TAB\n/);

      const off = await migrate((await database()).url, cache, { LOCKSTEP_NO_CACHE: '1' }, planted.dir);
      assert.equal(off.code, 0, off.stderr);
    } finally {
      await planted.cleanup();
    }
  });

  test('a user with no home directory (no HOME, a user id with no passwd entry) runs it, without either cache', async (t) => {
    // As a container run as an arbitrary user id: os.homedir() throws there, and a cache must not stop the command.
    if (process.getuid?.() !== 0) {
      t.skip('needs root, to run the command as a user id the system does not know');
      return;
    }
    const nobody = 54_321;
    chmodSync(migrations.dir, 0o755);
    for (const name of readdirSync(migrations.dir)) chmodSync(join(migrations.dir, name), 0o644);
    const run = (args: readonly string[], url?: string) =>
      spawnSync(process.execPath, [join(repoRoot, 'bin', 'lockstep.cjs'), ...args], {
        cwd: '/',
        uid: nobody,
        gid: nobody,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...(url ? { DATABASE_URL: url } : {}) },
        encoding: 'utf8',
        timeout: 60_000,
      });
    const version = run(['--version']);
    assert.equal(version.status, 0, version.stderr);
    const migrated = run(['migrate', '--dir', migrations.dir], (await database()).url);
    assert.equal(migrated.status, 0, migrated.stderr);
    assert.match(migrated.stdout, /applied 2 migrations/);
  });

  test('LOCKSTEP_NO_CACHE keeps nothing', async () => {
    const cache = join(root, 'off');
    const run = await migrate((await database()).url, cache, { LOCKSTEP_NO_CACHE: '1' });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(existsSync(join(cache, 'lockstep')), false);
  });
});
