/**
 * Step Functions' task tokens (the callback pattern, `.waitForTaskToken`) for local runs: a token is issued when a
 * Task state's parameters read `$$.Task.Token`, the state waits on it ({@link LocalTaskTokens.wait}), and
 * SendTaskSuccess / SendTaskFailure through {@link LocalTaskTokens.client} end the wait, as `lockstep approve` and
 * `lockstep reject` do on AWS. Errors are the service's: an unknown token is InvalidToken; one whose task already
 * ended (decided, timed out, or its execution over) is TaskTimedOut (API Reference, SendTaskSuccess: "TaskTimedOut:
 * The task token has either expired or the task associated with the token has already been closed").
 */
import { randomBytes } from 'node:crypto';
import {
  InvalidToken,
  SendTaskFailureCommand,
  type SendTaskFailureCommandInput,
  SendTaskSuccessCommand,
  type SendTaskSuccessCommandInput,
  SFNClient,
  TaskTimedOut,
} from '@aws-sdk/client-sfn';
import '../promise-with-resolvers.ts';
import { LOCAL_CLIENT_CONFIG, notImplemented } from './account.ts';

interface Task {
  open: boolean;
  waiting?: { resolve: (output: unknown) => void; reject: (err: Error) => void };
}

export class LocalTaskTokens {
  private readonly tasks = new Map<string, Task>();
  private waiters: Array<(token: string) => void> = [];

  /** A new token, as Step Functions makes one when a state reads `$$.Task.Token`. */
  issue(): string {
    const token = randomBytes(48).toString('base64');
    this.tasks.set(token, { open: true });
    return token;
  }

  /** The first token issued here that `params` carries (a Task state's resolved parameters). */
  tokenIn(params: unknown): string | undefined {
    const text = JSON.stringify(params);
    return [...this.tasks.keys()].find((token) => text.includes(JSON.stringify(token)));
  }

  /** Until SendTaskSuccess (its output, parsed) or SendTaskFailure (an error named as it says) on `token`. */
  wait(token: string): Promise<unknown> {
    const task = this.tasks.get(token);
    if (!task?.open) throw new Error(`no open task for the token ${token.slice(0, 8)}…`);
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    task.waiting = { resolve, reject };
    return promise;
  }

  /** The task of `token` has handed its token on and waits: {@link nextWait} resolves. */
  announce(token: string): void {
    for (const notify of this.waiters.splice(0)) notify(token);
  }

  /** Resolves with the token of the next task that has handed its token on and waits for a decision. */
  nextWait(): Promise<string> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Closes every task: its execution ended, or its state timed out. A decision sent later is TaskTimedOut. */
  closeAll(): void {
    for (const task of this.tasks.values()) task.open = false;
  }

  sendTaskSuccess(input: SendTaskSuccessCommandInput): Record<string, never> {
    const task = this.open(input.taskToken);
    let output: unknown;
    try {
      output = JSON.parse(input.output ?? '');
    } catch {
      throw Object.assign(new Error('Invalid Output: not JSON'), { name: 'InvalidOutput' });
    }
    task.open = false;
    task.waiting?.resolve(output);
    return {};
  }

  sendTaskFailure(input: SendTaskFailureCommandInput): Record<string, never> {
    const task = this.open(input.taskToken);
    task.open = false;
    task.waiting?.reject(Object.assign(new Error(input.cause ?? ''), { name: input.error ?? '' }));
    return {};
  }

  client(): SFNClient {
    return new LocalTaskTokensClient(this);
  }

  private open(token: string | undefined): Task {
    const task = token === undefined ? undefined : this.tasks.get(token);
    if (!task) throw new InvalidToken({ message: 'Invalid token', $metadata: {} });
    if (!task.open)
      throw new TaskTimedOut({
        message: 'Task Timed Out: the task token has either expired or the task has already been closed',
        $metadata: {},
      });
    return task;
  }
}

class LocalTaskTokensClient extends SFNClient {
  constructor(private readonly tokens: LocalTaskTokens) {
    super(LOCAL_CLIENT_CONFIG);
  }

  override send = (async (command: unknown) => {
    const meta = { $metadata: {} };
    if (command instanceof SendTaskSuccessCommand)
      return { ...this.tokens.sendTaskSuccess(command.input), ...meta };
    if (command instanceof SendTaskFailureCommand)
      return { ...this.tokens.sendTaskFailure(command.input), ...meta };
    throw notImplemented('Step Functions', command);
  }) as SFNClient['send'];
}
