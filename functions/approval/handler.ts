/** Lambda entry for the approval gate: built once per container from the environment (./setup.ts). */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { AWS_CLIENT_OPTIONS } from '../shared/aws-clients.ts';
import { approvalHandler } from './setup.ts';

export const handler = approvalHandler(process.env, {
  dynamodb: new DynamoDBClient(AWS_CLIENT_OPTIONS),
  sns: new SNSClient(AWS_CLIENT_OPTIONS),
});
