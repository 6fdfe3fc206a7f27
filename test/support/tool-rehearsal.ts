/**
 * Real migration tools as command mode's migration command, through the synthesized state machine run locally
 * (./local-release.ts in command mode): the `ecs:runTask.sync` task is the rehearsal's child process
 * (rehearsal/migration-command.ts) running the tool in a tiny app directory, against a database of its own on the
 * test server. One definition per tool, shared by its cases; each case has its own app directory and database.
 * Call it for each tool in one test file: the tools run one after another, each with its own harness (a new
 * harness takes the AWS mocks over from the last one).
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { stripVTControlCharacters } from 'node:util';
import { UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { STATE } from '../../infra/constructs/release-definition.ts';
import { localMigrationTasks } from '../../rehearsal/migration-command.ts';
import { repoRoot } from './cli-process.ts';
import { freshDatabase, migrationsDir, type TestDatabase } from './database.ts';
import {
  createLocalRelease,
  type LocalRelease,
  type ReleaseRun,
  releaseInput,
  TARGET,
} from './local-release.ts';
import { processesIn } from './processes.ts';

/** A tool's app: its files (configuration and migrations) and its migration command. */
export interface ToolApp {
  readonly tool: string;
  /** The command, run in the app directory: the tool's own bin, as `npx <tool> …` would find it there. */
  readonly command: readonly string[];
  /** Configuration and two migrations: `accounts (id, email)`, then its column `name`. */
  readonly files: Readonly<Record<string, string>>;
  /** A third migration that fails on `ALTER TABLE no_such_table …`, and the tool's own words for it. */
  readonly failing: { readonly file: string; readonly content: string; readonly output: RegExp };
  /** A third migration that never ends (`SELECT pg_sleep(600)`). */
  readonly hanging: { readonly file: string; readonly content: string };
}

/** The repository's installed bin of a tool: what the app's own node_modules/.bin holds. */
export const bin = (name: string) => join(repoRoot, 'node_modules', '.bin', name);

/** The migration task's timeout here: past the slowest tool's success on a busy machine, short for the hanging case. */
const TIMEOUT_SECONDS = 8;
/** StopTask's grace period here (ECS: 30 s). */
const GRACE_MS = 2000;

/** The app in a new directory, its node_modules the repository's (as `npm ci` would have installed them). */
function writeApp(files: Readonly<Record<string, string>>): string {
  // World-traversable, under the temp dir: as root, PostgreSQL and the tools must reach it.
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-tool-app-'));
  chmodSync(dir, 0o755);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

async function columnsOf(db: TestDatabase, table: string): Promise<string[]> {
  const client = await db.connect();
  try {
    const { rows } = await client.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
      [table],
    );
    return rows.map((r) => r.column_name);
  } finally {
    await client.end();
  }
}

