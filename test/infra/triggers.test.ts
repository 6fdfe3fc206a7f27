import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as codepipelineActions from 'aws-cdk-lib/aws-codepipeline-actions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';
import { parseReleaseInput } from '../../functions/shared/release-input.ts';
import { ReleaseStack } from '../../infra/release-stack.ts';

const repoRoot = resolve(import.meta.dirname, '..', '..');
const logicalId = (construct: IConstruct) =>
  Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);

function exampleStack(props: { migrationsSource?: 'bundled' | 's3'; withPipeline?: boolean } = {}) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new ReleaseStack(app, 'Example', { repoRoot, ...props });
  return { app, stack };
}

/**
 * The "Event for a completed image push" sample from the Amazon ECR user guide (ecr-eventbridge.html), with a
 * version tag instead of the sample's `latest` (which never releases) and a full 64-digit digest (the sample's
 * is shortened to 60).
 */
const pushEvent = {
  version: '0',
  id: '13cde686-328b-6117-af20-0e5566167482',
  'detail-type': 'ECR Image Action',
  source: 'aws.ecr',
  account: '123456789012',
  time: '2019-11-16T01:54:34Z',
  region: 'us-west-2',
  resources: [],
  detail: {
    result: 'SUCCESS',
    'repository-name': 'my-repository-name',
    'image-digest': 'sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd12345678',
    'action-type': 'PUSH',
    'image-tag': 'v1.4.0',
  },
};

/** What EventBridge does with an input transformer: each `<key>` becomes the JSON value at its path. */
function transform(
  transformer: { InputPathsMap: Record<string, string>; InputTemplate: string },
  event: unknown,
) {
  const valueAt = (path: string) =>
    path
      .replace(/^\$\./, '')
      .split('.')
      .reduce<unknown>((value, key) => (value as Record<string, unknown>)?.[key], event);
  return transformer.InputTemplate.replace(/<([A-Za-z0-9_-]+)>/g, (_, key: string) => {
    const path = transformer.InputPathsMap[key];
    assert.ok(path, `the template's <${key}> has a path`);
    return JSON.stringify(valueAt(path));
  });
}

function imagePushRule(stack: Stack) {
  const rules = Object.values(Template.fromStack(stack).findResources('AWS::Events::Rule')).filter(
    (r) => r.Properties.EventPattern?.source?.[0] === 'aws.ecr',
  );
  assert.equal(rules.length, 1);
  return rules[0]?.Properties;
}

describe('image push rule', () => {
  test('matches successful pushes of a v* or release-* tag to the app repository, never latest', () => {
    const { stack } = exampleStack();
    assert.deepEqual(imagePushRule(stack).EventPattern, {
      source: ['aws.ecr'],
      'detail-type': ['ECR Image Action'],
      detail: {
        'action-type': ['PUSH'],
        result: ['SUCCESS'],
        'repository-name': [{ Ref: logicalId(stack.repository) }],
        'image-tag': [{ prefix: 'v' }, { prefix: 'release-' }],
      },
    });
  });

  test('without tag prefixes, any tag but latest releases', () => {
    const { stack } = exampleStack();
    const repository = new ecr.Repository(stack, 'Other');
    stack.releaseFlow.onImagePush(repository);
    const rule = Object.values(Template.fromStack(stack).findResources('AWS::Events::Rule')).find(
      (r) => r.Properties.EventPattern?.detail?.['repository-name']?.[0]?.Ref === logicalId(repository),
    );
    assert.deepEqual(rule?.Properties.EventPattern.detail['image-tag'], [{ 'anything-but': ['latest'] }]);
  });

  test('a tag prefix that would match latest is rejected at synth', () => {
    const { stack } = exampleStack();
    const repository = ecr.Repository.fromRepositoryName(stack, 'Imported', 'app');
    for (const prefix of ['l', 'lat', '']) {
      assert.throws(
        () => stack.releaseFlow.onImagePush(repository, { tagPrefixes: [prefix] }),
        /tagPrefixes/,
      );
    }
    assert.throws(() => stack.releaseFlow.onImagePush(repository, { tagPrefixes: [] }), /tagPrefixes/);
  });

  test('turns a push event into a release input that preflight accepts: the image by digest, named by its tag', () => {
    for (const migrationsSource of ['bundled', 's3'] as const) {
      const { stack } = exampleStack({ migrationsSource });
      const [target] = imagePushRule(stack).Targets;
      const input = JSON.parse(transform(target.InputTransformer, pushEvent));

      assert.deepEqual(input, {
        ecr: {
          registry: '123456789012',
          region: 'us-west-2',
          repository: 'my-repository-name',
          digest: pushEvent.detail['image-digest'],
          tag: 'v1.4.0',
        },
        migrations: migrationsSource,
      });
      assert.deepEqual(parseReleaseInput(input, { migrations: 'bundled' }), {
        release: 'v1.4.0',
        image: `123456789012.dkr.ecr.us-west-2.amazonaws.com/my-repository-name@${pushEvent.detail['image-digest']}`,
        migrations: migrationsSource,
        options: { skipSnapshot: false, dryRun: false },
      });
    }
  });

  test('starts this state machine with a role that may do nothing else', () => {
    const { stack } = exampleStack();
    const template = Template.fromStack(stack);
    const [target] = imagePushRule(stack).Targets;
    const machine = logicalId(stack.releaseFlow.stateMachine);
    assert.deepEqual(target.Arn, { Ref: machine });
    const roleId = target.RoleArn['Fn::GetAtt'][0];
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
      p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId),
    );
    assert.deepEqual(
      policies.flatMap((p) => p.Properties.PolicyDocument.Statement),
      [{ Action: 'states:StartExecution', Effect: 'Allow', Resource: { Ref: machine } }],
    );
    const role = template.findResources('AWS::IAM::Role')[roleId];
    assert.deepEqual(role?.Properties.AssumeRolePolicyDocument.Statement[0].Principal, {
      Service: 'events.amazonaws.com',
    });
  });
});

