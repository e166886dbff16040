// Commands about the connection itself: is anyone there, and turning it into an event stream.
import { z } from 'zod';
import { ClusterStatus } from './cluster';
import { command } from './command';
import { EVENT_NAMES, type EventName } from './events';

/** 2: `run_output` became a notification (no reply); `task_list` pages. */
export const PROTOCOL_VERSION = 2;

export const Ping = command({
  name: 'ping',
  kind: 'query',
  summary: 'Check that a coordinator answers, and which workspace it serves.',
  // The one command that ignores unknown fields: a liveness probe must not fail on what it carries
  // (probes pad it, e.g. to find the line limit).
  params: z.looseObject({}),
  result: z.object({
    pong: z.literal(true),
    protocol: z.number().describe('The protocol version it speaks'),
    pid: z.number(),
    workspace: z.string().describe('The workspace folder it coordinates'),
    state_dir: z.string().describe('Where it keeps its state (and reads config.json from)'),
    worktree: z.string().describe('Deprecated: the same as workspace'),
    cluster: ClusterStatus.optional().describe('In cluster mode: this coordinator, its role, and who leads'),
  }),
});

export const Subscribe = command({
  name: 'subscribe',
  kind: 'stream',
  summary: 'Receive coordinator events on this connection from now on (all, or the named ones).',
  params: z.strictObject({
    events: z
      .array(z.enum(EVENT_NAMES as [EventName, ...EventName[]]))
      .max(100)
      .optional()
      .describe('Event names, e.g. task:completed (default: every event)'),
  }),
  result: z.object({ subscribed: z.literal(true) }),
});

export const META_COMMANDS = [Ping, Subscribe] as const;
