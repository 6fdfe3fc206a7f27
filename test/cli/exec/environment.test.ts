import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commandEnvironment, defaultPgOptions } from '../../../cli/exec/environment.ts';

const connection = { host: 'db.internal', port: 5433, database: 'shop', user: 'app', password: 's3cret' };
const url =
  'postgres://app:s3cret@db.internal:5433/shop?sslmode=verify-full&sslrootcert=/etc/rds-ca.pem&schema=public';

describe('commandEnvironment', () => {
  it('describes the connection lockstep made, replacing inherited PG* variables, and keeps the rest', () => {
    const env = commandEnvironment({
      env: {
        PATH: '/usr/bin',
        PGHOST: 'elsewhere',
        PGPASSWORD: 'stale',
        PGSSLMODE: 'disable',
        UNSET: undefined,
      },
      url,
      connection,
      pgOptions: defaultPgOptions(5000),
      release: 'v1.4.2',
    });

    assert.deepEqual(env, {
      PATH: '/usr/bin',
      DATABASE_URL: url,
      PGHOST: 'db.internal',
      PGPORT: '5433',
      PGDATABASE: 'shop',
      PGUSER: 'app',
      PGPASSWORD: 's3cret',
      PGSSLMODE: 'verify-full',
      PGSSLROOTCERT: '/etc/rds-ca.pem',
      PGOPTIONS: '-c lock_timeout=5000',
      LOCKSTEP_RELEASE: 'v1.4.2',
    });
  });

  it('puts its PGOPTIONS before those already set, so that theirs win for a setting both name', () => {
    const env = commandEnvironment({
      env: { PGOPTIONS: '-c lock_timeout=30s -c search_path=app' },
      url: 'postgres://db/shop',
      connection,
      pgOptions: '-c lock_timeout=5000',
      release: 'r',
    });

    assert.equal(env.PGOPTIONS, '-c lock_timeout=5000 -c lock_timeout=30s -c search_path=app');
  });

  it('sets no PGOPTIONS when turned off, keeps an inherited one, and removes a PGPASSWORD lockstep did not use', () => {
    const off = commandEnvironment({
      env: { PGPASSWORD: 'stale', PGSSLMODE: 'require' },
      url: 'postgres://db/shop',
      connection: { ...connection, password: undefined },
      pgOptions: '',
      release: 'r',
    });
    const inherited = commandEnvironment({
      env: { PGOPTIONS: '-c statement_timeout=0' },
      url: 'postgres://db/shop',
      connection,
      pgOptions: '',
      release: 'r',
    });

    assert.equal(off.PGOPTIONS, undefined);
    assert.equal(off.PGPASSWORD, undefined);
    assert.equal(off.PGSSLMODE, 'require', 'kept when the URL does not say');
    assert.equal(inherited.PGOPTIONS, '-c statement_timeout=0');
  });
});