/** The test cases of one tool. */
export function describeToolRelease(app: ToolApp): void {
  describe(`${app.tool} as the release command, through the local state machine`, () => {
    let release: LocalRelease;
    let noMigrations: { dir: string; cleanup(): Promise<void> };
    let setupDb: TestDatabase;

    before(async () => {
      // The functions' database: command mode's functions do not migrate it; each case migrates its own.
      setupDb = await freshDatabase();
      noMigrations = await migrationsDir({});
      release = await createLocalRelease({
        databaseUrl: setupDb.url,
        migrationsDir: noMigrations.dir,
        migrationCommand: app.command,
        migrationTimeoutSeconds: TIMEOUT_SECONDS,
      });
    });

    after(async () => {
      await release?.dynamo.close();
      await noMigrations.cleanup();
      await setupDb.drop();
    });

    beforeEach(async () => {
      release.reset();
      await release.clearLock();
    });

    /** Runs one release with the app's files plus `extra`, on a fresh database; cleans up after `assess`. */
    async function releaseApp(
      extra: Readonly<Record<string, string>>,
      assess: (run: ReleaseRun, logs: string[], context: { db: TestDatabase; dir: string }) => Promise<void>,
    ): Promise<void> {
      const db = await freshDatabase();
      const dir = writeApp({ ...app.files, ...extra });
      const logs: string[] = [];
      release.ecs.launcher = localMigrationTasks({
        cwd: dir,
        container: TARGET.container,
        databaseUrl: db.url,
        release: 'v1.4.0',
        graceMs: GRACE_MS,
        // Uncoloured: a tool colours its output when `CI` is set (picocolors does), as it is on a CI runner.
        print: (line) => logs.push(stripVTControlCharacters(line)),
      });
      try {
        await assess(await release.runRelease(releaseInput()), logs, { db, dir });
      } finally {
        await release.ecs.stopAll();
        release.ecs.launcher = undefined;
        rmSync(dir, { recursive: true, force: true });
        await db.drop();
      }
    }

    test('success: the tool changes the schema, then the service gets the new revision', async () => {
      await releaseApp({}, async (run, logs, { db }) => {
        assert.equal(run.status, 'SUCCEEDED', `${run.error}: ${run.cause}\n${logs.join('\n')}`);
        assert.ok(run.states.includes(STATE.createSnapshot), 'a snapshot first');
        assert.deepEqual(await columnsOf(db, 'accounts'), ['id', 'email', 'name']);
        const updates = release.aws.ecs.commandCalls(UpdateServiceCommand);
        assert.equal(updates.length, 1);
        assert.equal(release.ecs.image, releaseInput().image);
        assert.deepEqual(run.alerts, []);
      });
    });

    test('a failing migration: the tool’s own error in the task’s logs, an alert naming the snapshot, nothing deployed', async () => {
      const before = release.ecs.taskDefinitionArn;
      await releaseApp({ [app.failing.file]: app.failing.content }, async (run, logs, { db }) => {
        assert.equal(run.status, 'FAILED');
        assert.equal(run.error, 'MigrationCommandFailedError', logs.join('\n'));
        assert.match(logs.join('\n'), app.failing.output);
        assert.match(logs.join('\n'), /relation "no_such_table" does not exist/);
        assert.equal(release.aws.ecs.commandCalls(UpdateServiceCommand).length, 0);
        assert.equal(release.ecs.taskDefinitionArn, before);
        const [snapshot] = await release.snapshots.list();
        assert.ok(snapshot, 'a snapshot was taken before the command ran');
        assert.equal(run.alerts.length, 1);
        const message = run.alerts[0]?.message ?? '';
        assert.match(message, /MigrationCommandFailedError/);
        assert.match(message, /exited with code [1-9]/);
        assert.ok(message.includes(`Snapshot to restore from: ${snapshot.id}`), message);
        // The two migrations before it: applied, or rolled back with it, as the tool does it; never half of one.
        assert.ok((await columnsOf(db, 'accounts')).every((c) => ['id', 'email', 'name'].includes(c)));
      });
    });

    test('a migration that hangs: the state times out, StopTask kills the command (nothing left running), an alert', async () => {
      await releaseApp({ [app.hanging.file]: app.hanging.content }, async (run, logs, { dir }) => {
        assert.equal(run.status, 'FAILED');
        assert.equal(run.error, 'MigrationTaskTimeoutError', logs.join('\n'));
        assert.equal(release.ecs.stoppedTasks.length, 1);
        assert.equal(release.aws.ecs.commandCalls(UpdateServiceCommand).length, 0);
        assert.equal(run.alerts.length, 1);
        assert.match(run.alerts[0]?.message ?? '', new RegExp(`within ${TIMEOUT_SECONDS} s`));
        assert.match(run.alerts[0]?.message ?? '', /was stopped \(StopTask\)/);
        // Stopped by StopTask alone (SIGTERM, SIGKILL after the grace period), before the harness kills anything.
        const deadline = Date.now() + GRACE_MS + 3000;
        while (processesIn(dir).length > 0 && Date.now() < deadline)
          await new Promise((resolve) => setTimeout(resolve, 100));
        assert.deepEqual(processesIn(dir), [], 'no process of the command is left');
      });
    });
  });
}
