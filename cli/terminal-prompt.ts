/** Questions on this process's terminal (baseline's version typed back, the rehearsal's approval). */
import { createInterface } from 'node:readline/promises';

/** Asks a question and returns the answer. */
export type Ask = (question: string) => Promise<string>;

/** Asks on this process's terminal, or undefined without one. */
export function terminalPrompt(): Ask | undefined {
  if (!process.stdin.isTTY) return undefined;
  return async (question) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return await rl.question(question);
    } finally {
      rl.close();
    }
  };
}
