/**
 * Parameter Store for the rehearsal: String parameters by name, as the deploy function records the released image
 * in one (IMAGE_PARAMETER) after a completed rollout. PutParameter without Overwrite refuses an existing name, as
 * SSM does.
 */
import {
  GetParameterCommand,
  type GetParameterCommandInput,
  ParameterAlreadyExists,
  ParameterNotFound,
  PutParameterCommand,
  type PutParameterCommandInput,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { LOCAL_CLIENT_CONFIG, notImplemented } from './account.ts';

export class LocalParameters {
  private readonly values = new Map<string, { value: string; version: number }>();

  putParameter(input: PutParameterCommandInput) {
    const name = input.Name ?? '';
    const current = this.values.get(name);
    if (current && !input.Overwrite)
      throw new ParameterAlreadyExists({ message: `The parameter ${name} already exists.`, $metadata: {} });
    const version = (current?.version ?? 0) + 1;
    this.values.set(name, { value: input.Value ?? '', version });
    return { Version: version, Tier: 'Standard' as const };
  }

  getParameter(input: GetParameterCommandInput) {
    const name = input.Name ?? '';
    const current = this.values.get(name);
    if (!current) throw new ParameterNotFound({ message: `Parameter ${name} not found.`, $metadata: {} });
    return {
      Parameter: { Name: name, Type: 'String' as const, Value: current.value, Version: current.version },
    };
  }

  /** The value of `name`, or undefined. */
  value(name: string): string | undefined {
    return this.values.get(name)?.value;
  }

  client(): SSMClient {
    return new LocalParametersClient(this);
  }
}

class LocalParametersClient extends SSMClient {
  constructor(private readonly parameters: LocalParameters) {
    super(LOCAL_CLIENT_CONFIG);
  }

  override send = (async (command: unknown) => {
    if (command instanceof PutParameterCommand)
      return { ...this.parameters.putParameter(command.input), $metadata: {} };
    if (command instanceof GetParameterCommand)
      return { ...this.parameters.getParameter(command.input), $metadata: {} };
    throw notImplemented('SSM', command);
  }) as SSMClient['send'];
}
