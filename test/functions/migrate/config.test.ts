import assert from 'node:assert/strict';
import { test } from 'node:test';
import { migrateConfig } from '../../../functions/migrate/config.ts';
import { ConfigError } from '../../../functions/shared/errors.ts';

const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf';

test('the history table name is checked at cold start with the engine’s rule: a bad one is a ConfigError', () => {
  for (const bad of ['lockstep.Schema_History', 'pg_catalog.history', 'history']) {
    assert.throws(
      () => migrateConfig({ DB_SECRET_ARN: SECRET, HISTORY_TABLE: bad }, '/var/task'),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError, `${bad}: ${String(err)}`);
        assert.match(err.message, /HISTORY_TABLE/);
        return true;
      },
    );
  }
  for (const good of ['lockstep.schema_history', 'ops."Migration_History"']) {
    assert.equal(
      migrateConfig({ DB_SECRET_ARN: SECRET, HISTORY_TABLE: good }, '/var/task').engine.historyTable,
      good,
    );
  }
});
