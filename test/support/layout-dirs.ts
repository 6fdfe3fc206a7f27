import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Writes files (paths may hold `/`) into a new temporary directory. */
export async function layoutDir(
  files: Record<string, string>,
): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'lockstep-layout-'));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** One small project per layout: three migrations creating t1..t3, the second outside a transaction where the tool can say so. */
export const PROJECTS = {
  lockstep: {
    '0001_one.sql': 'CREATE TABLE t1 (id int);',
    '0002_two.sql':
      '-- lockstep:no-transaction\nCREATE INDEX CONCURRENTLY t1_id ON t1 (id);\nCREATE TABLE t2 (id int);',
    '0003_three.sql': 'CREATE TABLE t3 (id int);',
  },
  prisma: {
    'migration_lock.toml': 'provider = "postgresql"\n',
    '20240101000000_one/migration.sql': '-- CreateTable\nCREATE TABLE t1 (id int);\n',
    '20240102000000_two/migration.sql': 'BEGIN;\nCREATE TABLE t2 (id int);\nCOMMIT;\n',
    '20240103000000_three/migration.sql': 'CREATE TABLE t3 (id int);\n',
  },
  flyway: {
    'V1__one.sql': 'CREATE TABLE t1 (id int);',
    'V2__two.sql': 'CREATE INDEX CONCURRENTLY t1_id ON t1 (id);\nCREATE TABLE t2 (id int);',
    'V2__two.sql.conf': 'executeInTransaction=false\n',
    'V3__three.sql': 'CREATE TABLE t3 (id int);',
    'U3__three.sql': 'DROP TABLE t3;',
  },
  'golang-migrate': {
    '1_one.up.sql': 'CREATE TABLE t1 (id int);',
    '1_one.down.sql': 'DROP TABLE t1;',
    '2_two.up.sql': 'CREATE TABLE t2 (id int);',
    '2_two.down.sql': 'DROP TABLE t2;',
    '3_three.up.sql': 'CREATE TABLE t3 (id int);',
    '3_three.down.sql': 'DROP TABLE t3;',
  },
  dbmate: {
    '20240101000000_one.sql': '-- migrate:up\nCREATE TABLE t1 (id int);\n\n-- migrate:down\nDROP TABLE t1;\n',
    '20240102000000_two.sql':
      '-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY t1_id ON t1 (id);\nCREATE TABLE t2 (id int);\n\n-- migrate:down\nDROP TABLE t2;\n',
    '20240103000000_three.sql':
      '-- migrate:up\nCREATE TABLE t3 (id int);\n\n-- migrate:down\nDROP TABLE t3;\n',
  },
  diesel: {
    '2024-01-01-000000_one/up.sql': 'CREATE TABLE t1 (id int);',
    '2024-01-01-000000_one/down.sql': 'DROP TABLE t1;',
    '2024-01-02-000000_two/up.sql': 'CREATE INDEX CONCURRENTLY t1_id ON t1 (id);\nCREATE TABLE t2 (id int);',
    '2024-01-02-000000_two/down.sql': 'DROP TABLE t2;',
    '2024-01-02-000000_two/metadata.toml': 'run_in_transaction = false\n',
    '2024-01-03-000000_three/up.sql': 'CREATE TABLE t3 (id int);',
    '2024-01-03-000000_three/down.sql': 'DROP TABLE t3;',
  },
  sqlx: {
    '20240101000000_one.sql': 'CREATE TABLE t1 (id int);',
    '20240102000000_two.sql':
      '-- no-transaction\nCREATE INDEX CONCURRENTLY t1_id ON t1 (id);\nCREATE TABLE t2 (id int);',
    '20240103000000_three.up.sql': 'CREATE TABLE t3 (id int);',
    '20240103000000_three.down.sql': 'DROP TABLE t3;',
  },
  'node-pg-migrate': {
    '1700000000001_one.sql':
      '-- Up Migration\nCREATE TABLE t1 (id int);\n-- Down Migration\nDROP TABLE t1;\n',
    '1700000000002_two.sql':
      '-- Up Migration\nCREATE TABLE t2 (id int);\n-- Down Migration\nDROP TABLE t2;\n',
    '1700000000003_three.sql':
      '-- Up Migration\nCREATE TABLE t3 (id int);\n-- Down Migration\nDROP TABLE t3;\n',
  },
} as const satisfies Record<string, Record<string, string>>;
