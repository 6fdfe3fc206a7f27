/**
 * A command given as one string on the command line (`cdk synth -c migrationCommand="python manage.py migrate"`)
 * turned into the argument list an ECS container override takes. No shell runs it, so nothing is expanded:
 *
 * - a JSON array of strings (`'["sh","-c","bin/migrate && bin/seed"]'`) is taken as it is;
 * - anything else is split into words the way a POSIX shell splits them, without expansion: blanks separate
 *   words; '…' keeps everything literally; "…" keeps everything but `\"` and `\\`; a backslash outside quotes
 *   keeps the next character.
 *
 * Unquoted shell operators (`|`, `&`, `;`, `<`, `>`, `(`, `)`, `$`, a backtick) are refused rather than passed as
 * words: a command that needs a shell says so, `["sh","-c","…"]`.
 */

const OPERATORS = new Set(['|', '&', ';', '<', '>', '(', ')', '$', '`']);

/**
 * Throws an Error naming `what` and the problem (or `toError(problem)`, for a caller's own error class); returns
 * at least one word.
 */
export function commandWords(
  value: string,
  what: string,
  toError: (problem: string) => Error = (problem) => new Error(`${what}: ${problem}`),
): string[] {
  const text = value.trim();
  const fail = (problem: string): never => {
    throw toError(problem);
  };
  if (text.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return fail('starts with "[" but is not a JSON array of strings');
    }
    if (
      !Array.isArray(parsed) ||
      parsed.length === 0 ||
      !parsed.every((w): w is string => typeof w === 'string')
    )
      return fail('must be a non-empty JSON array of strings');
    return parsed;
  }
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charAt(i);
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) fail('has an unterminated single quote');
      word += text.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text.charAt(j) !== '"'; j++) {
        const d = text.charAt(j);
        if (d === '\\' && (text.charAt(j + 1) === '"' || text.charAt(j + 1) === '\\')) {
          word += text.charAt(j + 1);
          j++;
        } else word += d;
      }
      if (j >= text.length) fail('has an unterminated double quote');
      inWord = true;
      i = j;
    } else if (c === '\\') {
      if (i + 1 >= text.length) fail('ends with a backslash');
      word += text.charAt(i + 1);
      inWord = true;
      i++;
    } else if (OPERATORS.has(c)) {
      fail(`has the shell operator "${c}", but no shell runs the command: quote it, or give ["sh","-c","…"]`);
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  if (words.length === 0) fail('is empty');
  return words;
}

/** Command mode's commands, from the CDK app's context. */
export interface ContextCommands {
  readonly migrationCommand?: string[];
  readonly pendingCheckCommand?: string[];
}

/**
 * The CDK app's `migrationCommand` and `pendingCheckCommand` context (`cdk synth -c migrationCommand="…"`, or the
 * rehearsal's `--command` and `--pending-check`) as argument lists, each absent when not given. A command excludes
 * `migrationsSource` (a command runs the migrations); a pending check needs a command.
 */
export function contextCommands(context: {
  readonly migrationCommand?: unknown;
  readonly pendingCheckCommand?: unknown;
  readonly migrationsSource?: unknown;
}): ContextCommands {
  const { migrationCommand: command, pendingCheckCommand: check } = context;
  if (command !== undefined && typeof command !== 'string')
    throw new Error('context migrationCommand must be a string');
  if (check !== undefined && typeof check !== 'string')
    throw new Error('context pendingCheckCommand must be a string');
  if (command !== undefined && context.migrationsSource !== undefined)
    throw new Error(
      'context migrationCommand and migrationsSource exclude each other: a command runs the migrations',
    );
  if (check !== undefined && command === undefined)
    throw new Error('context pendingCheckCommand needs migrationCommand: it is command mode’s pending check');
  return {
    ...(command === undefined ? {} : { migrationCommand: commandWords(command, 'context migrationCommand') }),
    ...(check === undefined
      ? {}
      : { pendingCheckCommand: commandWords(check, 'context pendingCheckCommand') }),
  };
}
