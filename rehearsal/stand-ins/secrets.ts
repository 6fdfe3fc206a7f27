/** Secrets Manager for the rehearsal and the tests: secret strings by secret ARN, read-only. */
import {
  GetSecretValueCommand,
  type GetSecretValueCommandInput,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { LOCAL_CLIENT_CONFIG, notImplemented } from './account.ts';

export class LocalSecrets {
  private readonly secrets = new Map<string, string>();

  /** Stores a database's credentials the way RDS stores a generated secret. */
  putDatabaseCredentials(secretArn: string, serverUrl: string): void {
    const url = new URL(serverUrl);
    this.secrets.set(
      secretArn,
      JSON.stringify({
        engine: 'postgres',
        username: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
      }),
    );
  }

  getSecretValue(input: GetSecretValueCommandInput) {
    const value = this.secrets.get(input.SecretId ?? '');
    if (value === undefined)
      throw new ResourceNotFoundException({
        message: "Secrets Manager can't find the specified secret.",
        $metadata: {},
      });
    return { ARN: input.SecretId, SecretString: value };
  }

  client(): SecretsManagerClient {
    return new LocalSecretsClient(this);
  }
}

class LocalSecretsClient extends SecretsManagerClient {
  constructor(private readonly secrets: LocalSecrets) {
    super(LOCAL_CLIENT_CONFIG);
  }

  override send = (async (command: unknown) => {
    if (command instanceof GetSecretValueCommand)
      return { ...this.secrets.getSecretValue(command.input), $metadata: {} };
    throw notImplemented('Secrets Manager', command);
  }) as SecretsManagerClient['send'];
}
