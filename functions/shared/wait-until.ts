/**
 * Deadlines for the state machine's polling loops. JSONPath in Amazon States Language cannot add a duration
 * to a timestamp, so the step that starts something long-running (a snapshot, an ECS rollout) returns
 * `waitUntil`, the state machine passes it back on every status poll, and the status step fails with a
 * timeout error once the clock is past it.
 */
import * as z from 'zod/mini';

/** An ISO 8601 date and time, as `waitUntil` returns it (UTC, `Z`); an explicit offset is accepted too. */
export const waitUntilSchema = z.iso.datetime({
  offset: true,
  error: 'must be an ISO 8601 date and time, such as 2024-05-06T07:08:09.123Z',
});

/** `now` plus `seconds`, as an ISO 8601 UTC timestamp. */
export function waitUntilAfter(now: Date, seconds: number): string {
  return new Date(now.getTime() + seconds * 1000).toISOString();
}

/** Whether `now` is strictly after the deadline; never, when there is none. */
export function isPastWaitUntil(waitUntil: string | undefined, now: Date): waitUntil is string {
  return waitUntil !== undefined && now.getTime() > Date.parse(waitUntil);
}
