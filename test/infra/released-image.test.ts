/**
 * Item: a later `cdk deploy` must not roll the app back. The deploy step records each released image in the SSM
 * parameter the stack's task definition reads; these tests run that step against mocked ECS and SSM, then
 * synthesize the stack and resolve its container image the way CloudFormation does at the next stack operation.
 */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { beforeEach, describe, test } from 'node:test';
import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { App, type Stack } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { createDeployHandler } from '../../functions/deploy/deploy.ts';
import { createLogger } from '../../functions/shared/logger.ts';
import { createApp } from '../../infra/app.ts';
import { ReleaseFlow, type ReleaseFlowProps } from '../../infra/constructs/release-flow.ts';
import { INITIAL_APP_IMAGE } from '../../infra/release-image-stack.ts';
import { buildFlowStack } from '../support/flow-stack.ts';

const _repoRoot = resolve(import.meta.dirname, '..', '..');
type Resource = { Type: string; Properties: Record<string, unknown> };
type CfnTemplate = {
  Resources: Record<string, Resource>;
  Parameters: Record<string, { Type: string; Default?: string }>;
};

/** The example app as `cdk synth` builds it (both stacks, cdk-nag included), bundling skipped. */
function synthesizeExample() {
  const { app, stack, imageStack } = createApp(new App({ context: { 'aws:cdk:bundling-stacks': [] } }));
  const assembly = app.synth();
  const template = (s: Stack) => assembly.getStackArtifact(s.artifactId).template as CfnTemplate;
  return {
    app: template(stack),
    image: template(imageStack),
    dependencies: assembly.getStackArtifact(stack.artifactId).dependencies.map((d) => d.id),
    imageStackId: imageStack.artifactId,
  };
}

const onlyOf = (template: CfnTemplate, type: string): Resource => {
  const found = Object.values(template.Resources).filter((r) => r.Type === type);
  assert.equal(found.length, 1, type);
  return found[0] as Resource;
};

/**
 * The app container's image as CloudFormation resolves it at a stack operation: a Ref to a stack parameter of type
 * AWS::SSM::Parameter::Value<String> is the parameter store's current value of the name in its Default.
 */
function imageAtNextStackOperation(
  template: CfnTemplate,
  parameterStore: ReadonlyMap<string, string>,
): string {
  const container = (
    onlyOf(template, 'AWS::ECS::TaskDefinition').Properties.ContainerDefinitions as {
      Name: string;
      Image: unknown;
    }[]
  ).find((c) => c.Name === 'app');
  assert.ok(container);
  const ref = (container.Image as { Ref?: string }).Ref;
  assert.ok(
    ref,
    `the image is read from a stack parameter, not written into the template: ${JSON.stringify(container.Image)}`,
  );
  const parameter = template.Parameters[ref];
  assert.equal(parameter?.Type, 'AWS::SSM::Parameter::Value<String>');
  const value = parameterStore.get(parameter.Default as string);
  assert.ok(value !== undefined, `Parameter Store has ${parameter.Default}`);
  return value;
}

