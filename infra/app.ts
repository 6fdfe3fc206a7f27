/**
 * The CDK app (`npx cdk synth`): the example stack, with cdk-nag's AwsSolutions checks run on every synth — an
 * unacknowledged finding fails the synth. Works offline, with no AWS account: no lookups, an environment-agnostic
 * stack. Context: `migrationsSource` (`bundled` | `s3`), `withPipeline` (`true` adds the example pipeline),
 * `alertEmails` (comma-separated), `stackName`.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ReleaseStack } from './release-stack.ts';

export function createApp(app = new App()): { app: App; stack: ReleaseStack } {
  const source = app.node.tryGetContext('migrationsSource') ?? 'bundled';
  if (source !== 'bundled' && source !== 's3')
    throw new Error(`context migrationsSource must be "bundled" or "s3", got "${source}"`);
  const emails = String(app.node.tryGetContext('alertEmails') ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  const withPipeline = String(app.node.tryGetContext('withPipeline') ?? 'false');
  if (withPipeline !== 'true' && withPipeline !== 'false')
    throw new Error(`context withPipeline must be "true" or "false", got "${withPipeline}"`);
  const stack = new ReleaseStack(app, app.node.tryGetContext('stackName') ?? 'LockstepRelease', {
    migrationsSource: source,
    withPipeline: withPipeline === 'true',
    repoRoot: resolve(dirname(fileURLToPath(import.meta.url)), '..'),
    alertEmails: emails,
    description: 'lockstep: snapshot, migrate, then deploy — or halt and alert',
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  createApp().app.synth();
}
