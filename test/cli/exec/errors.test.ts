import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as execErrors from '../../../cli/exec/errors.ts';
import { LockstepError } from '../../../engine/errors.ts';

const samples: Record<string, LockstepError> = {
  CommandNotFoundError: new execErrors.CommandNotFoundError('prisma'),
  CommandNotExecutableError: new execErrors.CommandNotExecutableError('./migrate.sh', 'EACCES'),
  CommandTimeoutError: new execErrors.CommandTimeoutError(90_000, 'killed by SIGKILL'),
  ExecLockLostError: new execErrors.ExecLockLostError('the server closed the connection', 'exit 0'),
};

test('every exec error class names its instances after itself, with a stable code and what to act on in JSON', () => {
  const classes = Object.entries(execErrors).filter(
    ([, value]) => typeof value === 'function' && value.prototype instanceof LockstepError,
  );
  assert.deepEqual(
    classes.map(([name]) => name).sort(),
    Object.keys(samples).sort(),
    'every class has a sample',
  );
  for (const [name, error] of Object.entries(samples)) {
    assert.equal(error.name, name);
    assert.match(error.code, /^[A-Z_]+$/);
    assert.deepEqual(Object.keys(error.toJSON()).slice(0, 3), ['name', 'code', 'message'], name);
  }
  assert.deepEqual(samples.CommandTimeoutError?.toJSON(), {
    name: 'CommandTimeoutError',
    code: 'COMMAND_TIMEOUT',
    message: 'the command ran past --timeout (90 s) and was stopped: killed by SIGKILL',
    timeoutMs: 90_000,
    ended: 'killed by SIGKILL',
  });
});
