/**
 * The app's image as a stack should declare it when lockstep releases the app: read from the SSM parameter the
 * deploy function writes after each completed rollout (functions/deploy/record-image.ts), so CloudFormation and
 * lockstep agree on the image and a later `cdk deploy` does not roll the app back.
 *
 * Why a parameter of type `AWS::SSM::Parameter::Value<String>` and not a `{{resolve:ssm:…}}` dynamic reference:
 * lockstep moves the service to task-definition revisions CloudFormation does not own, and any stack update of the
 * service (a new desired count, say) sends it back to the revision the stack last registered. That revision must
 * carry the current image. For parameter types, CloudFormation "always fetches the latest values from Parameter
 * Store when it updates stacks" (CloudFormation User Guide, "Systems Manager parameter types"), so after a release
 * the next update re-registers the task definition with the released image and points the service at it: the same
 * image, rolled out once more. A dynamic reference is re-read only when the template text around it changes ("SSM
 * Dynamic Reference Change not detected", cloudformation-coverage-roadmap #844), which would leave a service update
 * on the stale revision. The same page: "If a specified parameter doesn't exist in Parameter Store under the
 * caller's AWS account, CloudFormation returns a validation error" — the parameter must exist before the stack that
 * reads it is created (a stack deployed first; see infra/release-image-stack.ts).
 */
import { CfnParameter, Stack, Token } from 'aws-cdk-lib';
import type * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import { SSM_PARAMETER_NAME } from '../../functions/shared/config.ts';

/** The image named by an SSM parameter's value; pulling it from `repository` is granted to the execution role. */
class ParameterImage extends ecs.ContainerImage {
  constructor(
    readonly imageName: string,
    private readonly repository: ecr.IRepository | undefined,
  ) {
    super();
  }

  override bind(_scope: Construct, container: ecs.ContainerDefinition): ecs.ContainerImageConfig {
    this.repository?.grantPull(container.taskDefinition.obtainExecutionRole());
    return { imageName: this.imageName };
  }
}

/** See {@link ReleaseFlow.imageFromParameter}. */
export function imageFromParameter(
  scope: Construct,
  parameterName: string,
  repository?: ecr.IRepository,
): ecs.ContainerImage {
  if (Token.isUnresolved(parameterName) || !SSM_PARAMETER_NAME.test(parameterName))
    throw new Error(
      `imageFromParameter: parameterName must be a literal SSM parameter name such as /app/image, got ${parameterName}`,
    );
  return new ParameterImage(ssm.StringParameter.valueForStringParameter(scope, parameterName), repository);
}

/**
 * Whether `container`'s image is read from the parameter `parameterName` the way {@link imageFromParameter} reads
 * it: a Ref to a stack parameter of type AWS::SSM::Parameter::Value<String> whose default is that name.
 */
export function readsImageFrom(container: ecs.ContainerDefinition, parameterName: string): boolean {
  const stack = Stack.of(container);
  const image = stack.resolve(container.imageName) as { Ref?: unknown } | string;
  const ref = typeof image === 'object' ? image.Ref : undefined;
  return stack.node
    .findAll()
    .some(
      (c) =>
        c instanceof CfnParameter &&
        stack.getLogicalId(c) === ref &&
        c.type === 'AWS::SSM::Parameter::Value<String>' &&
        c.default === parameterName,
    );
}
