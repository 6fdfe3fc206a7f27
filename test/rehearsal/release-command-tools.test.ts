/**
 * Real migration tools as command mode's migration command (issue 13): knex, node-pg-migrate, sequelize-cli and
 * lockstep itself, each in a tiny app, through the synthesized state machine run locally. The cases are in
 * ../support/tool-rehearsal.ts; here are the apps. The tools install from the npm registry (devDependencies) and
 * need no network to run.
 */
import { join } from 'node:path';
import { repoRoot } from '../support/cli-process.ts';
import { bin, describeToolRelease } from '../support/tool-rehearsal.ts';

const FAILING_SQL = 'ALTER TABLE no_such_table ADD COLUMN x int';
const HANGING_SQL = 'SELECT pg_sleep(600)';

describeToolRelease({
  tool: 'knex',
  command: [bin('knex'), 'migrate:latest'],
  files: {
    'knexfile.js':
      "module.exports = { client: 'pg', connection: process.env.DATABASE_URL, migrations: { directory: './migrations' } };\n",
    'migrations/20260101000000_create_accounts.js': `exports.up = (knex) =>
  knex.schema.createTable('accounts', (t) => {
    t.bigIncrements('id');
    t.text('email').notNullable();
  });
exports.down = (knex) => knex.schema.dropTable('accounts');
`,
    'migrations/20260102000000_add_account_name.js': `exports.up = (knex) => knex.schema.alterTable('accounts', (t) => t.text('name'));
exports.down = (knex) => knex.schema.alterTable('accounts', (t) => t.dropColumn('name'));
`,
  },
  failing: {
    file: 'migrations/20260103000000_broken.js',
    content: `exports.up = (knex) => knex.raw('${FAILING_SQL}');\nexports.down = () => {};\n`,
    output: /migration file "20260103000000_broken\.js" failed/,
  },
  hanging: {
    file: 'migrations/20260103000000_stuck.js',
    content: `exports.up = (knex) => knex.raw('${HANGING_SQL}');\nexports.down = () => {};\n`,
  },
});

describeToolRelease({
  tool: 'node-pg-migrate',
  command: [bin('node-pg-migrate'), 'up'],
  files: {
    'migrations/1767225600000_create-accounts.js': `exports.up = (pgm) => {
  pgm.createTable('accounts', { id: 'id', email: { type: 'text', notNull: true } });
};
`,
    'migrations/1767312000000_add-account-name.js': `exports.up = (pgm) => {
  pgm.addColumns('accounts', { name: { type: 'text' } });
};
`,
  },
  failing: {
    file: 'migrations/1767398400000_broken.js',
    content: `exports.up = (pgm) => {\n  pgm.sql('${FAILING_SQL}');\n};\n`,
    output: /Rolling back attempted migration/,
  },
  hanging: {
    file: 'migrations/1767398400000_stuck.js',
    content: `exports.up = (pgm) => {\n  pgm.sql('${HANGING_SQL}');\n};\n`,
  },
});

describeToolRelease({
  tool: 'sequelize-cli',
  command: [bin('sequelize-cli'), 'db:migrate'],
  files: {
    'config/config.json': `${JSON.stringify({ development: { use_env_variable: 'DATABASE_URL', dialect: 'postgres' } })}\n`,
    'migrations/20260101000000-create-accounts.js': `module.exports = {
  async up(queryInterface, Sequelize) {
    await queryInterface.createTable('accounts', {
      id: { type: Sequelize.BIGINT, primaryKey: true, autoIncrement: true },
      email: { type: Sequelize.TEXT, allowNull: false },
    });
  },
  async down(queryInterface) {
    await queryInterface.dropTable('accounts');
  },
};
`,
    'migrations/20260102000000-add-account-name.js': `module.exports = {
  async up(queryInterface, Sequelize) {
    await queryInterface.addColumn('accounts', 'name', { type: Sequelize.TEXT });
  },
  async down(queryInterface) {
    await queryInterface.removeColumn('accounts', 'name');
  },
};
`,
  },
  failing: {
    file: 'migrations/20260103000000-broken.js',
    content: `module.exports = {\n  async up(queryInterface) {\n    await queryInterface.sequelize.query('${FAILING_SQL}');\n  },\n};\n`,
    output: /ERROR: relation "no_such_table" does not exist/,
  },
  hanging: {
    file: 'migrations/20260103000000-stuck.js',
    content: `module.exports = {\n  async up(queryInterface) {\n    await queryInterface.sequelize.query('${HANGING_SQL}');\n  },\n};\n`,
  },
});

describeToolRelease({
  tool: 'lockstep (the installed CLI)',
  command: [process.execPath, join(repoRoot, 'bin', 'lockstep.cjs'), 'migrate', '--dir', 'migrations'],
  files: {
    'migrations/0001_create_accounts.sql':
      'CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);\n',
    'migrations/0002_add_account_name.sql': 'ALTER TABLE accounts ADD COLUMN name text;\n',
  },
  failing: {
    file: 'migrations/0003_broken.sql',
    content: `${FAILING_SQL};\n`,
    output: /MigrationFailedError/,
  },
  hanging: { file: 'migrations/0003_stuck.sql', content: `${HANGING_SQL};\n` },
});
