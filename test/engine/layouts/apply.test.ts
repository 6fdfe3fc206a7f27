import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MigrationFailedError } from '../../../engine/errors.ts';
import { LAYOUT_NAMES } from '../../../engine/layouts/read.ts';
import { loadProject } from '../../../engine/migration-files.ts';
import { migrate } from '../../../engine/runner.ts';
import { pgSession } from '../../../engine/session.ts';
import { freshDatabase, type TestDatabase } from '../../support/database.ts';
import { layoutDir, PROJECTS } from '../../support/layout-dirs.ts';

const options = { appliedBy: 'layout-test', lockRetryDelayMs: 20 };

describe('each layout applied by the engine', () => {
  for (const layout of LAYOUT_NAMES) {
    test(`${layout}: applies its files, a re-run is a no-op, a failing file fails naming its file and line`, async () => {
      const db: TestDatabase = await freshDatabase();
      const client = await db.connect();
      const d = await layoutDir(PROJECTS[layout]);
      try {
        const session = pgSession(client);
        const historyTable = 'lockstep.schema_history';
        const { migrations } = await loadProject(d.dir);
        const first = await migrate({ session }, migrations, { ...options, historyTable });
        assert.equal(first.applied.length, 3);
        const { rows } = await client.query(
          `SELECT count(*)::int AS n FROM pg_tables WHERE tablename ~ '^t[123]$'`,
        );
        assert.equal(rows[0].n, 3);
        const again = await migrate({ session }, migrations, { ...options, historyTable });
        assert.equal(again.applied.length, 0);

        const failing = await layoutDir({ ...PROJECTS[layout], ...failingFile(layout) });
        try {
          const more = await loadProject(failing.dir);
          await assert.rejects(
            migrate({ session }, more.migrations, { ...options, historyTable }),
            (err: unknown) => {
              assert.ok(err instanceof MigrationFailedError, String(err));
              assert.equal(err.failure.location.line, 2);
              assert.match(err.failure.location.file, /four/);
              return true;
            },
          );
        } finally {
          await failing.cleanup();
        }
      } finally {
        await d.cleanup();
        await db.drop();
      }
    });
  }
});

/** A fourth migration whose second line fails, named as the layout names files. */
function failingFile(layout: (typeof LAYOUT_NAMES)[number]): Record<string, string> {
  const body = 'CREATE TABLE t4 (id int);\nSELECT * FROM missing_table;\n';
  switch (layout) {
    case 'lockstep':
      return { '0004_four.sql': body };
    case 'prisma':
      return { '20240104000000_four/migration.sql': body };
    case 'flyway':
      return { 'V4__four.sql': body };
    case 'golang-migrate':
      return { '4_four.up.sql': body, '4_four.down.sql': 'DROP TABLE t4;' };
    case 'dbmate':
      return { '20240104000000_four.sql': '-- migrate:up\nSELECT * FROM missing_table;\n' };
    case 'diesel':
      return { '2024-01-04-000000_four/up.sql': body };
    case 'sqlx':
      return { '20240104000000_four.sql': body };
    case 'node-pg-migrate':
      return { '1700000000004_four.sql': body };
  }
}
