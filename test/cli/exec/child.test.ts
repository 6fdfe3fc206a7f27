import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { joinArgv } from '../../../cli/commands/exec.ts';
import { shellExitCode } from '../../../cli/exec/child.ts';

describe('shellExitCode', () => {
  it("is the command's code, or 128 + the signal's number as a shell reports it", () => {
    assert.equal(shellExitCode({ exitCode: 42, signal: null }), 42);
    assert.equal(shellExitCode({ exitCode: null, signal: 'SIGKILL' }), 137);
    assert.equal(shellExitCode({ exitCode: null, signal: 'SIGTERM' }), 143);
  });
});

describe('joinArgv', () => {
  it('quotes only what a shell would split or expand', () => {
    assert.equal(
      joinArgv(['python', 'manage.py', 'migrate', '--database=default']),
      'python manage.py migrate --database=default',
    );
    assert.equal(joinArgv(['sh', '-c', "echo 'hi' && exit 3"]), `sh -c 'echo '\\''hi'\\'' && exit 3'`);
    assert.equal(joinArgv(['printf', '']), "printf ''");
  });
});
