// The limits on every duration a caller gives (a task's lease, a lock's TTL, a wait, an exec
// timeout), one place for the socket, the CLI, the MCP server and VS Code. Node's timers take at
// most 2^31-1 ms (about 24.8 days) and silently fire after 1 ms beyond that, so no limit here may
// reach it: every duration that ends up in a timer is refused above its maximum instead.
import { z } from 'zod';

const DAY_SECONDS = 24 * 3600;

/** Task leases (`timeout_seconds`), lock and hold TTLs, exec and work timeouts, idle exits. */
export const MAX_DURATION_SECONDS = 7 * DAY_SECONDS;
/** Waits held open on a connection (`wait_ms`: locks, pools, messages), checkpoint intervals, the stale timeout. */
export const MAX_WAIT_SECONDS = DAY_SECONDS;
export const MAX_WAIT_MS = MAX_WAIT_SECONDS * 1000;
/** The grace between SIGTERM and SIGKILL when a command is ended. */
export const MAX_KILL_AFTER_SECONDS = 600;

/** A number of seconds in words: "7 days", "1 day", "10 minutes", "90 seconds". */
export function inWords(seconds: number): string {
  for (const [size, name] of [[DAY_SECONDS, 'day'], [3600, 'hour'], [60, 'minute'], [1, 'second']] as const) {
    const n = seconds / size;
    if (Number.isInteger(n) && n >= 1) return n === 1 ? `1 ${name}` : `${n} ${name}s`;
  }
  return `${seconds} seconds`;
}

/** "at most 604800 seconds (7 days)" */
export const atMostSeconds = (max: number): string => `at most ${max} seconds (${inWords(max)})`;

/** A positive number of seconds up to `max`, with messages that say the limit in words. */
export function seconds(max: number) {
  return z.number().positive('must be more than 0 seconds').max(max, `must be ${atMostSeconds(max)}`);
}

/** A whole number of milliseconds from 0 up to `maxMs`. */
export function milliseconds(maxMs: number) {
  return z
    .number()
    .int('must be a whole number of milliseconds')
    .min(0, 'must be 0 or more milliseconds')
    .max(maxMs, `must be at most ${maxMs} ms (${inWords(maxMs / 1000)})`);
}

/** `wait_ms` of every command that can wait on the server. */
export const WaitMs = milliseconds(MAX_WAIT_MS);
/** A lease or TTL in seconds. */
export const LeaseSeconds = seconds(MAX_DURATION_SECONDS);
