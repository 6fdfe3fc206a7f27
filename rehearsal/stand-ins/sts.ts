/** STS GetCallerIdentity for the rehearsal's approval: the person at the terminal, as a user of the local account. */
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { LOCAL_ACCOUNT, LOCAL_CLIENT_CONFIG, notImplemented } from './account.ts';

export function localIdentityClient(user: string): STSClient {
  return new LocalIdentityClient(user);
}

class LocalIdentityClient extends STSClient {
  constructor(private readonly user: string) {
    super(LOCAL_CLIENT_CONFIG);
  }

  override send = (async (command: unknown) => {
    if (command instanceof GetCallerIdentityCommand)
      return {
        Account: LOCAL_ACCOUNT.account,
        Arn: `arn:${LOCAL_ACCOUNT.partition}:iam::${LOCAL_ACCOUNT.account}:user/${this.user}`,
        UserId: this.user,
        $metadata: {},
      };
    throw notImplemented('STS', command);
  }) as STSClient['send'];
}
