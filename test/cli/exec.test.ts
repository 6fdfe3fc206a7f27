/**
 * `lockstep exec -- <command>` end to end: the installed CLI (bin/lockstep.cjs) runs real commands (node scripts
 * that connect with pg) against a real PostgreSQL, under the same advisory lock `migrate` takes.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import type { ExecRun } from '../../cli/exec/runs-table.ts';
import { HistoryTable } from '../../engine/history.ts';
import { type CliOptions, type CliRun, repoRoot, runCli, spawnCli, waitFor } from '../support/cli-process.ts';
import { freshDatabase, migrationsDir, type TestDatabase } from '../support/database.ts';

const databases: TestDatabase[] = [];
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  await Promise.all([...databases.map((d) => d.drop()), ...cleanups.map((c) => c())]);
});

async function database(): Promise<TestDatabase> {
  const db = await freshDatabase();
  databases.push(db);
  return db;
}

const PG_MODULE = JSON.stringify(join(repoRoot, 'node_modules', 'pg'));
const [LOCK_CLASSID, LOCK_OBJID] = new HistoryTable().lockKey;

/** `node -e <script>`: the command, with no shell in between. */
const node = (script: string): string[] => [process.execPath, '-e', script];

/** A node script that connects as libpq tools do (PG* only) and by DATABASE_URL, and prints what it sees. */
const REPORT_CONNECTION = `
const pg = require(${PG_MODULE});
(async () => {
  const byEnv = new pg.Client();
  const byUrl = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await byEnv.connect();
  await byUrl.connect();
  const env = await byEnv.query(\`SELECT current_database() AS database, current_user AS "user",
    current_setting('lock_timeout') AS "lockTimeout", current_setting('statement_timeout') AS "statementTimeout",
    (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = ${LOCK_CLASSID}
       AND objid = ${LOCK_OBJID} AND objsubid = 2
       AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) AS "lockHolder"\`);
  const url = await byUrl.query('SELECT current_database() AS database');
  const holder = await byEnv.query('SELECT application_name FROM pg_stat_activity WHERE pid = $1', [env.rows[0].lockHolder]);
  console.log(JSON.stringify({
    ...env.rows[0],
    holderApplication: holder.rows[0] && holder.rows[0].application_name,
    urlDatabase: url.rows[0].database,
    vars: Object.fromEntries(['PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER', 'PGOPTIONS', 'LOCKSTEP_RELEASE'].map((k) => [k, process.env[k]])),
    hasPassword: typeof process.env.PGPASSWORD === 'string' && process.env.PGPASSWORD.length > 0,
  }));
  await byEnv.end();
  await byUrl.end();
})().catch((err) => { console.error(err.message); process.exit(99); });
`;

/** Prints "ready", then runs until a signal ends it; with `onTerm`, handles SIGTERM that way. */
const waitForever = (onTerm = '') =>
  `${onTerm ? `process.on('SIGTERM', () => { ${onTerm} });` : ''} console.log('ready'); setInterval(() => {}, 1000);`;

const exec = (args: readonly string[], options: CliOptions) =>
  runCli(['exec', ...args], { installed: true, timeoutMs: 60_000, ...options });

/** Resolves once `stream` of `child` has printed `text`; rejects if the CLI ends first. */
function printed(
  child: ChildProcess,
  done: Promise<CliRun>,
  stream: 'stdout' | 'stderr',
  text: string,
): Promise<void> {
  let seen = '';
  const promise = new Promise<void>((resolve, reject) => {
    child[stream]?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(text)) resolve();
    });
    done.then(
      (run) => reject(new Error(`lockstep ended (${run.code}) before printing "${text}":\n${run.stderr}`)),
      reject,
    );
  });
  promise.catch(() => {}); // a test that never awaits it must not see an unhandled rejection
  return promise;
}

/** Starts `lockstep exec`; `ready` resolves once the command printed "ready" (it holds the lock by then). */
function startExec(args: readonly string[], options: CliOptions) {
  const { child, done } = spawnCli(['exec', ...args], { installed: true, timeoutMs: 60_000, ...options });
  return { child, done, ready: printed(child, done, 'stdout', 'ready') };
}

interface RunRow {
  command: string;
  release: string;
  started_at: Date;
  duration_ms: string;
  exit_code: number | null;
  signal: string | null;
  outcome: string;
  error: string | null;
}

async function runRows(db: TestDatabase): Promise<RunRow[]> {
  const client = await db.connect();
  try {
    const exists = await client.query(`SELECT to_regclass('lockstep.exec_runs') IS NOT NULL AS e`);
    if (!exists.rows[0].e) return [];
    const { rows } = await client.query<RunRow>('SELECT * FROM lockstep.exec_runs ORDER BY id');
    return rows;
  } finally {
    await client.end();
  }
}

