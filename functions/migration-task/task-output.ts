/**
 * The last lines the migration command wrote, for the alert: the task definition names the container's log
 * configuration (ecs:DescribeTaskDefinition), ./log-stream.ts derives the awslogs group and stream, and CloudWatch
 * Logs' GetLogEvents reads the end of that stream: "startFromHead: If the value is true, the earliest log events are
 * returned first. If the value is false, the latest log events are returned first. The default value is false"
 * (CloudWatch Logs API Reference, GetLogEvents); `limit` caps the count. The events are sorted by timestamp here, so
 * the order within the page does not matter.
 *
 * Never throws: a log that cannot be read is a sentence saying so, and the migration's own error still goes out.
 */

import { stripVTControlCharacters } from 'node:util';
import { type CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTaskDefinitionCommand, type ECSClient } from '@aws-sdk/client-ecs';
import type { Log } from '../shared/logger.ts';
import { type TaskLogStream, taskLogStream } from './log-stream.ts';

export interface TaskOutputDeps {
  readonly ecs: ECSClient;
  /** A CloudWatch Logs client for a region (`awslogs-region` may name another than the function's); undefined: its own. */
  readonly logs: (region: string | undefined) => CloudWatchLogsClient;
  readonly log: Log;
}

/** How much of the output an alert carries: the last `lines` lines, at most `maxChars` characters of them. */
export const OUTPUT_LIMITS = { lines: 30, maxChars: 2_000 } as const;

/** The last lines of `container`'s output in the task `taskArn` of revision `taskDefinitionArn`, as alert text. */
export async function readTaskOutput(
  deps: TaskOutputDeps,
  task: { readonly taskArn: string | undefined; readonly taskDefinitionArn: string | undefined },
  container: string,
): Promise<string> {
  if (!task.taskArn || !task.taskDefinitionArn)
    return 'Its output could not be located: the task is not known.';
  let stream: TaskLogStream | undefined;
  try {
    const described = await deps.ecs.send(
      new DescribeTaskDefinitionCommand({ taskDefinition: task.taskDefinitionArn }),
    );
    const definition = described.taskDefinition?.containerDefinitions?.find((c) => c.name === container);
    stream = definition ? taskLogStream(definition, task.taskArn) : undefined;
    if (!stream)
      return `Its output is not in CloudWatch Logs where lockstep can find it: container "${container}" does not log with the awslogs driver and a stream prefix.`;
    const page = await deps.logs(stream.region).send(
      new GetLogEventsCommand({
        logGroupName: stream.logGroup,
        logStreamName: stream.logStream,
        startFromHead: false,
        limit: OUTPUT_LIMITS.lines,
      }),
    );
    const lines = [...(page.events ?? [])]
      .sort((a, b) => (a.timestamp ?? 0) - (b.timestamp ?? 0))
      // Tools colour their output when they think a terminal or a CI reads it (picocolors does whenever `CI` is
      // set): in an email or a chat message those are escape codes around every word, so they go.
      .map((e) => stripVTControlCharacters(e.message ?? '').replace(/\r?\n$/, ''));
    const where = `CloudWatch Logs ${stream.logGroup}, stream ${stream.logStream}`;
    if (lines.length === 0) return `Its output (${where}) has no lines.`;
    const { text, cut } = lastWithin(lines, OUTPUT_LIMITS.maxChars);
    return `Last ${lines.length - cut} lines of its output (${where})${cut > 0 ? `, ${cut} more cut for length` : ''}:\n${text}`;
  } catch (err) {
    const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    deps.log.warn('could not read the task’s output', { error: why, ...stream });
    return `Its output could not be read (${why})${stream ? `: see CloudWatch Logs ${stream.logGroup}, stream ${stream.logStream}` : ''}.`;
  }
}

/** The last lines that fit in `maxChars` (a single longer line keeps its end), joined; how many were left out. */
function lastWithin(lines: readonly string[], maxChars: number): { text: string; cut: number } {
  const kept: string[] = [];
  let size = 0;
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] ?? '';
    if (size + line.length + 1 > maxChars) {
      if (kept.length === 0) kept.unshift(`…${line.slice(-(maxChars - 1))}`);
      break;
    }
    kept.unshift(line);
    size += line.length + 1;
  }
  return { text: kept.map((l) => `  | ${l}`).join('\n'), cut: lines.length - kept.length };
}
