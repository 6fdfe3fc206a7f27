/** The rehearsal's migration task: a child process whose ending reads as ECS's, through the same interpretation. */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { describe, test } from 'node:test';
import { interpretMigrationTask } from '../../functions/migration-task/interpret-task.ts';
import { runMigrationProcess } from '../../rehearsal/stand-ins/migration-process.ts';

const node = process.execPath;
const params = (command: string[], environment: Array<{ Name: string; Value: string }> = []) => ({
  TaskDefinition: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/app:2',
  Overrides: { ContainerOverrides: [{ Name: 'app', Command: command, Environment: environment }] },
});

async function run(
  command: string[],
  timeoutMs = 30_000,
  environment?: Array<{ Name: string; Value: string }>,
) {
  const lines: string[] = [];
  try {
    const task = await runMigrationProcess(params(command, environment), {
      cwd: tmpdir(),
      container: 'app',
      env: { DATABASE_URL: 'postgres://u@localhost:5432/app' },
      timeoutMs,
      graceMs: 500,
      print: (line) => lines.push(line),
    });
    return { verdict: interpretMigrationTask({ task }, { container: 'app' }), lines };
  } catch (err) {
    const e = err as Error;
    return {
      verdict: interpretMigrationTask({ error: { Error: e.name, Cause: e.message } }, { container: 'app' }),
      lines,
    };
  }
}

describe('the migration command as a local process', () => {
  test('exit 0 succeeds; its output is printed as the logs; it sees DATABASE_URL and the overrides', async () => {
    const { verdict, lines } = await run(
      [node, '-e', 'console.log(process.env.DATABASE_URL, process.env.PGOPTIONS)'],
      30_000,
      [{ Name: 'PGOPTIONS', Value: '-c lock_timeout=5000' }],
    );
    assert.equal(verdict.kind, 'succeeded');
    assert.deepEqual(lines, ['  │ postgres://u@localhost:5432/app -c lock_timeout=5000']);
  });

  test('a non-zero exit is MigrationCommandFailedError with the code', async () => {
    const { verdict } = await run([node, '-e', 'process.exit(3)']);
    assert.equal(verdict.kind, 'failed');
    assert.equal(verdict.kind === 'failed' && verdict.error.name, 'MigrationCommandFailedError');
    assert.match(verdict.kind === 'failed' ? verdict.error.message : '', /\b3\b/);
  });

  test('a command that cannot run never started: no exit code is read as success', async () => {
    const { verdict } = await run(['lockstep-no-such-command-here']);
    assert.equal(verdict.kind === 'failed' && verdict.error.name, 'MigrationTaskNotStartedError');
  });

  test('past its timeout the process is stopped and the state times out', async () => {
    const started = Date.now();
    const { verdict } = await run([node, '-e', 'setInterval(() => {}, 1000)'], 300);
    assert.equal(verdict.kind, 'timed-out');
    assert.ok(Date.now() - started < 10_000);
  });
});
