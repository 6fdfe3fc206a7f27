/**
 * Lambda entry for the steps after the migration task and the pending check: the verdict on the finished task (with
 * the last lines of its output for a failure), and StopTask for one that ran past its timeout. Built once per
 * container from the environment (./setup.ts).
 */
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { ECSClient } from '@aws-sdk/client-ecs';
import { AWS_CLIENT_OPTIONS } from '../shared/aws-clients.ts';
import { migrationTaskHandler } from './setup.ts';

const logsClients = new Map<string, CloudWatchLogsClient>();
/** One client per region, created when first needed: `awslogs-region` may name another region than the function's. */
const logs = (region: string | undefined) => {
  const key = region ?? '';
  const client =
    logsClients.get(key) ??
    new CloudWatchLogsClient({ ...AWS_CLIENT_OPTIONS, ...(region ? { region } : {}) });
  logsClients.set(key, client);
  return client;
};

export const handler = migrationTaskHandler(process.env, { ecs: new ECSClient(AWS_CLIENT_OPTIONS), logs });
