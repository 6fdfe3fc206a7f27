/**
 * SNS Publish for a function that publishes itself (the approval function's notification): SNS's own checks, as the
 * state machine's SNS states get them (../interpreter.ts, publishAsSns), then `deliver`.
 */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { type Alert, publishAsSns } from '../interpreter.ts';
import { LOCAL_CLIENT_CONFIG, notImplemented } from './account.ts';

export function localTopicClient(deliver: (alert: Alert) => void): SNSClient {
  return new LocalTopicClient(deliver);
}

class LocalTopicClient extends SNSClient {
  constructor(private readonly deliver: (alert: Alert) => void) {
    super(LOCAL_CLIENT_CONFIG);
  }

  override send = (async (command: unknown) => {
    if (command instanceof PublishCommand)
      return { ...publishAsSns(command.input, this.deliver), $metadata: {} };
    throw notImplemented('SNS', command);
  }) as SNSClient['send'];
}
