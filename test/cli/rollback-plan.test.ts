/**
 * The rollback's decision (cli/rollback-plan.ts) on a table of cases: records as the state machine writes them (read
 * by parseRecord), files classified by the real classification (engine/lint/compatibility.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ExitCode, exitCodeFor } from '../../cli/exit-codes.ts';
import { parseRecord, type ReleaseRecord } from '../../cli/release-records.ts';
import { refusal } from '../../cli/rollback.ts';
import { formatPlan, type KnownFile, planRollback, RestoreRequiredError } from '../../cli/rollback-plan.ts';
import { InvalidInputError } from '../../engine/errors.ts';
import { classifyMigration } from '../../engine/lint/compatibility.ts';

const TD = (n: number) => `arn:aws:ecs:eu-west-1:123456789012:task-definition/app:${n}`;

interface RecordSpec {
  readonly outcome?: string;
  /** Files it applied (checksum `sum-<file>`). */
  readonly files?: readonly string[];
  readonly truncated?: number;
  readonly snapshot?: boolean;
  readonly failedStep?: string;
  readonly commandMode?: boolean;
  readonly rollback?: { readonly to: string; readonly restored: boolean };
}

/** Release number `n` (started at minute `n`), as its record item reads. */
function rec(n: number, release: string, spec: RecordSpec = {}): ReleaseRecord {
  const startedAt = `2026-03-01T10:${String(n).padStart(2, '0')}:00.000Z`;
  const files = spec.files ?? [];
  const S = (s: string) => ({ S: s });
  return parseRecord({
    database: S('shop'),
    recordKey: S(`${startedAt}#${release}`),
    release: S(release),
    image: S(`app:${release}`),
    outcome: S(spec.outcome ?? 'SUCCEEDED'),
    startedAt: S(startedAt),
    snapshotId: S(spec.snapshot ? `lockstep-shop-2026030110${String(n).padStart(2, '0')}05-abc${n}` : 'none'),
    plan: S(
      spec.commandMode
        ? '{}'
        : JSON.stringify({
            record: {
              phase: 'pre-deploy',
              count: files.length + (spec.truncated ?? 0),
              truncated: (spec.truncated ?? 0) > 0,
              migrations: files.map((f) => ({ version: f.slice(0, 4), file: f, checksum: `sum-${f}` })),
            },
          }),
    ),
    deployment: S(JSON.stringify({ taskDefinitionArn: TD(n), previousTaskDefinitionArn: TD(n - 1) })),
    revision: S('null'),
    input: S(
      JSON.stringify(
        spec.rollback
          ? {
              rollback: release,
              to: { recordKey: spec.rollback.to },
              restore: spec.rollback.restored ? {} : null,
            }
          : { image: `app:${release}` },
      ),
    ),
    ...(spec.failedStep ? { failedStep: S(spec.failedStep), error: S('E'), cause: S('C') } : {}),
  });
}

const SQL: Record<string, string> = {
  '0002_add_nickname.sql': 'ALTER TABLE users ADD COLUMN nickname text;',
  '0003_drop_legacy.sql': 'ALTER TABLE users DROP COLUMN legacy;',
  '0004_declared.sql':
    '-- lockstep:backward-compatible no version since v1 reads legacy2\nALTER TABLE users DROP COLUMN legacy2;',
  '0005_index.sql': 'CREATE INDEX CONCURRENTLY users_nick ON users (nickname);',
};

async function files(edited: readonly string[] = []): Promise<Map<string, KnownFile>> {
  const known = new Map<string, KnownFile>();
  for (const [file, sql] of Object.entries(SQL))
    known.set(file, {
      checksum: edited.includes(file) ? 'edited' : `sum-${file}`,
      compatibility: await classifyMigration({ file, sql }),
    });
  return known;
}

const V1 = rec(1, 'v1', { files: ['0001_init.sql'], snapshot: true });