/** The deploy function's environment as the template sets it. */
function deployEnvironment(template: CfnTemplate): Record<string, unknown> {
  const deploy = Object.entries(template.Resources).find(
    ([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith('ReleaseDeploy'),
  )?.[1];
  assert.ok(deploy);
  return (deploy.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
}

describe('the example stack and lockstep agree on the app image', () => {
  const ecsMock = mockClient(ECSClient);
  const ssmMock = mockClient(SSMClient);
  const example = synthesizeExample();
  /** Parameter Store as CloudFormation creates it: the image stack's parameter with its template value. */
  const parameterStoreAfterFirstDeploy = () => {
    const parameter = onlyOf(example.image, 'AWS::SSM::Parameter').Properties;
    return new Map([[parameter.Name as string, parameter.Value as string]]);
  };

  beforeEach(() => {
    ecsMock.reset();
    ssmMock.reset();
  });

  test('the first deploy runs a public image, not one of the repository the app stack creates empty', () => {
    const image = imageAtNextStackOperation(example.app, parameterStoreAfterFirstDeploy());

    assert.equal(image, INITIAL_APP_IMAGE);
    assert.match(image, /^public\.ecr\.aws\//);
    assert.doesNotMatch(image, /\.dkr\.ecr\./);
    // The parameter exists before the app stack's change set is made: `cdk deploy --all` creates its stack first.
    assert.ok(example.dependencies.includes(example.imageStackId), example.dependencies.join(', '));
  });

  test('a synth after a release keeps the released image', async () => {
    // prepare: the state machine's last deploy call, to the function configured as the template configures it
    const parameterStore = parameterStoreAfterFirstDeploy();
    ssmMock.on(PutParameterCommand).callsFake((input: { Name: string; Value: string }) => {
      parameterStore.set(input.Name, input.Value);
      return { Version: 2 };
    });
    const taskDefinition = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/app:7';
    ecsMock.on(DescribeServicesCommand).resolves({
      services: [
        {
          status: 'ACTIVE',
          taskDefinition,
          deployments: [{ id: 'ecs-svc/7', status: 'PRIMARY', taskDefinition, rolloutState: 'COMPLETED' }],
        },
      ],
    });
    const env = deployEnvironment(example.app);
    assert.equal(typeof env.IMAGE_PARAMETER, 'string');
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    const logger = createLogger('test');
    const deploy = createDeployHandler(
      {
        ecs: new ECSClient({}),
        ssm: new SSMClient({}),
        log: logger,
        now: () => new Date(),
        config: {
          cluster: 'cluster',
          service: 'app',
          containerName: String(env.CONTAINER_NAME),
          deployTimeoutSeconds: 1800,
          imageParameter: env.IMAGE_PARAMETER as string,
        },
      },
      logger,
    );
    const released = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:${'cd34'.repeat(16)}`;

    // act: the rollout completes; then the stack is synthesized again, as a later `cdk deploy` does
    await deploy({
      action: 'status',
      executionId: 'arn:aws:states:eu-west-1:123456789012:execution:release:v1-5-0',
      release: {
        release: 'v1.5.0',
        image: released,
        migrations: 'bundled',
        options: { skipSnapshot: false, dryRun: false },
      },
      deployment: { taskDefinitionArn: taskDefinition, deploymentId: 'ecs-svc/7' },
    });
    const later = synthesizeExample();

    // assess: the template is unchanged by the release, and resolves to the released image
    assert.deepEqual(later.app, example.app);
    assert.equal(imageAtNextStackOperation(later.app, parameterStore), released);
    assert.equal(parameterStore.size, 1, 'the release wrote the parameter the stack reads, and no other');
  });

  test('the task execution role may pull from the app repository (the releases’ images)', () => {
    const statements = Object.values(example.app.Resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((p) => (p.Properties.PolicyDocument as { Statement: { Action: unknown }[] }).Statement);
    const actions = statements.flatMap((s) => [s.Action].flat());
    for (const action of ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:GetAuthorizationToken'])
      assert.ok(actions.includes(action), action);
  });
});

// ---------------------------------------------------------------------------------------------------------
// ReleaseFlow with imageParameter, in a stack of one's own

const buildFlow = (options: {
  readonly image: (stack: Stack) => ecs.ContainerImage;
  readonly props?: (stack: Stack) => Partial<ReleaseFlowProps>;
}) => buildFlowStack({ image: options.image, ...(options.props ? { props: options.props } : {}) });

const parameter = (stack: Stack, name = '/shop/api/image') =>
  ssm.StringParameter.fromStringParameterName(stack, 'ImageParameter', name);

describe('ReleaseFlow imageParameter', () => {
  test('grants ssm:PutParameter on that parameter alone and tells the deploy function its name', () => {
    const { template } = buildFlow({
      image: (s) => ReleaseFlow.imageFromParameter(s, '/shop/api/image'),
      props: (s) => ({ imageParameter: parameter(s) }),
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ IMAGE_PARAMETER: '/shop/api/image' }) },
    });
    const grants = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) =>
      (p.Properties.PolicyDocument.Statement as { Action: unknown; Resource: unknown }[]).filter((s) =>
        [s.Action].flat().some((a) => String(a).startsWith('ssm:')),
      ),
    );
    assert.equal(grants.length, 1);
    assert.equal(grants[0]?.Action, 'ssm:PutParameter');
    assert.match(JSON.stringify(grants[0]?.Resource), /:parameter\/shop\/api\/image"/);
  });

  test('without it, nothing is recorded: no variable, no grant, no warning', () => {
    const { template, stack } = buildFlow({ image: () => ecs.ContainerImage.fromRegistry('example/app:v1') });
    assert.doesNotMatch(JSON.stringify(template.toJSON()), /IMAGE_PARAMETER|ssm:PutParameter/);
    assert.deepEqual(
      Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('imageParameter')),
      [],
    );
  });

  test('warns when the container does not read its image from the parameter', () => {
    const { stack } = buildFlow({
      image: () => ecs.ContainerImage.fromRegistry('example/app:v1'),
      props: (s) => ({ imageParameter: parameter(s) }),
    });
    const warnings = Annotations.fromStack(stack).findWarning(
      '/Test/Release',
      Match.stringLikeRegexp('does not read its image from imageParameter /shop/api/image'),
    );
    assert.equal(warnings.length, 1);
  });

  test('another parameter than the one the image reads is warned about too', () => {
    const { stack } = buildFlow({
      image: (s) => ReleaseFlow.imageFromParameter(s, '/shop/api/other'),
      props: (s) => ({ imageParameter: parameter(s) }),
    });
    assert.equal(
      Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('does not read its image')).length,
      1,
    );
  });

  test('a name PutParameter would refuse fails at synth, naming the prop', () => {
    assert.throws(
      () =>
        buildFlow({
          image: () => ecs.ContainerImage.fromRegistry('example/app:v1'),
          props: (s) => ({ imageParameter: parameter(s, '/aws/reserved') }),
        }),
      /imageParameter must be an SSM parameter name/,
    );
    assert.throws(
      () =>
        buildFlow({ image: (s) => ReleaseFlow.imageFromParameter(s, 'arn:aws:ssm:eu-west-1:1:parameter/x') }),
      /parameterName must be a literal SSM parameter name/,
    );
  });

  test('imageFromParameter grants pulls from the repository it is given', () => {
    const { template } = buildFlow({
      image: (s) =>
        ReleaseFlow.imageFromParameter(
          s,
          '/shop/api/image',
          ecr.Repository.fromRepositoryName(s, 'Repo', 'api'),
        ),
    });
    assert.match(JSON.stringify(template.toJSON()), /ecr:BatchGetImage/);
  });
});