const jsonOf = (run: CliRun) =>
  JSON.parse(run.stdout) as Record<string, unknown> & { run: ExecRun & { recorded: boolean } };

describe('lockstep exec', () => {
  it('gives the command DATABASE_URL, the PG* variables and PGOPTIONS, and holds the lock while it runs', async () => {
    const db = await database();
    const url = new URL(db.url);

    const run = await exec(['--release', 'v1.4.2', '--', ...node(REPORT_CONNECTION)], {
      databaseUrl: db.url,
      env: { PGOPTIONS: '-c statement_timeout=12345', PGHOST: 'elsewhere.invalid', PGPASSWORD: 'stale' },
    });
    const off = await exec(['--pgoptions', '', '--', ...node(REPORT_CONNECTION)], { databaseUrl: db.url });
    const custom = await exec(['--lock-timeout', '750', '--', ...node(REPORT_CONNECTION)], {
      databaseUrl: db.url,
    });

    assert.equal(run.code, 0, run.stderr);
    const seen = JSON.parse(run.stdout);
    assert.equal(seen.database, db.name);
    assert.equal(seen.urlDatabase, db.name);
    assert.equal(seen.user, url.username);
    assert.deepEqual(seen.vars, {
      PGHOST: url.hostname,
      PGPORT: url.port,
      PGDATABASE: db.name,
      PGUSER: url.username,
      PGOPTIONS: '-c lock_timeout=5000 -c statement_timeout=12345',
      LOCKSTEP_RELEASE: 'v1.4.2',
    });
    assert.equal(seen.hasPassword, true);
    assert.equal(seen.lockTimeout, '5s');
    assert.equal(seen.statementTimeout, '12345ms', 'the PGOPTIONS already set are kept');
    assert.equal(
      seen.holderApplication,
      'lockstep exec v1.4.2',
      'lockstep holds the lock while the command runs',
    );
    assert.equal(off.code, 0, off.stderr);
    assert.equal(JSON.parse(off.stdout).lockTimeout, '0', '--pgoptions "" sets none');
    assert.equal(JSON.parse(off.stdout).vars.PGOPTIONS, undefined);
    assert.equal(custom.code, 0, custom.stderr);
    assert.equal(JSON.parse(custom.stdout).lockTimeout, '750ms');
  });

  it("exits with the command's own exit code, and 128+N when signal N ended it", async () => {
    const db = await database();

    const codes: Array<number | null> = [];
    for (const script of ['process.exit(0)', 'process.exit(3)', 'process.exit(42)']) {
      codes.push((await exec(['--', ...node(script)], { databaseUrl: db.url })).code);
    }
    const killed = await exec(['--', ...node("process.kill(process.pid, 'SIGKILL')")], {
      databaseUrl: db.url,
    });
    const terminated = await exec(['--', 'sh', '-c', 'kill -TERM $$'], { databaseUrl: db.url });

    assert.deepEqual(codes, [0, 3, 42]);
    assert.equal(killed.code, 137, killed.stderr);
    assert.match(killed.stderr, /killed by SIGKILL/);
    assert.equal(terminated.code, 143, terminated.stderr);
    const rows = await runRows(db);
    assert.deepEqual(
      rows.map((r) => [r.exit_code, r.signal, r.outcome]),
      [
        [0, null, 'exited'],
        [3, null, 'exited'],
        [42, null, 'exited'],
        [null, 'SIGKILL', 'exited'],
        [null, 'SIGTERM', 'exited'],
      ],
    );
    assert.equal(rows[4]?.command, "sh -c 'kill -TERM $$'");
  });

  it('stops a command that runs past --timeout: SIGTERM, SIGKILL after the grace period, exit 124', async () => {
    const db = await database();
    const started = Date.now();

    const run = await exec(
      [
        '--timeout',
        '1s',
        '--grace-period',
        '500ms',
        '--json',
        '--',
        ...node(waitForever("console.log('ignoring SIGTERM')")),
      ],
      { databaseUrl: db.url },
    );

    assert.equal(run.code, 124, run.stderr);
    assert.ok(Date.now() - started < 30_000);
    assert.match(run.stderr, /ignoring SIGTERM/, "with --json the command's stdout goes to stderr");
    const doc = jsonOf(run);
    assert.equal(doc.exitCode, 124);
    assert.equal((doc.error as { name: string }).name, 'CommandTimeoutError');
    assert.deepEqual([doc.run.signal, doc.run.outcome, doc.run.recorded], ['SIGKILL', 'timeout', true]);
    const [row] = await runRows(db);
    assert.deepEqual([row?.signal, row?.outcome], ['SIGKILL', 'timeout']);
    assert.ok(
      Number(row?.duration_ms) >= 1500,
      `killed after the grace period, not before: ${row?.duration_ms}`,
    );
  });

  it('runs two execs on one database one after the other; with --lock-wait 0 the second exits 4 naming the holder', async () => {
    const db = await database();
    const gate = join(await scratchDir(), 'gate');
    const first = startExec(
      [
        '--release',
        'first',
        '--',
        ...node(
          `${waitForever()} setInterval(() => require('node:fs').existsSync(${JSON.stringify(gate)}) && process.exit(0), 50);`,
        ),
      ],
      { databaseUrl: db.url },
    );
    await first.ready;

    const refused = await exec(['--lock-wait', '0', '--', ...node('process.exit(0)')], {
      databaseUrl: db.url,
    });
    const second = spawnCli(['exec', '--release', 'second', '--', ...node('process.exit(0)')], {
      installed: true,
      databaseUrl: db.url,
      timeoutMs: 60_000,
    });
    await printed(second.child, second.done, 'stderr', 'waiting for the lock');
    await writeFile(gate, '');
    const [firstRun, secondRun] = await Promise.all([first.done, second.done]);

    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, /LockTimeoutError: .*holds the lock .*application "lockstep exec first"/);
    assert.equal(firstRun.code, 0, firstRun.stderr);
    assert.equal(secondRun.code, 0, secondRun.stderr);
    assert.match(
      secondRun.stderr,
      /waiting for the lock on lockstep\.schema_history, held by pid \d+ \(lockstep exec first\)/,
    );
    const rows = await runRows(db);
    assert.deepEqual(
      rows.map((r) => r.release),
      ['first', 'second'],
      'the refused exec ran nothing and recorded nothing',
    );
    const [a, b] = rows as [RunRow, RunRow];
    assert.ok(
      b.started_at.getTime() >= a.started_at.getTime() + Number(a.duration_ms),
      'the second command started after the first ended',
    );
  });

  it('waits while migrate holds the lock, then runs', async () => {
    const db = await database();
    const blocker = await db.connect({ applicationName: 'test-blocker' });
    await blocker.query('CREATE TABLE gate (id int)');
    const { dir, cleanup } = await migrationsDir({
      '0001_behind_the_gate.sql': 'CREATE TABLE t AS SELECT * FROM gate;\n',
    });
    cleanups.push(cleanup);
    await blocker.query('BEGIN');
    await blocker.query('LOCK TABLE gate IN ACCESS EXCLUSIVE MODE'); // the migration waits here, holding the lock
    const migrate = spawnCli(
      ['migrate', '--dir', dir, '--release', 'gated-migration', '--lock-timeout', '60000'],
      {
        installed: true,
        databaseUrl: db.url,
        timeoutMs: 60_000,
      },
    );
    // Asked on another session: in the blocker's transaction pg_stat_activity would stay as it first read it.
    const observer = await db.connect({ applicationName: 'test-observer' });
    await waitFor('migrate to wait on the table, holding its lock', async () => {
      const r = await observer.query(
        `SELECT 1 FROM pg_stat_activity WHERE application_name = 'lockstep gated-migration' AND wait_event_type = 'Lock'`,
      );
      return r.rowCount ? true : undefined;
    });

    const run = spawnCli(['exec', '--', ...node('process.exit(0)')], {
      installed: true,
      databaseUrl: db.url,
      timeoutMs: 60_000,
    });
    await printed(run.child, run.done, 'stderr', 'waiting for the lock');
    await blocker.query('COMMIT');
    const [migrated, result] = await Promise.all([migrate.done, run.done]);

    assert.equal(migrated.code, 0, migrated.stderr);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stderr,
      /waiting for the lock on lockstep\.schema_history, held by pid \d+ \(lockstep gated-migration\)/,
    );
    const applied = await blocker.query('SELECT applied_at FROM lockstep.schema_history');
    const [row] = await runRows(db);
    assert.ok(row);
    assert.ok(
      row.started_at.getTime() >= (applied.rows[0].applied_at as Date).getTime(),
      'ran after the migration',
    );
  });

  it('passes SIGTERM to the command, records the run as interrupted and exits 143', async () => {
    const db = await database();
    const run = startExec(
      [
        '--',
        ...node(waitForever("console.log('command got SIGTERM'); setTimeout(() => process.exit(0), 200)")),
      ],
      { databaseUrl: db.url },
    );
    await run.ready;

    run.child.kill('SIGTERM');
    const result = await run.done;

    assert.equal(result.code, 143, result.stderr);
    assert.match(result.stdout, /command got SIGTERM/);
    assert.match(result.stderr, /got SIGTERM: passing it to the command/);
    const [row] = await runRows(db);
    assert.deepEqual([row?.exit_code, row?.outcome], [0, 'interrupted']);
    const observer = await db.connect();
    const lock = await observer.query('SELECT pg_try_advisory_lock($1, $2) AS free', [
      LOCK_CLASSID,
      LOCK_OBJID,
    ]);
    assert.equal(lock.rows[0].free, true, 'the lock was released');
  });

  it('stops the command and exits 4 when the connection holding the lock is lost', async () => {
    const db = await database();
    const observer = await db.connect();
    const run = startExec(['--grace-period', '1s', '--', ...node(waitForever())], { databaseUrl: db.url });
    await run.ready;

    await observer.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'lockstep exec %'`,
    );
    const result = await run.done;

    assert.equal(result.code, 4, result.stderr);
    assert.match(result.stderr, /LOCK LOST: .*Another exec or migrate may start now\. Stopping the command/);
    assert.match(result.stderr, /ExecLockLostError: .*the command was stopped: killed by SIGTERM/);
    assert.deepEqual(await runRows(db), [], 'nothing could record the run');
  });

  it('reports a command that cannot start as CommandNotFoundError, exit 127, and frees the lock', async () => {
    const db = await database();

    const missing = await exec(['--json', '--', 'lockstep-no-such-command', '--flag'], {
      databaseUrl: db.url,
    });
    const notExecutable = await exec(['--', join(repoRoot, 'README.md')], { databaseUrl: db.url });
    const after = await exec(['--lock-wait', '0', '--', ...node('process.exit(0)')], { databaseUrl: db.url });

    assert.equal(missing.code, 127, missing.stderr);
    const doc = jsonOf(missing);
    assert.equal((doc.error as { name: string }).name, 'CommandNotFoundError');
    assert.deepEqual([doc.run.outcome, doc.run.recorded], ['not-started', true]);
    assert.equal(notExecutable.code, 126, notExecutable.stderr);
    assert.match(notExecutable.stderr, /CommandNotExecutableError: .*README\.md: cannot run it \(EACCES\)/);
    assert.equal(after.code, 0, after.stderr);
  });

  it('prints one JSON document on stdout with --json, the command’s own stdout going to stderr', async () => {
    const db = await database();

    const run = await exec(
      ['--json', '--release', 'r1', '--', ...node("console.log('hello from the command'); process.exit(3)")],
      {
        databaseUrl: db.url,
      },
    );

    assert.equal(run.code, 3, run.stderr);
    const doc = jsonOf(run);
    assert.equal(doc.command, 'exec');
    assert.equal(doc.ok, false);
    assert.equal(doc.exitCode, 3);
    assert.equal(doc.lock, 'lockstep.schema_history');
    assert.equal(doc.runsTable, 'lockstep.exec_runs');
    assert.deepEqual(
      { release: doc.run.release, exitCode: doc.run.exitCode, outcome: doc.run.outcome },
      { release: 'r1', exitCode: 3, outcome: 'exited' },
    );
    assert.match(run.stderr, /hello from the command/);
  });

  it('shows the last runs in lockstep status', async () => {
    const db = await database();
    const { dir, cleanup } = await migrationsDir({});
    cleanups.push(cleanup);
    const before = await runCli(['status', '--dir', dir, '--json'], { installed: true, databaseUrl: db.url });
    for (const code of [0, 1, 2, 3, 4, 5, 6]) {
      const r = await exec(['--release', `run-${code}`, '--', ...node(`process.exit(${code})`)], {
        databaseUrl: db.url,
      });
      assert.equal(r.code, code, r.stderr);
    }

    const text = await runCli(['status', '--dir', dir], { installed: true, databaseUrl: db.url });
    const json = await runCli(['status', '--dir', dir, '--json'], { installed: true, databaseUrl: db.url });

    assert.equal(before.code, 0, before.stderr);
    assert.equal(JSON.parse(before.stdout).execRuns, undefined, 'no exec ever ran: nothing to show');
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /last exec runs \(lockstep\.exec_runs\), newest first:/);
    const lines = text.stdout.split('\n').filter((l) => /^ {2}\S+ {2}run-\d/.test(l));
    assert.deepEqual(
      lines.map((l) => /run-\d/.exec(l)?.[0]),
      ['run-6', 'run-5', 'run-4', 'run-3', 'run-2'],
    );
    assert.match(
      lines[0] ?? '',
      /run-6 {2}exit 6 in \d+ ms: \S+ -e 'process\.exit\(6\)' \(by .*role postgres\)/,
    );
    assert.equal(JSON.parse(json.stdout).execRuns.length, 5);
  });

  it('never prints the password of the URL, on any path', async () => {
    const db = await database();
    const admin = await db.connect();
    const role = `exec_canary_${db.name}`;
    const canary = 'ExecCanary7Qw2#p/w@x';
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD ${pg.escapeLiteral(canary)}`);
    try {
      await canaryRuns(db, role, canary);
    } finally {
      await admin.query(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });
});

