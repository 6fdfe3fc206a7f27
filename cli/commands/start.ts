/** `lockstep start`: loaded only for it, with the AWS SDK's Step Functions client. */
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Output } from '../output.ts';
import { type Outcome, outcomeOf, succeeded } from '../report.ts';
import { startRelease } from '../start.ts';
import type { RawStartOptions } from '../start-options.ts';

export function run(raw: RawStartOptions, output: Output, env: NodeJS.ProcessEnv): Promise<Outcome> {
  return outcomeOf(async () => {
    const result = await startRelease(
      {
        sfn: new SFNClient({}),
        print: (line) => output.note(line),
        sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
        pollMs: 2000,
        // For the approve/reject commands printed at the approval gate; else read from the state machine.
        lockTable: env.LOCKSTEP_LOCK_TABLE,
      },
      raw,
    );
    // startRelease prints its progress and summary as it goes; the result is the JSON document's.
    return succeeded('', { ...result });
  });
}
