/**
 * CloudWatch Logs for the rehearsal and the state-machine tests: log streams as lists of lines, read with
 * GetLogEvents as the migration-task function reads a failed command's output (the last `limit` events when
 * `startFromHead` is false). A stream nobody wrote is ResourceNotFoundException, as on AWS.
 */
import {
  CloudWatchLogsClient,
  GetLogEventsCommand,
  type GetLogEventsCommandInput,
} from '@aws-sdk/client-cloudwatch-logs';
import { LOCAL_CLIENT_CONFIG, notImplemented } from './account.ts';

export class LocalLogs {
  private readonly streams = new Map<string, string[]>();

  /** Appends lines to a stream, creating it. */
  write(group: string, stream: string, lines: readonly string[]): void {
    const key = `${group}\n${stream}`;
    this.streams.set(key, [...(this.streams.get(key) ?? []), ...lines]);
  }

  clear(): void {
    this.streams.clear();
  }

  getLogEvents(input: GetLogEventsCommandInput) {
    const lines = this.streams.get(`${input.logGroupName}\n${input.logStreamName}`);
    if (!lines)
      throw Object.assign(new Error('The specified log stream does not exist.'), {
        name: 'ResourceNotFoundException',
      });
    const limit = input.limit ?? 10_000;
    const page = input.startFromHead ? lines.slice(0, limit) : lines.slice(-limit);
    const start = Date.now() - page.length;
    return {
      events: page.map((message, i) => ({ timestamp: start + i, message, ingestionTime: start + i })),
    };
  }

  /** A CloudWatchLogsClient whose commands read these streams. */
  client(): CloudWatchLogsClient {
    return new LocalLogsClient(this);
  }
}

class LocalLogsClient extends CloudWatchLogsClient {
  constructor(private readonly logs: LocalLogs) {
    super(LOCAL_CLIENT_CONFIG);
  }

  override send = (async (command: unknown) => {
    if (command instanceof GetLogEventsCommand)
      return { ...this.logs.getLogEvents(command.input), $metadata: {} };
    throw notImplemented('CloudWatch Logs', command);
  }) as CloudWatchLogsClient['send'];
}
