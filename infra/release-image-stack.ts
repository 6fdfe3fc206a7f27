/**
 * The example's image parameter, in a stack of its own that `cdk deploy --all` creates before the app stack: the
 * app stack reads the parameter when CloudFormation creates it, and CloudFormation refuses a stack whose SSM
 * parameter does not exist yet (CloudFormation User Guide, "Systems Manager parameter types": "If a specified
 * parameter doesn't exist in Parameter Store under the caller's AWS account, CloudFormation returns a validation
 * error").
 *
 * The parameter starts at an image that runs on any account, so the first deploy succeeds before anything was
 * pushed to the app's (empty) repository; from the first release on, lockstep's deploy step overwrites it with each
 * released image. The value below is only the initial one: CloudFormation writes it when it creates the parameter
 * and again only if this resource's properties change in code, so leave them alone once deployed.
 */
import { Stack, type StackProps } from 'aws-cdk-lib';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';

/**
 * Apache httpd from the Docker official images on Amazon ECR Public, the image of the Fargate web-server example in
 * the Amazon ECS Developer Guide ("Example Amazon ECS task definitions": `public.ecr.aws/docker/library/httpd:2.4`).
 * Public, so it needs no repository of the account's, and pulled through the example VPC's NAT gateway.
 */
export const INITIAL_APP_IMAGE = 'public.ecr.aws/docker/library/httpd:2.4';

export interface ReleaseImageStackProps extends StackProps {
  /** The parameter's name; the app stack reads it and lockstep writes it. */
  readonly parameterName: string;
}

export class ReleaseImageStack extends Stack {
  /** The app's current image: INITIAL_APP_IMAGE until the first release, then the last released image. */
  readonly imageParameter: ssm.StringParameter;

  constructor(scope: Construct, id: string, props: ReleaseImageStackProps) {
    super(scope, id, props);
    this.imageParameter = new ssm.StringParameter(this, 'AppImage', {
      parameterName: props.parameterName,
      stringValue: INITIAL_APP_IMAGE,
      description: 'The image the app runs: written by lockstep after each release; read by the app stack',
    });
  }
}
