/** The rehearsal's migration task: a child process whose ending reads as ECS's, through the same interpretation. */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { describe, test } from 'node:test';
import { interpretMigrationTask } from '../../functions/migration-task/interpret-task.ts';
import type { LaunchedTask } from '../../rehearsal/stand-ins/ecs.ts';
import { startMigrationProcess } from '../../rehearsal/stand-ins/migration-process.ts';

const node = process.execPath;
const params = (command: string[], environment: Array<{ Name: string; Value: string }> = []) => ({
  TaskDefinition: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/app:2',
  Overrides: { ContainerOverrides: [{ Name: 'app', Command: command, Environment: environment }] },
});

function start(command: string[], environment?: Array<{ Name: string; Value: string }>) {
  const lines: string[] = [];
  const task = startMigrationProcess(params(command, environment), {
    cwd: tmpdir(),
    container: 'app',
    env: { ...process.env, DATABASE_URL: 'postgres://u@localhost:5432/app' },
    graceMs: 500,
    print: (line) => lines.push(line),
  });
  return { task, lines };
}

async function verdictOf(task: LaunchedTask) {
  return interpretMigrationTask({ task: await task.stopped }, { container: 'app' });
}

/** Whether a process with this pid still exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the migration command as a local process', () => {
  test('exit 0 succeeds; its output is printed as the logs; it sees DATABASE_URL and the overrides', async () => {
    const { task, lines } = start(
      [node, '-e', 'console.log(process.env.DATABASE_URL, process.env.PGOPTIONS)'],
      [{ Name: 'PGOPTIONS', Value: '-c lock_timeout=5000' }],
    );
    const verdict = await verdictOf(task);
    assert.equal(verdict.kind, 'succeeded');
    assert.deepEqual(lines, ['  │ postgres://u@localhost:5432/app -c lock_timeout=5000']);
  });

  test('a non-zero exit is MigrationCommandFailedError with the code', async () => {
    const verdict = await verdictOf(start([node, '-e', 'process.exit(3)']).task);
    assert.equal(verdict.kind, 'failed');
    assert.equal(verdict.kind === 'failed' && verdict.error.name, 'MigrationCommandFailedError');
    assert.match(verdict.kind === 'failed' ? verdict.error.message : '', /\b3\b/);
  });

  test('a command that cannot run never started: no exit code is read as success', async () => {
    const verdict = await verdictOf(start(['lockstep-no-such-command-here']).task);
    assert.equal(verdict.kind === 'failed' && verdict.error.name, 'MigrationTaskNotStartedError');
  });

  test('StopTask: SIGTERM, then SIGKILL after the grace period, to what the command started too; read as stopped by the user', async () => {
    // A command that ignores SIGTERM and has a child of its own, which prints its pid.
    const script = `
      process.on('SIGTERM', () => {});
      const c = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      console.log('grandchild', c.pid);
      setInterval(() => {}, 1000);`;
    const { task, lines } = start([node, '-e', script]);
    let grandchild: number | undefined;
    try {
      const deadline = Date.now() + 10_000;
      while (grandchild === undefined && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        grandchild = Number(/grandchild (\d+)/.exec(lines.join('\n'))?.[1]) || undefined;
      }
      assert.ok(grandchild, 'the command started its child');
      const started = Date.now();
      task.stop('lockstep: the migration ran past its timeout of 60 s');
      const stopped = (await task.stopped) as { StopCode?: string; Containers: { ExitCode?: number }[] };

      assert.ok(Date.now() - started >= 450, 'SIGTERM was ignored until the grace period ended');
      assert.equal(stopped.StopCode, 'UserInitiated');
      assert.equal(stopped.Containers[0]?.ExitCode, 137);
      const verdict = interpretMigrationTask({ task: stopped }, { container: 'app' });
      assert.equal(verdict.kind === 'failed' && verdict.error.name, 'MigrationCommandFailedError');
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.ok(!alive(grandchild), 'the command’s own child is gone too');
    } finally {
      await task.kill();
      if (grandchild && alive(grandchild)) process.kill(grandchild, 'SIGKILL');
    }
  });
});
