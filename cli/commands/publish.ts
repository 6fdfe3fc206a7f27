/** `lockstep publish`: loaded only for it, with the AWS SDK's S3 client no other command needs. */
import { S3Client } from '@aws-sdk/client-s3';
import { publish } from '../publish.ts';
import type { RawPublishOptions } from '../publish-options.ts';
import { type Outcome, outcomeOf, succeeded } from '../report.ts';

export function run(raw: RawPublishOptions): Promise<Outcome> {
  return outcomeOf(async () => {
    const result = await publish({ s3: new S3Client({}), now: () => new Date() }, raw);
    return succeeded(
      result.unchanged
        ? `already published, unchanged: ${result.location}`
        : `published ${result.files} migrations to ${result.location}`,
      { ...result },
    );
  });
}
