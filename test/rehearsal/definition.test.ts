/**
 * The synthesized definition and the functions' environments the local runs use, and the cache that makes a
 * repeat rehearsal skip the synthesis.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cachedReleaseDefinition, synthesisKey } from '../../rehearsal/definition-cache.ts';
import { localEnvironments } from '../../rehearsal/functions.ts';

describe('the synthesized definition, cached', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-cache-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('each function gets the template’s environment, references resolved to placeholders of the right shape', async () => {
    const { local, cached } = await cachedReleaseDefinition(dir);
    assert.equal(cached, false);
    const env = local.environments;
    assert.equal(env.preflight.LOCK_TABLE, local.lockTableName);
    assert.equal(env.preflight.DB_IDENTIFIER, env.snapshot.DB_IDENTIFIER);
    assert.match(env.snapshot.DB_IDENTIFIER ?? '', /^[a-z][a-z0-9-]*$/);
    assert.match(env.migrate?.DB_SECRET_ARN ?? '', /^arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:/);
    assert.match(env.migrate?.DB_HOST ?? '', /\.rds\.amazonaws\.com$/);
    assert.equal(env.migrate?.HISTORY_TABLE, 'lockstep.schema_history');
    assert.equal(env.deploy.CONTAINER_NAME, 'app');

    // What is local by nature replaces the template's values, for the function it concerns only.
    const localized = localEnvironments(local, {
      database: { host: 'localhost', port: 5999, caFile: '/tmp/ca.pem', identifier: 'app' },
      migrationsDir: '/tmp/migrations',
      env: { LOCK_WAIT_SECONDS: '1' },
    });
    assert.equal(localized.migrate?.DB_HOST, 'localhost');
    assert.equal(localized.migrate?.DB_PORT, '5999');
    assert.equal(localized.migrate?.MIGRATIONS_DIR, '/tmp/migrations');
    assert.equal(localized.migrate?.LOCK_WAIT_SECONDS, '1');
    assert.equal(localized.snapshot.DB_IDENTIFIER, 'app');
    assert.equal(localized.deploy.DB_HOST, undefined);
  });

  test('a second look reads the cache; other inputs are another key, replacing the old entry', async () => {
    const again = await cachedReleaseDefinition(dir);
    assert.equal(again.cached, true);
    assert.equal(readdirSync(dir).length, 1);

    const context = { migrationsSource: 's3' };
    assert.notEqual(synthesisKey(context), synthesisKey({}));
    let synthesized = false;
    const other = await cachedReleaseDefinition(dir, { context, onSynthesize: () => (synthesized = true) });
    assert.equal(other.cached, false);
    assert.equal(synthesized, true);
    assert.equal(readdirSync(dir).length, 1, 'the older entry is gone');
  });

  test('in command mode there is no migrate function: the migration-task function’s environment instead', async () => {
    const { local } = await cachedReleaseDefinition(dir, {
      context: { migrationCommand: 'python manage.py migrate' },
    });

    const localized = localEnvironments(local, {
      database: { host: 'localhost', port: 5999, caFile: undefined },
      migrationsDir: '/tmp/migrations',
    });

    assert.equal(local.environments.migrate, undefined);
    assert.equal(local.environments.migrationTask?.CONTAINER_NAME, 'app');
    assert.equal(local.environments.preflight.MIGRATIONS_SOURCE, 'command');
    assert.equal(localized.migrate, undefined);
    assert.ok(!Object.values(local.taskStates).includes('migrate'));
  });
});
