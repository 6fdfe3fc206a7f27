import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type OptionsContext, parseOptions, urlSecrets, urlUserinfo } from '../../cli/options.ts';
import { InvalidInputError } from '../../engine/errors.ts';

const context: OptionsContext = { env: {}, hostname: 'build-7', now: 1_700_000_000_000 };

function invalidFlag(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof InvalidInputError, String(err));
    return err.field;
  }
  assert.fail('expected an InvalidInputError');
}

describe('parseOptions', () => {
  it('applies the defaults, labelling the release after the host', () => {
    const options = parseOptions({}, context);

    assert.deepEqual(options, {
      dir: './migrations',
      databaseUrl: undefined,
      release: 'cli@build-7',
      json: false,
      engine: {
        appliedBy: 'cli@build-7',
        historyTable: 'lockstep.schema_history',
        lockWaitMs: 300_000,
        lockTimeoutMs: 5_000,
        statementTimeoutMs: 0,
        lockRetries: 5,
        allowOutOfOrder: false,
        refuseDatabaseAhead: false,
        phase: 'all',
      },
    });
  });

  it('converts seconds to milliseconds and --max-duration to a deadline from now', () => {
    const { engine } = parseOptions(
      {
        lockWait: '0.5',
        lockTimeout: '250',
        statementTimeout: '60000',
        lockRetries: '0',
        maxDuration: '900',
      },
      context,
    );

    assert.equal(engine.lockWaitMs, 500);
    assert.equal(engine.lockTimeoutMs, 250);
    assert.equal(engine.statementTimeoutMs, 60_000);
    assert.equal(engine.lockRetries, 0);
    assert.equal(engine.deadline, context.now + 900_000);
  });

  it('names the flag of a malformed or out-of-range value', () => {
    assert.equal(
      invalidFlag(() => parseOptions({ lockWait: 'soon' }, context)),
      '--lock-wait',
    );
    assert.equal(
      invalidFlag(() => parseOptions({ lockWait: '-1' }, context)),
      '--lock-wait',
    );
    assert.equal(
      invalidFlag(() => parseOptions({ lockTimeout: '0' }, context)),
      '--lock-timeout',
    );
    assert.equal(
      invalidFlag(() => parseOptions({ statementTimeout: '1.5' }, context)),
      '--statement-timeout',
    );
    assert.equal(
      invalidFlag(() => parseOptions({ lockRetries: '1e3' }, context)),
      '--lock-retries',
    );
    assert.equal(
      invalidFlag(() => parseOptions({ maxDuration: '5' }, context)),
      '--max-duration',
    );
    assert.equal(
      invalidFlag(() => parseOptions({ release: '   ' }, context)),
      '--release',
    );
    assert.equal(
      invalidFlag(() => parseOptions({ historyTable: 'history' }, context)),
      '--history-table',
    );
  });

  it('takes DATABASE_URL when --database-url is absent, the flag winning over it', () => {
    const env = { DATABASE_URL: 'postgres://u:p@db.internal:5432/app' };

    assert.equal(parseOptions({}, { ...context, env }).databaseUrl, env.DATABASE_URL);
    assert.equal(
      parseOptions({ databaseUrl: 'postgresql://u:p@other/app' }, { ...context, env }).databaseUrl,
      'postgresql://u:p@other/app',
    );
    assert.equal(parseOptions({}, { ...context, env: { DATABASE_URL: '' } }).databaseUrl, undefined);
  });

  it('rejects a URL that is not postgres:// without repeating it', () => {
    let error: unknown;
    try {
      parseOptions({}, { ...context, env: { DATABASE_URL: 'mysql://u:hunter2@db/app' } });
    } catch (err) {
      error = err;
    }

    assert.ok(error instanceof InvalidInputError);
    assert.equal(error.field, 'DATABASE_URL');
    assert.doesNotMatch(error.message, /hunter2/);
  });
});

describe('database URLs', () => {
  it('the user name and password part runs to the last "@", so no fragment of a password can pass for a host', () => {
    assert.equal(urlUserinfo('postgres://u:p@ss@h:5432/db'), 'u:p@ss');
    assert.equal(
      urlUserinfo('postgres://canary:Canary@Pw-9f8e7d/x@127.0.0.1:55477/cdb'),
      'canary:Canary@Pw-9f8e7d/x',
    );
    assert.equal(urlUserinfo('postgres://h:5432/db'), undefined);
    assert.deepEqual(urlSecrets('postgres://u:p%40ss@h/db'), [
      'postgres://u:p%40ss@h/db',
      'u:p%40ss',
      'p%40ss',
      'p@ss',
    ]);
    assert.deepEqual(urlSecrets('postgres://app@h/db'), ['postgres://app@h/db']);
  });

  it('an unencoded "@" alone is read as pg reads it; with "/", "?" or "#" before the last "@" the URL is refused', () => {
    const env = (url: string) => ({ ...context, env: { DATABASE_URL: url } });

    assert.equal(parseOptions({}, env('postgres://u:p@ss@h/db')).databaseUrl, 'postgres://u:p@ss@h/db');
    for (const url of [
      'postgres://canary:Canary@Pw-9f8e7d/x@127.0.0.1:55477/cdb',
      'postgres://u:a?b@h/db',
      'postgres://u:a#b@h/db',
    ]) {
      assert.equal(
        invalidFlag(() => parseOptions({}, env(url))),
        'DATABASE_URL',
      );
    }
  });
});

describe('--phase', () => {
  const context = { env: {}, hostname: 'build-7', now: 0 };
  it('takes before-deploy, after-deploy or all, and names the flag for anything else', () => {
    for (const phase of ['before-deploy', 'after-deploy', 'all'] as const)
      assert.equal(parseOptions({ phase }, context).engine.phase, phase);
    assert.throws(() => parseOptions({ phase: 'post-deploy' }, context), {
      name: 'InvalidInputError',
      message: /--phase: must be one of before-deploy, after-deploy, all, got "post-deploy"/,
    });
  });
});