describe('planRollback', () => {
  const cases: Array<{
    name: string;
    /** Newest first, as the records are read. */
    since: ReleaseRecord[];
    edited?: string[];
    kind: 'image only' | 'restore';
    snapshot?: string;
    noSnapshot?: RegExp;
    verdicts: string[];
  }> = [
    {
      name: 'additive migrations since: image only',
      since: [
        rec(3, 'v3', { files: ['0005_index.sql'], snapshot: true }),
        rec(2, 'v2', { files: ['0002_add_nickname.sql'], snapshot: true }),
      ],
      kind: 'image only',
      verdicts: ['0005_index.sql compatible', '0002_add_nickname.sql compatible'],
    },
    {
      name: "a dropped column: restore v2's snapshot, the first after the target",
      since: [
        rec(3, 'v3', { files: ['0003_drop_legacy.sql'], snapshot: true }),
        rec(2, 'v2', { files: ['0002_add_nickname.sql'], snapshot: true }),
      ],
      kind: 'restore',
      snapshot: 'lockstep-shop-20260301100205-abc2',
      verdicts: ['0003_drop_legacy.sql incompatible', '0002_add_nickname.sql compatible'],
    },
    {
      name: 'a drop its author declared compatible: image only',
      since: [rec(2, 'v2', { files: ['0004_declared.sql'], snapshot: true })],
      kind: 'image only',
      verdicts: ['0004_declared.sql declared compatible'],
    },
    {
      name: 'a file edited since it ran: not known, so restore',
      since: [rec(2, 'v2', { files: ['0002_add_nickname.sql'], snapshot: true })],
      edited: ['0002_add_nickname.sql'],
      kind: 'restore',
      snapshot: 'lockstep-shop-20260301100205-abc2',
      verdicts: ['0002_add_nickname.sql unknown'],
    },
    {
      name: 'a file missing from --dir: not known, so restore',
      since: [rec(2, 'v2', { files: ['0009_gone.sql'], snapshot: true })],
      kind: 'restore',
      snapshot: 'lockstep-shop-20260301100205-abc2',
      verdicts: ['0009_gone.sql unknown'],
    },
    {
      name: 'no snapshot taken since the target (skipSnapshot): restore impossible from the records',
      since: [rec(2, 'v2', { files: ['0003_drop_legacy.sql'] })],
      kind: 'restore',
      noSnapshot: /v2, the first release after v1 to change the schema, took no snapshot/,
      verdicts: ['0003_drop_legacy.sql incompatible'],
    },
    {
      name: 'a FAILED release that partly applied counts; one that failed before migrating and a dry run do not',
      since: [
        rec(2, 'v2', { outcome: 'FAILED', failedStep: 'Preflight', files: ['0003_drop_legacy.sql'] }),
        rec(3, 'v3', { outcome: 'DRY_RUN', files: ['0003_drop_legacy.sql'], snapshot: false }),
        rec(4, 'v4', {
          outcome: 'FAILED',
          failedStep: 'Migrate',
          files: ['0002_add_nickname.sql', '0003_drop_legacy.sql'],
          snapshot: true,
        }),
      ].reverse(),
      kind: 'restore',
      snapshot: 'lockstep-shop-20260301100405-abc4',
      verdicts: ['0002_add_nickname.sql compatible', '0003_drop_legacy.sql incompatible'],
    },
    {
      name: 'command mode records no migrations: not known, so restore',
      since: [rec(2, 'v2', { commandMode: true, snapshot: true })],
      kind: 'restore',
      snapshot: 'lockstep-shop-20260301100205-abc2',
      verdicts: ['? unknown'],
    },
    {
      name: 'a record whose list was cut: the rest is not known',
      since: [rec(2, 'v2', { files: ['0002_add_nickname.sql'], truncated: 3, snapshot: true })],
      kind: 'restore',
      snapshot: 'lockstep-shop-20260301100205-abc2',
      verdicts: ['0002_add_nickname.sql compatible', '? unknown'],
    },
    {
      name: 'what a restoring rollback to the target undid does not count',
      since: [
        rec(4, 'v4', { files: ['0002_add_nickname.sql'], snapshot: true }),
        rec(3, 'rollback-to-v1', { rollback: { to: V1.recordKey, restored: true } }),
        rec(2, 'v2', { files: ['0003_drop_legacy.sql'], snapshot: true }),
      ],
      kind: 'image only',
      verdicts: ['0002_add_nickname.sql compatible'],
    },
  ];
  for (const c of cases)
    test(c.name, async () => {
      const plan = planRollback([...c.since, V1], 'v1', await files(c.edited));
      assert.equal(plan.kind, c.kind);
      assert.deepEqual(
        plan.since.flatMap((s) => s.migrations.map((m) => `${m.file} ${m.verdict}`)),
        c.verdicts,
      );
      assert.equal(plan.restore?.snapshotId, c.snapshot);
      if (c.noSnapshot) assert.match(plan.noSnapshot ?? '', c.noSnapshot);
      else assert.equal(plan.noSnapshot, undefined);
      assert.deepEqual(plan.to, {
        release: 'v1',
        recordKey: V1.recordKey,
        image: 'app:v1',
        taskDefinitionArn: TD(1),
      });
    });

  test('--restore-database restores even when an image would do', async () => {
    const plan = planRollback(
      [rec(2, 'v2', { files: ['0002_add_nickname.sql'], snapshot: true }), V1],
      'v1',
      await files(),
      true,
    );
    assert.equal(plan.kind, 'restore');
    assert.equal(plan.restoreBecause, '--restore-database');
  });

  test('the snapshot is named with its time, what is lost is said, and the refusal says how to go on', async () => {
    const plan = planRollback(
      [rec(2, 'v2', { files: ['0003_drop_legacy.sql'], snapshot: true }), V1],
      'v1',
      await files(),
    );
    assert.equal(plan.restore?.snapshotCreatedAt, '2026-03-01T10:02:05Z');
    const text = formatPlan(plan, 'aws');
    assert.match(text, /LOST: everything written to the database since 2026-03-01T10:02:05Z/);
    assert.match(text, /renamed aside \(kept\)/);
    assert.match(
      new RestoreRequiredError(plan).message,
      /run again with --restore-database to restore lockstep-shop-20260301100205-abc2/,
    );
  });

  test('refused with exit 10: a restore without --restore-database, and --restore-database with no snapshot to restore', async () => {
    const noSnapshot = [rec(2, 'v2', { files: ['0003_drop_legacy.sql'] }), V1];
    const needed = refusal(planRollback(noSnapshot, 'v1', await files()), {});
    const unavailable = refusal(planRollback(noSnapshot, 'v1', await files(), true), {
      restoreDatabase: true,
    });
    assert.deepEqual(
      [needed, unavailable].map((e) => [e?.name, exitCodeFor(e)]),
      [
        ['RestoreRequiredError', ExitCode.RollbackNeedsRestore],
        ['RestoreUnavailableError', ExitCode.RollbackNeedsRestore],
      ],
    );
    assert.match(
      needed?.message ?? '',
      /lockstep's records hold no snapshot to restore: v2, the first release/,
    );
  });

  test('a target that is unknown or never served is refused, naming --to', async () => {
    const failed = rec(2, 'v2', { outcome: 'FAILED', failedStep: 'Rollout status', files: [] });
    for (const release of ['v9', 'v2'])
      assert.throws(
        () => planRollback([failed, V1], release, new Map()),
        (err) => err instanceof InvalidInputError && err.field === '--to',
      );
  });
});
