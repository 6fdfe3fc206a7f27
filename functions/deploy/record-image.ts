/**
 * After a rollout COMPLETED, writes the released image where the stack reads it: the SSM String parameter named by
 * IMAGE_PARAMETER, which the app's task definition takes its image from (ReleaseFlow.imageFromParameter). So a
 * later `cdk deploy` registers its task definitions with the image lockstep released, not the one CloudFormation
 * last knew. Written only once ECS called the rollout done: a failed rollout leaves the previous image recorded.
 */
import { PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { AWS_RETRIES, ImageNotRecordedError } from '../shared/errors.ts';
import type { Log } from '../shared/logger.ts';

export interface RecordImageDeps {
  readonly ssm: SSMClient;
  readonly log: Log;
}

/** The SDK's throttling errors go back unchanged, so the state machine retries them (AWS_RETRIES). */
const RETRIED = new Set(AWS_RETRIES.flatMap((r) => r.errors));

/** Overwrites `parameterName` with `image`; any failure but throttling is an {@link ImageNotRecordedError}. */
export async function recordReleasedImage(
  deps: RecordImageDeps,
  parameterName: string,
  image: string,
): Promise<void> {
  try {
    // PutParameter takes the parameter's name, never its ARN (SSM API Reference, PutParameter: "You can't enter
    // the Amazon Resource Name (ARN) for a parameter, only the parameter name itself").
    const put = await deps.ssm.send(
      new PutParameterCommand({ Name: parameterName, Value: image, Type: 'String', Overwrite: true }),
    );
    deps.log.info('recorded the released image', { parameterName, image, version: put.Version });
  } catch (err) {
    if (err instanceof Error && RETRIED.has(err.name)) throw err;
    throw new ImageNotRecordedError(parameterName, image, { cause: err });
  }
}
