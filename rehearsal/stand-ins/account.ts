/** The account the local stand-ins live in: what the synthesized template's pseudo-parameters resolve to. */

export interface LocalAccount {
  readonly region: string;
  readonly account: string;
  readonly partition: string;
  readonly urlSuffix: string;
}

export const LOCAL_ACCOUNT: LocalAccount = {
  region: 'eu-west-1',
  account: '123456789012',
  partition: 'aws',
  urlSuffix: 'amazonaws.com',
};

/** For the stand-in SDK clients: a region and credentials, so the SDK never looks for real ones. */
export const LOCAL_CLIENT_CONFIG = {
  region: LOCAL_ACCOUNT.region,
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
};

/** A command a stand-in does not implement: a lockstep function started calling something new. */
export function notImplemented(service: string, command: unknown): Error {
  return new Error(
    `the local ${service} stand-in does not implement ${(command as object).constructor.name}`,
  );
}
