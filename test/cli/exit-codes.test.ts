import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CommandNotExecutableError,
  CommandNotFoundError,
  CommandTimeoutError,
  ExecLockLostError,
} from '../../cli/exec/errors.ts';
import { ExitCode, exitCodeFor, signalExitCode } from '../../cli/exit-codes.ts';
import {
  ChecksumMismatchError,
  DatabaseAheadError,
  DatabaseUnavailableError,
  InvalidInputError,
  InvalidMigrationError,
  LockNotAvailableError,
  LockTimeoutError,
  MigrationFailedError,
  type MigrationFailure,
  OutOfOrderError,
} from '../../engine/errors.ts';

const failure: MigrationFailure = {
  version: '1',
  location: { file: '0001_a.sql', line: 1, column: 1 },
  sqlState: '42601',
  statementExcerpt: undefined,
  appliedBefore: [],
  hint: undefined,
};

describe('exitCodeFor', () => {
  it("maps each of the engine's errors to its exit code by its code", () => {
    const cases: Array<[Error, number]> = [
      [new InvalidInputError('--dir', 'missing'), 2],
      [new MigrationFailedError('syntax error', failure), 3],
      [new LockTimeoutError(1000, undefined), 4],
      [new LockNotAvailableError(6, failure, 'lock timeout'), 4],
      [new ChecksumMismatchError([]), 5],
      [new OutOfOrderError(['0001_a.sql'], '2'), 5],
      [new DatabaseAheadError(['3']), 5],
      [new InvalidMigrationError([{ file: 'x.sql', problem: 'misnamed' }]), 5],
      [new DatabaseUnavailableError('refused'), 7],
    ];

    for (const [error, code] of cases) assert.equal(exitCodeFor(error), code, error.name);
  });

  it("maps exec's errors to the codes timeout and a shell use, and a lost lock to 4", () => {
    assert.equal(exitCodeFor(new CommandTimeoutError(1000, 'killed by SIGTERM')), 124);
    assert.equal(exitCodeFor(new CommandNotExecutableError('./x', 'EACCES')), 126);
    assert.equal(exitCodeFor(new CommandNotFoundError('nope')), 127);
    assert.equal(exitCodeFor(new ExecLockLostError('the server closed the connection', 'exit 0')), 4);
  });

  it('treats anything else as an internal error', () => {
    assert.equal(exitCodeFor(new TypeError('oops')), ExitCode.InternalError);
    assert.equal(exitCodeFor('a string'), 1);
  });

  it('reports a signal as 128 plus its number', () => {
    assert.equal(signalExitCode('SIGINT'), 130);
    assert.equal(signalExitCode('SIGTERM'), 143);
  });
});
