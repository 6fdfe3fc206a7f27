/** S3 for the rehearsal: it runs the migrations bundled from `--dir`, so any S3 call is a mistake, never a network call. */
import { S3Client } from '@aws-sdk/client-s3';
import { LOCAL_CLIENT_CONFIG } from './account.ts';

export class NoS3Client extends S3Client {
  constructor() {
    super(LOCAL_CLIENT_CONFIG);
  }

  override send = (async (command: unknown) => {
    throw new Error(
      `the local rehearsal has no S3 (${(command as object).constructor.name}): it runs the migrations in --dir, as a bundled release does`,
    );
  }) as S3Client['send'];
}
