/** The AWS clients `approve` and `reject` use, in the execution's region, destroyed when the decision is sent. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { STSClient } from '@aws-sdk/client-sts';
import { type DecisionDeps, type DecisionRequest, regionOf } from '../approval.ts';

export interface DecisionClients {
  /** The clients for `region` (tests pass mocked ones). */
  readonly clients: (region: string) => Omit<DecisionDeps, 'now'>;
  readonly env: NodeJS.ProcessEnv;
  readonly now: () => Date;
}

export async function decisionDeps<T>(
  deps: DecisionClients,
  request: DecisionRequest,
  work: (clients: DecisionDeps) => Promise<T>,
): Promise<T> {
  const clients = deps.clients(regionOf(request.executionArn));
  try {
    return await work({ ...clients, now: deps.now });
  } finally {
    clients.sfn.destroy();
    clients.sts.destroy();
    clients.dynamodb.destroy();
  }
}

/** The AWS clients, with the environment's credentials, in the execution's region. */
export const awsDecisionClients = (region: string): Omit<DecisionDeps, 'now'> => ({
  sfn: new SFNClient({ region }),
  sts: new STSClient({ region }),
  dynamodb: new DynamoDBClient({ region }),
});
