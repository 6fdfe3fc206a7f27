/**
 * The release state machine against Step Functions' 256 KiB payload quota, which the local runner enforces on
 * every state's input and output and every task's result, as AWS does (States.DataLimitExceeded, which no Catch
 * sees). A release of thousands of migrations must stay far under it, and so must a failure after them.
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import type pg from 'pg';
import { RECORD_BUDGET_BYTES } from '../../functions/migrate/record-migrations.ts';
import { STATE } from '../../infra/constructs/release-definition.ts';
import { PAYLOAD_LIMIT_BYTES, payloadBytes } from '../../rehearsal/interpreter.ts';
import { freshDatabase, migrationsDir, type TestDatabase } from '../support/database.ts';
import {
  createLocalRelease,
  type LocalRelease,
  type ReleaseRun,
  releaseInput,
  resetDatabase,
} from '../support/local-release.ts';

const COUNT = 5000;
/** 120-character file names: 5,000 of them are ~600 KB of names alone. */
const fileName = (i: number) =>
  `${String(i).padStart(6, '0')}_add_a_column_with_a_rather_long_descriptive_name_so_that_the_file_names_are_long_${'x'.repeat(24)}.sql`;

let db: TestDatabase;
let admin: pg.Client;
let dir: { dir: string; cleanup(): Promise<void> };
let release: LocalRelease;

/** The largest input or output any state had in the run, in bytes. */
function largestPayload(run: ReleaseRun): number {
  const sizes = run.events.flatMap((e) =>
    e.state ? [payloadBytes(e.state.input), payloadBytes(e.state.output)] : [],
  );
  return Math.max(...sizes);
}

describe('release state machine, payload quota', () => {
  before(async () => {
    db = await freshDatabase();
    admin = await db.connect();
    const files: Record<string, string> = {};
    for (let i = 1; i <= COUNT; i++) files[fileName(i)] = `SELECT ${i};`;
    dir = await migrationsDir(files);
    release = await createLocalRelease({ databaseUrl: db.url, migrationsDir: dir.dir });
  });

  after(async () => {
    await dir.cleanup();
    await db.drop();
  });

  beforeEach(async () => {
    release.reset();
    await release.clearLock();
    await resetDatabase(admin);
  });

  test(`a release of ${COUNT} migrations with long names succeeds, every state far under 256 KiB`, async () => {
    const run = await release.runRelease(releaseInput());

    assert.equal(run.status, 'SUCCEEDED', `${run.error}: ${run.cause}`);
    const { rows } = await admin.query('SELECT count(*)::int AS n FROM lockstep.schema_history');
    assert.equal(rows[0].n, COUNT);
    const applied = run.calls
      .filter((c) => c.state === STATE.migrate)
      .map((c) => c.output as { appliedCount: number; applied: { count: number; last: string[] } });
    assert.equal(
      applied.reduce((n, o) => n + o.appliedCount, 0),
      COUNT,
    );
    assert.equal(applied.at(-1)?.applied.last.at(-1), fileName(COUNT), 'the output names the last one');
    const largest = largestPayload(run);
    // The plan carries the release record's migration list, cut at 32 KiB (functions/migrate/record-migrations.ts).
    assert.ok(largest < 16_384 + RECORD_BUDGET_BYTES, `largest state payload ${largest} bytes`);
    // And the record was written (dynalite enforces DynamoDB's 400 KB item limit): no "record not written" alert.
    assert.deepEqual(run.alerts, []);
    const written = run.calls.filter((c) => c.state === 'Record release (released)' && c.error === undefined);
    assert.equal(written.length, 1);
  });

  test(`a migration failing after ${COUNT} applied with a huge error still alerts: its Cause is cut, not the execution`, async () => {
    const broken = join(dir.dir, `${String(COUNT + 1).padStart(6, '0')}_broken.sql`);
    // The engine bounds what it writes itself; PostgreSQL's own message can be anything, here 20,000 characters.
    await writeFile(broken, "DO $$BEGIN RAISE EXCEPTION '%', repeat('x', 20000); END$$;");
    try {
      const run = await release.runRelease(releaseInput());

      assert.equal(run.status, 'FAILED');
      assert.equal(run.error, 'MigrationFailedError', run.cause);
      assert.equal(run.alerts.length, 1, 'the alert went out');
      assert.match(run.alerts[0]?.message ?? '', /characters cut: the full error is in the function's log/);
      // The record's list (32 KiB), the cut Cause in the failure, the alert and the record view; the alert's
      // consequence names lockstep rollback (about 64.2 KB measured): far under Step Functions' 256 KiB.
      assert.ok(largestPayload(run) < 66_000, `largest state payload ${largestPayload(run)} bytes`);
    } finally {
      await rm(broken);
    }
  });

  test('a task result over 256 KiB ends the execution with States.DataLimitExceeded: no Catch, nothing after it', async () => {
    const run = await release.runRelease(releaseInput(), {
      tasks: {
        [STATE.plan]: async (input, invoke) => ({
          ...((await invoke(input)) as object),
          padding: 'x'.repeat(PAYLOAD_LIMIT_BYTES),
        }),
      },
    });

    assert.equal(run.status, 'FAILED');
    assert.equal(run.error, 'States.DataLimitExceeded');
    assert.match(run.cause ?? '', /state 'Plan'/);
    assert.deepEqual(run.alerts, [], 'no Catch sees it: only the CloudWatch alarm would');
    assert.ok(!run.states.includes(STATE.createSnapshot));
    assert.ok(!run.states.includes(STATE.migrate));
  });
});