async function canaryRuns(db: TestDatabase, role: string, canary: string): Promise<void> {
  const admin = await db.connect();
  await admin.query(`GRANT CREATE ON DATABASE ${db.name} TO ${role}`);
  const url = new URL(db.url);
  const canaryUrl = `postgres://${role}:${encodeURIComponent(canary)}@${url.host}${url.pathname}`;
  const holder = startExec(['--release', 'holder', '--', ...node(waitForever())], { databaseUrl: canaryUrl });
  await holder.ready;

  const runs = [
    await exec(['--lock-wait', '0', '--json', '--', ...node('process.exit(0)')], { databaseUrl: canaryUrl }),
    await exec(['--lock-wait', '0', '--', ...node('process.exit(0)')], { databaseUrl: canaryUrl }),
  ];
  holder.child.kill('SIGTERM');
  runs.push(await holder.done);
  runs.push(await exec(['--json', '--', ...node(REPORT_CONNECTION)], { databaseUrl: canaryUrl }));
  runs.push(await exec(['--', 'no-such-command', canaryUrl], { databaseUrl: canaryUrl }));
  runs.push(await exec(['--timeout', '0.5', '--', ...node(waitForever())], { databaseUrl: canaryUrl }));
  runs.push(
    await exec(['--', ...node('process.exit(0)')], { databaseUrl: canaryUrl.replace('ExecCanary', 'Wrong') }),
  );

  assert.deepEqual(
    runs.map((r) => r.code),
    [4, 4, 143, 0, 127, 124, 7],
    runs.map((r) => r.stderr).join('\n---\n'),
  );
  assert.equal(JSON.parse(runs[3]?.stdout ?? '{}').user, undefined, '--json: the command printed to stderr');
  for (const r of runs) {
    for (const form of [canary, encodeURIComponent(canary), 'ExecCanary7Qw2']) {
      assert.ok(!r.stdout.includes(form) && !r.stderr.includes(form), `leaked:\n${r.stdout}\n${r.stderr}`);
    }
  }
  const rows = await runRows(db);
  assert.ok(
    rows.every((r) => !r.command.includes('ExecCanary7Qw2')),
    'the recorded command is redacted too',
  );
  assert.ok(rows.some((r) => r.command === 'no-such-command ***'));
}

