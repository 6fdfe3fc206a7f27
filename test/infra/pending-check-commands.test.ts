import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { knownNonCheck } from '../../infra/constructs/pending-check-commands.ts';

describe('status commands that are no pending check', () => {
  it('refuses the tools’ status commands that exit 0 either way', () => {
    for (const command of [
      ['npx', 'knex', 'migrate:status'],
      ['node_modules/.bin/knex', 'migrate:status'],
      ['npx', 'sequelize-cli', 'db:migrate:status'],
      ['diesel', 'migration', 'pending'],
      ['sqlx', 'migrate', 'info'],
      ['liquibase', 'status'],
      ['php', 'artisan', 'migrate:status'],
      ['php', 'artisan', 'migrate:status', '--pending'],
      ['dbmate', 'status'],
      ['sh', '-c', 'cd /app && npx knex migrate:status'],
    ])
      assert.match(knownNonCheck(command) ?? '', /exits 0 whether or not/, command.join(' '));
  });

  it('accepts the checks of the README’s table', () => {
    for (const command of [
      ['npx', 'prisma', 'migrate', 'status'],
      ['bin/rails', 'db:abort_if_pending_migrations'],
      ['python', 'manage.py', 'migrate', '--check'],
      ['alembic', 'current', '--check-heads'],
      ['php', 'artisan', 'migrate:status', '--pending=1'],
      ['flyway', 'validate'],
      ['dbmate', 'status', '--exit-code'],
      ['dbmate', '--no-dump-schema', 'status', '--quiet'],
    ])
      assert.equal(knownNonCheck(command), undefined, command.join(' '));
  });
});
