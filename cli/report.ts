/**
 * The one way a command's outcome reaches the user: the result on stdout (text, or with `--json` exactly one
 * JSON document), a failure on stderr in text mode (or as the document's `error`), and the exit code.
 */
import { ExitCode, exitCodeFor } from './exit-codes.ts';
import { errorJson, errorText, type Output } from './output.ts';

/** What a command did. */
export interface Outcome {
  readonly exitCode: number;
  /** The result for people; printed on stdout. */
  readonly text?: string;
  /** The result for `--json`, beside the common head. */
  readonly json?: Record<string, unknown>;
  /** A failure to report besides (or instead of) the result. */
  readonly error?: unknown;
  /** A line after the error that helps fix it (text mode). */
  readonly hint?: string;
  /** Already reported (a signal ended the run and the handler said so): print nothing more. */
  readonly silent?: boolean;
}

export const succeeded = (text: string, json: Record<string, unknown> = {}): Outcome => ({
  exitCode: ExitCode.Success,
  text,
  json,
});

/** A failure, its exit code from the error's `code`. */
export const failed = (error: unknown, hint?: string): Outcome => ({
  exitCode: exitCodeFor(error),
  error,
  ...(hint ? { hint } : {}),
});

/** Runs a command's work; a throw becomes its failure outcome. */
export async function outcomeOf(work: () => Promise<Outcome>): Promise<Outcome> {
  try {
    return await work();
  } catch (err) {
    return failed(err);
  }
}

/** The `--json` document's common head. */
export function jsonHead(command: string | undefined, exitCode: number): Record<string, unknown> {
  return { command: command ?? null, ok: exitCode === 0, exitCode };
}

/** The `--json` document for `outcome`: what `--json` prints, and what CI reports (./ci/report.ts) read. */
export function jsonDocument(command: string, outcome: Outcome): Record<string, unknown> {
  return {
    ...jsonHead(command, outcome.exitCode),
    ...outcome.json,
    ...(outcome.error === undefined ? {} : { error: errorJson(outcome.error) }),
  };
}

/** Prints `outcome` for `command` and returns the exit code. */
export function report(output: Output, command: string, json: boolean, outcome: Outcome): number {
  if (outcome.silent) return outcome.exitCode;
  if (json) {
    output.json(jsonDocument(command, outcome));
  } else {
    if (outcome.text) output.result(outcome.text);
    if (outcome.error !== undefined) output.note(errorText(outcome.error));
    if (outcome.error !== undefined && outcome.hint) output.note(outcome.hint);
  }
  return outcome.exitCode;
}
