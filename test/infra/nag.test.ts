import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { createApp } from '../../infra/app.ts';

/** The app as `cdk synth` builds it (AwsSolutions checks included), with bundling skipped. */
const exampleApp = (context: Record<string, string> = {}) =>
  createApp(new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } }));

/** Every acknowledgement recorded in the tree: where, which rule, and why. */
function acknowledgements(root: IConstruct): { path: string; id: string; reason: string }[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id,
          reason,
        })),
      ),
  );
}

describe('cdk-nag AwsSolutions', () => {
  const variants: [string, Record<string, string>][] = [
    ['bundled migrations', { migrationsSource: 'bundled' }],
    ['S3 migrations', { migrationsSource: 's3' }],
    ['the example pipeline', { withPipeline: 'true' }],
    ['S3 migrations and the example pipeline', { migrationsSource: 's3', withPipeline: 'true' }],
    ['a migration command (command mode)', { migrationCommand: 'python manage.py migrate' }],
    [
      'a migration command and a pending check',
      {
        migrationCommand: 'python manage.py migrate',
        pendingCheckCommand: 'python manage.py migrate --check',
      },
    ],
    ['the approval gate', { approval: 'true' }],
    [
      'a migration command and the approval gate',
      { migrationCommand: 'python manage.py migrate', approval: 'true' },
    ],
  ];
  for (const [what, context] of variants) {
    test(`the example stack with ${what} has no unacknowledged finding`, () => {
      const { app } = exampleApp(context);
      // A finding fails synthesis with the validation report as the error.
      assert.doesNotThrow(() => app.synth());
    });
  }

  test('a role granted the approval decision has no unacknowledged finding', () => {
    const { app, stack } = exampleApp({ approval: 'true' });
    const approvers = new iam.Role(stack, 'Approvers', { assumedBy: new iam.AccountRootPrincipal() });
    stack.releaseFlow.grantDecide(approvers);
    assert.doesNotThrow(() => app.synth());
  });

  test('context approval is true or false', () => {
    assert.throws(() => exampleApp({ approval: 'yes' }), /context approval must be "true" or "false"/);
  });

  test('context migrationCommand is split into words, and excludes migrationsSource', () => {
    assert.throws(
      () => exampleApp({ migrationCommand: 'migrate', migrationsSource: 's3' }),
      /context migrationCommand and migrationsSource exclude each other/,
    );
    assert.throws(() => exampleApp({ migrationCommand: 'migrate | tee log' }), /context migrationCommand:/);
    const { stack } = exampleApp({ migrationCommand: `python manage.py migrate --database 'main db'` });
    assert.deepEqual(stack.releaseFlow.migrations.command?.command, [
      'python',
      'manage.py',
      'migrate',
      '--database',
      'main db',
    ]);
  });

  test('context pendingCheckCommand is split into words, and needs migrationCommand', () => {
    assert.throws(
      () => exampleApp({ pendingCheckCommand: 'python manage.py migrate --check' }),
      /context pendingCheckCommand needs migrationCommand/,
    );
    assert.throws(
      () => exampleApp({ migrationCommand: 'migrate', pendingCheckCommand: 'status; true' }),
      /context pendingCheckCommand:/,
    );
    const { stack } = exampleApp({
      migrationCommand: 'npx prisma migrate deploy',
      pendingCheckCommand: 'npx prisma migrate status',
    });
    assert.deepEqual(stack.releaseFlow.migrations.command?.pendingCheck, [
      'npx',
      'prisma',
      'migrate',
      'status',
    ]);
  });

  test('the check is live: a topic that takes publishes without TLS fails synthesis with AwsSolutions-SNS3', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'lockstep-nag-'));
    try {
      const app = new App({ outdir });
      new sns.Topic(new Stack(app, 'Throwaway'), 'Plain');
      Validations.of(app).addPlugins(new AwsSolutionsChecks(app));

      assert.throws(() => app.synth(), /Validation failed/);
      const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
        pluginReports: {
          violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[];
        }[];
      };
      const violations = report.pluginReports.flatMap((r) => r.violations);
      const sns3 = violations.find((v) => v.ruleName === 'AwsSolutions-SNS3');
      assert.deepEqual(
        sns3?.violatingConstructs.map((r) => r.constructPath),
        ['Throwaway/Plain/Resource'],
      );
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  });

  test('every acknowledgement names one finding on one construct below the stack, with a reason', () => {
    const { app, stack } = exampleApp({ migrationsSource: 's3', withPipeline: 'true' });
    const acks = acknowledgements(app);
    assert.ok(acks.length > 0);
    for (const ack of acks.filter((a) => a.id.includes('AwsSolutions-'))) {
      assert.notEqual(ack.path, stack.node.path, `${ack.id} is acknowledged on the whole stack`);
      // Wildcard findings are acknowledged one by one, never the whole rule.
      assert.doesNotMatch(ack.id, /AwsSolutions-IAM5$/, `${ack.path}: ${ack.id} must name the finding`);
      assert.doesNotMatch(
        ack.id,
        /AwsSolutions-IAM4/,
        `${ack.path}: managed policies are replaced, not acknowledged`,
      );
      assert.ok(
        ack.reason.length >= 40,
        `${ack.path}: ${ack.id} needs a specific reason, got "${ack.reason}"`,
      );
    }
  });
});