describe('pipeline action', () => {
  test('the example pipeline’s Release stage runs the state machine on release.json from the source', () => {
    const { stack } = exampleStack({ withPipeline: true });
    const pipeline = Object.values(Template.fromStack(stack).findResources('AWS::CodePipeline::Pipeline'))[0];
    const stages = pipeline?.Properties.Stages as { Name: string; Actions: Record<string, unknown>[] }[];
    assert.deepEqual(
      stages.map((s) => s.Name),
      ['Source', 'Release'],
    );
    const [action] = stages[1]?.Actions ?? [];
    assert.deepEqual(action?.ActionTypeId, {
      Category: 'Invoke',
      Owner: 'AWS',
      Provider: 'StepFunctions',
      Version: '1',
    });
    assert.deepEqual(action?.Configuration, {
      StateMachineArn: { Ref: logicalId(stack.releaseFlow.stateMachine) },
      Input: 'release.json',
      InputType: 'FilePath',
    });
    assert.deepEqual(action?.InputArtifacts, [{ Name: 'ReleaseInput' }]);
  });

  test('a literal input is passed as the execution input', () => {
    const { stack } = exampleStack();
    const source = new s3.Bucket(stack, 'Source', { versioned: true });
    const output = new codepipeline.Artifact('Out');
    const literal = {
      image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:v2.0.0',
      options: { dryRun: true },
    };
    new codepipeline.Pipeline(stack, 'Literal', {
      stages: [
        {
          stageName: 'Source',
          actions: [
            new codepipelineActions.S3SourceAction({
              actionName: 'S',
              bucket: source,
              bucketKey: 'x.zip',
              output,
            }),
          ],
        },
        {
          stageName: 'Release',
          actions: [stack.releaseFlow.pipelineAction({ actionName: 'Release', input: { literal } })],
        },
      ],
    });
    const pipelines = Template.fromStack(stack).findResources('AWS::CodePipeline::Pipeline');
    const stages = pipelines[logicalId(stack.node.findChild('Literal'))]?.Properties.Stages;
    const configuration = stages[1].Actions[0].Configuration;
    assert.equal(configuration.InputType, 'Literal');
    assert.deepEqual(JSON.parse(configuration.Input), literal);
    assert.deepEqual(configuration.StateMachineArn, { Ref: logicalId(stack.releaseFlow.stateMachine) });
  });
});

describe('image push delivery', () => {
  test('a start EventBridge cannot deliver is retried for an hour, then dead-lettered, and the dead letter alarms', () => {
    const { stack } = exampleStack();
    const template = Template.fromStack(stack);
    const rules = Object.values(template.findResources('AWS::Events::Rule')).filter(
      (r) => r.Properties.EventPattern?.source?.[0] === 'aws.ecr',
    );
    const target = rules[0]?.Properties.Targets[0];
    assert.deepEqual(target.RetryPolicy, { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 10 });
    const queueId = target.DeadLetterConfig.Arn['Fn::GetAtt'][0];
    const queue = template.findResources('AWS::SQS::Queue')[queueId];
    assert.equal(queue?.Properties.SqsManagedSseEnabled, true);
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter(
      (a) => a.Properties.Dimensions?.[0]?.Value?.['Fn::GetAtt']?.[0] === queueId,
    );
    assert.equal(alarms.length, 1, 'an alarm on the dead-letter queue');
    assert.deepEqual(alarms[0]?.Properties.AlarmActions, [{ Ref: logicalId(stack.releaseFlow.alertTopic) }]);
  });
});
