/** Lambda entry for the rollback's restore and switch steps: built once per container from the environment (./setup.ts). */
import { RDSClient } from '@aws-sdk/client-rds';
import { AWS_CLIENT_OPTIONS } from '../shared/aws-clients.ts';
import { restoreHandler } from './setup.ts';

export const handler = restoreHandler(process.env, { rds: new RDSClient(AWS_CLIENT_OPTIONS) });
