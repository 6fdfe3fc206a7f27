import type * as z from 'zod/mini';
import { InvalidInputError } from './errors.ts';
import './zod-locale.ts';

/**
 * Validates an event or input against a schema; the first problem becomes an {@link InvalidInputError} naming
 * the field by its path (`release.options.dryRun`), with a count of any others.
 */
export function parseEvent<S extends z.ZodMiniType>(schema: S, raw: unknown, root = 'event'): z.infer<S> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues;
  const issue = issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : root;
  const extra = issues.length > 1 ? ` (and ${issues.length - 1} more problem(s))` : '';
  throw new InvalidInputError(field, `${describe(issue)}${extra}`);
}

function describe(issue: z.core.$ZodIssue | undefined): string {
  if (!issue) return 'is invalid';
  if (issue.code === 'unrecognized_keys')
    return `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  if (issue.code === 'invalid_type') {
    return issue.message.endsWith('received undefined')
      ? 'is required'
      : issue.message.replace(/^Invalid input: /, '');
  }
  return issue.message;
}
