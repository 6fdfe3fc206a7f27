/**
 * Lambda entry for the step after the migration task: the verdict on the finished task, and StopTask for one that
 * ran past its timeout. Built once per container from the environment (./setup.ts).
 */
import { ECSClient } from '@aws-sdk/client-ecs';
import { AWS_CLIENT_OPTIONS } from '../shared/aws-clients.ts';
import { migrationTaskHandler } from './setup.ts';

export const handler = migrationTaskHandler(process.env, { ecs: new ECSClient(AWS_CLIENT_OPTIONS) });
