/**
 * The ways a release starts besides the console and the CLI: an image pushed to ECR (an EventBridge rule with an
 * input transformer) and a CodePipeline stage (a Step Functions invoke action). Both hand the state machine the
 * release input that preflight accepts (functions/shared/release-input.ts); ReleaseFlow exposes them as
 * `onImagePush` and `pipelineAction`.
 */
import { ArnFormat, Duration, Names, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as codepipeline from 'aws-cdk-lib/aws-codepipeline';
import * as codepipelineActions from 'aws-cdk-lib/aws-codepipeline-actions';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { IConstruct } from 'constructs';

/** What a trigger needs of a release flow (ReleaseFlow is one): the state machine to start, and where to alert. */
export interface IReleaseTarget extends IConstruct {
  readonly stateMachine: sfn.IStateMachine;
  /** The migrations source the state machine was built for. */
  readonly migrations: { readonly kind: 'bundled' | 's3' | 'command' };
  readonly alertTopic: sns.ITopic;
  /** Lets `alarm` publish to the alert topic. */
  allowAlarmToAlert(alarm: cloudwatch.IAlarm): void;
}

export interface ImagePushOptions {
  /**
   * Release only images pushed with a tag starting with one of these (`v` matches `v1.4.0`). A tag is always
   * required and `latest` never releases, so no prefix may be a prefix of `latest`.
   * @default - any tag but `latest`
   */
  readonly tagPrefixes?: readonly string[];
}

/** The release input a pipeline action passes. */
export type PipelineActionInput =
  /** A fixed input, as the state machine receives it: `{ release, image }` or `{ ecr: {...} }`, with `options`. */
  | { readonly literal: Record<string, unknown> }
  /** A JSON file in a pipeline artifact, written by an earlier stage. */
  | {
      readonly file: codepipeline.Artifact;
      /** The file's path inside the artifact. @default 'release.json' */
      readonly path?: string;
    };

export interface PipelineActionProps {
  /** The action's name in its stage. */
  readonly actionName: string;
  /** Where the release input comes from. */
  readonly input: PipelineActionInput;
  /** The action's order within the stage. @default 1 */
  readonly runOrder?: number;
}

/** The tag a release never comes from: a moving tag cannot say which image was released. */
const FORBIDDEN_TAG = 'latest';

/**
 * An EventBridge rule: a successful push of a tagged image to `repository` starts a release of that image, pinned
 * by digest and named by its tag. The target's role may only start this state machine.
 */
export function onImagePush(
  flow: IReleaseTarget,
  repository: ecr.IRepository,
  options: ImagePushOptions = {},
): events.Rule {
  const prefixes = options.tagPrefixes;
  if (prefixes !== undefined) {
    if (prefixes.length === 0)
      throw new Error('ReleaseFlow.onImagePush: tagPrefixes must name at least one prefix (or be left out)');
    for (const prefix of prefixes) {
      if (prefix === '' || FORBIDDEN_TAG.startsWith(prefix)) {
        throw new Error(
          `ReleaseFlow.onImagePush: tagPrefixes entry "${prefix}" would match "${FORBIDDEN_TAG}", which never releases`,
        );
      }
    }
  }
  // Matching a field requires it to be present, so either form also requires a tag (a push by digest alone has none).
  const imageTag = prefixes ? prefixes.map((prefix) => ({ prefix })) : [{ 'anything-but': [FORBIDDEN_TAG] }];

  const id = Names.nodeUniqueId(repository.node);
  const role = new iam.Role(flow, `ImagePushRole${id}`, {
    assumedBy: new iam.ServicePrincipal('events.amazonaws.com'),
    description: 'Starts a lockstep release when an image is pushed',
  });
  // A start EventBridge could not deliver (throttled, denied, the state machine gone) lands here after the retries,
  // and an alarm on it alerts: without it a dropped release would be silent.
  const deadLetters = new sqs.Queue(flow, `ImagePushDeadLetters${id}`, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(deadLetters).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason:
      'This queue is the dead-letter queue of the image-push rule’s target; nothing reads it but an operator.',
  });
  const dropped = new cloudwatch.Alarm(flow, `ImagePushDropped${id}`, {
    alarmDescription: `An image push to ${repository.node.path} did not start a lockstep release: see the dead-letter queue.`,
    metric: deadLetters.metricApproximateNumberOfMessagesVisible({
      period: Duration.minutes(1),
      statistic: 'Maximum',
    }),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  dropped.addAlarmAction(new cloudwatchActions.SnsAction(flow.alertTopic));
  flow.allowAlarmToAlert(dropped);
  return new events.Rule(flow, `ImagePush${id}`, {
    description: `Starts a lockstep release when a tagged image is pushed to ${repository.node.path}`,
    eventPattern: {
      source: ['aws.ecr'],
      detailType: ['ECR Image Action'],
      detail: {
        'action-type': ['PUSH'],
        result: ['SUCCESS'],
        'repository-name': [repository.repositoryName],
        'image-tag': imageTag,
      },
    },
    targets: [
      // The target grants its role states:StartExecution on this state machine, and nothing else.
      new targets.SfnStateMachine(flow.stateMachine, {
        role,
        deadLetterQueue: deadLetters,
        // A release that starts much later than its push would surprise: retry for an hour, then dead-letter.
        retryAttempts: 10,
        maxEventAge: Duration.hours(1),
        // Exactly the `ecr` form of the release input: the registry is the pushing account, the image is pinned by
        // digest, and the tag names the release.
        input: events.RuleTargetInput.fromObject({
          ecr: {
            registry: events.EventField.account,
            region: events.EventField.region,
            repository: events.EventField.fromPath('$.detail.repository-name'),
            digest: events.EventField.fromPath('$.detail.image-digest'),
            tag: events.EventField.fromPath('$.detail.image-tag'),
          },
          // Command mode has no migrations source to name: the command is the stack's.
          ...(flow.migrations.kind === 'command' ? {} : { migrations: flow.migrations.kind }),
        }),
      }),
    ],
  });
}

/**
 * A CodePipeline action that runs one release. The state machine is a Standard workflow, so CodePipeline starts
 * the execution and then polls it (the action's role gets states:DescribeExecution for that): the action — and
 * with it the stage and the pipeline run — succeeds only when the execution SUCCEEDED, and fails when it FAILED,
 * TIMED_OUT or was ABORTED. See https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-StepFunctions.html.
 */
export function pipelineAction(
  flow: Pick<IReleaseTarget, 'stateMachine'>,
  props: PipelineActionProps,
): codepipelineActions.StepFunctionInvokeAction {
  const input = props.input;
  const stateMachineInput =
    'literal' in input
      ? codepipelineActions.StateMachineInput.literal(input.literal)
      : filePathInput(input.file, input.path ?? 'release.json');
  return new codepipelineActions.StepFunctionInvokeAction({
    actionName: props.actionName,
    stateMachine: flow.stateMachine,
    stateMachineInput,
    runOrder: props.runOrder,
  });
}

/**
 * A FilePath input naming the file inside the artifact. StateMachineInput.filePath writes the artifact path's
 * `Artifact::file` form into the action's Input, but for this action CodePipeline reads Input as the file's path
 * inside the input artifact ("assets/input.json" in the action reference) — so the same input, with that path.
 */
function filePathInput(artifact: codepipeline.Artifact, path: string): codepipelineActions.StateMachineInput {
  const cdkInput = codepipelineActions.StateMachineInput.filePath(artifact.atPath(path));
  return Object.assign(Object.create(Object.getPrototypeOf(cdkInput)), cdkInput, { input: path });
}

/**
 * The executions a pipeline action may describe (CodePipeline polls the one it started): `execution:<name>:*`
 * for this state machine, as StepFunctionInvokeAction grants it.
 */
export function executionArnPattern(flow: Pick<IReleaseTarget, 'stateMachine'>): string {
  const stack = Stack.of(flow.stateMachine);
  const { account, region, partition, resourceName } = stack.splitArn(
    flow.stateMachine.stateMachineArn,
    ArnFormat.COLON_RESOURCE_NAME,
  );
  return stack.formatArn({
    account,
    region,
    partition,
    service: 'states',
    resource: 'execution',
    resourceName: `${resourceName}:*`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}
