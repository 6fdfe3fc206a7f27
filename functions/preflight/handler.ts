/** Lambda entry for the preflight step: built once per container from the environment (./setup.ts). */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { AWS_CLIENT_OPTIONS } from '../shared/aws-clients.ts';
import { preflightHandler } from './setup.ts';

export const handler = preflightHandler(process.env, {
  sfn: new SFNClient(AWS_CLIENT_OPTIONS),
  s3: new S3Client(AWS_CLIENT_OPTIONS),
  dynamodb: new DynamoDBClient(AWS_CLIENT_OPTIONS),
});
