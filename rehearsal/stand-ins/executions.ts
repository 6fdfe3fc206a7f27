/**
 * Step Functions as preflight's release lock asks it (DescribeExecution: is the lock's owner still running?):
 * the rehearsal's own execution is RUNNING; any other is gone, as an execution from a killed rehearsal is.
 */
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandInput,
  ExecutionDoesNotExist,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { LOCAL_CLIENT_CONFIG, notImplemented } from './account.ts';

export class LocalExecutions {
  private readonly running = new Set<string>();

  start(executionArn: string): void {
    this.running.add(executionArn);
  }

  stop(executionArn: string): void {
    this.running.delete(executionArn);
  }

  describeExecution(input: DescribeExecutionCommandInput) {
    const arn = input.executionArn ?? '';
    if (!this.running.has(arn))
      throw new ExecutionDoesNotExist({ message: `Execution Does Not Exist: '${arn}'`, $metadata: {} });
    return { executionArn: arn, status: 'RUNNING' as const, startDate: new Date(), stateMachineArn: '' };
  }

  client(): SFNClient {
    return new LocalExecutionsClient(this);
  }
}

class LocalExecutionsClient extends SFNClient {
  constructor(private readonly executions: LocalExecutions) {
    super(LOCAL_CLIENT_CONFIG);
  }

  override send = (async (command: unknown) => {
    if (command instanceof DescribeExecutionCommand)
      return { ...this.executions.describeExecution(command.input), $metadata: {} };
    throw notImplemented('Step Functions', command);
  }) as SFNClient['send'];
}
