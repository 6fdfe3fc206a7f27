/** The generated migration sets every tool applies: the same SQL, in the file layout each tool reads. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MigrationSet {
  readonly n: number;
  /** `NNNNN_step_N.sql`, plain SQL: what lockstep, psql and node-pg-migrate read. */
  readonly dir: string;
  /** The same SQL between dbmate's `-- migrate:up` and (empty) `-- migrate:down` markers, which it requires. */
  readonly dbmateDir: string;
  /** In order, absolute paths of the files in `dir`. */
  readonly files: readonly string[];
}

/** The SQL of migration `i` (1-based): a rotation of the kinds real schemas accumulate. */
export function migrationSql(i: number): string {
  const t = `t${Math.ceil(i / 4)}`;
  switch ((i - 1) % 4) {
    case 0:
      return `CREATE TABLE ${t} (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now());`;
    case 1:
      return `ALTER TABLE ${t} ADD COLUMN name_${i} text;`;
    case 2:
      return `CREATE INDEX ${t}_idx_${i} ON ${t} (created_at);`;
    default:
      return `INSERT INTO ${t} (name_${i - 2}) SELECT 'row ' || g FROM generate_series(1, 10) g;`;
  }
}

/** Writes N migrations under `root`. */
export function generateMigrations(root: string, n: number): MigrationSet {
  const dir = join(root, `m${n}`);
  const dbmateDir = join(root, `m${n}-dbmate`);
  mkdirSync(dir, { recursive: true });
  mkdirSync(dbmateDir, { recursive: true });
  const files: string[] = [];
  for (let i = 1; i <= n; i++) {
    const name = `${String(i).padStart(5, '0')}_step_${i}.sql`;
    const sql = `${migrationSql(i)}\n`;
    writeFileSync(join(dir, name), sql);
    writeFileSync(join(dbmateDir, name), `-- migrate:up\n${sql}-- migrate:down\n`);
    files.push(join(dir, name));
  }
  return { n, dir, dbmateDir, files };
}
