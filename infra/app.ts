/**
 * The CDK app (`npx cdk synth`): the example stack (and, deployed before it, the stack of its image parameter), with cdk-nag's AwsSolutions checks run on every synth — an
 * unacknowledged finding fails the synth. Works offline, with no AWS account: no lookups, an environment-agnostic
 * stack. Context: `migrationsSource` (`bundled` | `s3`), `migrationCommand` (command mode: the migration command, one
 * string split as infra/command-words.ts says, e.g. `-c migrationCommand="python manage.py migrate"`), `pendingCheckCommand` (with
 * it: the pending check, split the same way, e.g. `-c pendingCheckCommand="python manage.py migrate --check"`), `withPipeline` (`true` adds the example pipeline), `approval` (`true` adds the approval gate),
 * `alertEmails` (comma-separated), `stackName`.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { contextCommands } from './command-words.ts';
import { ReleaseImageStack } from './release-image-stack.ts';
import { approvalContext, defaultImageParameterName, ReleaseStack } from './release-stack.ts';

export function createApp(app = new App()): {
  app: App;
  stack: ReleaseStack;
  imageStack: ReleaseImageStack;
} {
  const source = app.node.tryGetContext('migrationsSource') ?? 'bundled';
  if (source !== 'bundled' && source !== 's3')
    throw new Error(`context migrationsSource must be "bundled" or "s3", got "${source}"`);
  const { migrationCommand, pendingCheckCommand } = contextCommands({
    migrationCommand: app.node.tryGetContext('migrationCommand'),
    pendingCheckCommand: app.node.tryGetContext('pendingCheckCommand'),
    migrationsSource: app.node.tryGetContext('migrationsSource'),
  });
  const emails = String(app.node.tryGetContext('alertEmails') ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  const withPipeline = String(app.node.tryGetContext('withPipeline') ?? 'false');
  if (withPipeline !== 'true' && withPipeline !== 'false')
    throw new Error(`context withPipeline must be "true" or "false", got "${withPipeline}"`);
  const stackName: string = app.node.tryGetContext('stackName') ?? 'LockstepRelease';
  // Created first (`cdk deploy --all` follows the dependency): the app stack reads its parameter at creation.
  const imageParameterName = defaultImageParameterName(stackName);
  const imageStack = new ReleaseImageStack(app, `${stackName}Image`, {
    parameterName: imageParameterName,
    description:
      'lockstep example: the app image parameter (created before the app stack, written by each release)',
  });
  const stack = new ReleaseStack(app, stackName, {
    imageParameterName,
    migrationsSource: source,
    ...(migrationCommand ? { migrationCommand } : {}),
    ...(pendingCheckCommand ? { pendingCheckCommand } : {}),
    withPipeline: withPipeline === 'true',
    approval: approvalContext(app.node.tryGetContext('approval')),
    repoRoot: resolve(dirname(fileURLToPath(import.meta.url)), '..'),
    alertEmails: emails,
    description: 'lockstep: snapshot, migrate, then deploy — or halt and alert',
  });
  stack.addStackDependency(imageStack, 'the app image parameter must exist before the app stack is created');
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, imageStack };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  createApp().app.synth();
}
