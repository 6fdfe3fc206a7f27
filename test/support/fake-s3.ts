import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';

const notFound = (name: 'NoSuchKey' | 'NotFound') =>
  new S3ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 404 }, message: name });

/** An in-memory bucket behind aws-sdk-client-mock: what is put can be listed, read and headed. */
export function fakeS3() {
  const objects = new Map<string, Buffer>();
  const mock = mockClient(S3Client);
  const key = (bucket?: string, k?: string) => `${bucket}/${k}`;
  mock.on(PutObjectCommand).callsFake(async (input) => {
    objects.set(key(input.Bucket, input.Key), Buffer.from(input.Body as Uint8Array | string));
    return {};
  });
  mock.on(GetObjectCommand).callsFake(async (input) => {
    const bytes = objects.get(key(input.Bucket, input.Key));
    if (!bytes) throw notFound('NoSuchKey');
    return { Body: { transformToByteArray: async () => new Uint8Array(bytes) } };
  });
  mock.on(HeadObjectCommand).callsFake(async (input) => {
    if (!objects.has(key(input.Bucket, input.Key))) throw notFound('NotFound');
    return {};
  });
  mock.on(ListObjectsV2Command).callsFake(async (input) => {
    const prefix = key(input.Bucket, input.Prefix ?? '');
    const Contents = [...objects.keys()]
      .filter((k) => k.startsWith(prefix))
      .map((k) => ({ Key: k.slice(`${input.Bucket}/`.length) }));
    return { Contents, IsTruncated: false };
  });
  return { mock, objects, client: new S3Client({ region: 'eu-west-1' }) };
}
