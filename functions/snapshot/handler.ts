/** Lambda entry for the snapshot step: built once per container from the environment (./setup.ts). */
import { RDSClient } from '@aws-sdk/client-rds';
import { AWS_CLIENT_OPTIONS } from '../shared/aws-clients.ts';
import { snapshotHandler } from './setup.ts';

export const handler = snapshotHandler(process.env, { rds: new RDSClient(AWS_CLIENT_OPTIONS) });