async function scratchDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lockstep-exec-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('lockstep exec on the embedded PostgreSQL', () => {
  let cwd: string | undefined;
  after(async () => {
    if (!cwd) return;
    const pidFile = join(cwd, '.lockstep', 'pg', 'postmaster.pid');
    if (existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8').split('\n')[0]), 'SIGINT');
        await new Promise((resolve) => setTimeout(resolve, 1000));
      } catch {
        // already gone
      }
    }
    await rm(cwd, { recursive: true, force: true });
  });

  it('runs the command against it without a URL, and passes SIGTERM on past its exit hooks', async () => {
    cwd = await mkdtemp(join(tmpdir(), 'lockstep-exec-embedded-'));
    await chmod(cwd, 0o755); // as root, PostgreSQL runs as another user that must reach the data directory

    const run = await exec(['--', ...node(REPORT_CONNECTION)], { cwd });
    const interrupted = startExec(
      [
        '--',
        ...node(waitForever("console.log('command got SIGTERM'); setTimeout(() => process.exit(0), 200)")),
      ],
      { cwd },
    );
    await interrupted.ready;
    interrupted.child.kill('SIGTERM');
    const result = await interrupted.done;

    assert.equal(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).database, 'app');
    assert.doesNotMatch(`${run.stdout}${run.stderr}`, /postgres:\/\/|lockstep-local/);
    assert.equal(result.code, 143, result.stderr);
    assert.match(result.stdout, /command got SIGTERM/);
    assert.match(result.stderr, /interrupted \(exit 0\) in .*; recorded in lockstep\.exec_runs/);
    assert.ok(!existsSync(join(cwd, '.lockstep', 'pg', 'postmaster.pid')), 'the server was stopped at exit');
  });
});
