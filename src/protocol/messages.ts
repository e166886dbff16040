import { z } from 'zod';
import { describeError, ErrorCode, HarnessError, type AnyErrorCode } from './errors';

/** One request line: `{"command": "...", "id"?: ..., ...parameters}`. */
export const RequestEnvelope = z.looseObject({
  command: z.string().min(1).max(100),
  id: z.union([z.string().max(200), z.number()]).optional(),
});
export type RequestEnvelope = z.infer<typeof RequestEnvelope>;

/** The envelope's own keys; everything else on the line is the command's parameters. */
export const ENVELOPE_KEYS: ReadonlySet<string> = new Set(['command', 'id']);

/** A request line's parameters: the line without its envelope keys. */
export function paramsOf(message: Record<string, unknown>): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const key of Object.keys(message)) if (!ENVELOPE_KEYS.has(key)) params[key] = message[key];
  return params;
}

export type RequestId = string | number | undefined;

export interface OkReply<T = unknown> {
  status: 'ok';
  data: T;
  id?: RequestId;
}
export interface ErrorReply {
  status: 'error';
  message: string;
  code: string;
  id?: RequestId;
  details?: Record<string, unknown>;
}
export type Reply<T = unknown> = OkReply<T> | ErrorReply;

/** A reply's data, or its error thrown as the HarnessError it was (code, message, details). */
export function dataOf(reply: Reply): unknown {
  if (reply.status === 'ok') return reply.data;
  throw new HarnessError(reply.code as AnyErrorCode, reply.message, reply.details);
}

/**
 * The one mapping from anything thrown to an error reply: a HarnessError keeps its code, message
 * and details; anything else is INTERNAL (a bug: the dispatcher also logs its stack).
 */
export function toErrorReply(e: unknown): ErrorReply {
  if (e instanceof HarnessError) {
    return { status: 'error', code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) };
  }
  return { status: 'error', code: ErrorCode.Internal, message: `internal error: ${describeError(e)}` };
}

/** What a subscribed connection receives for every coordinator event. */
export interface EventLine {
  event: string;
  data: unknown;
  ts: string;
}

export const ReplyShape = z.union([
  z.object({ status: z.literal('ok'), data: z.unknown(), id: z.union([z.string(), z.number()]).optional() }),
  z.object({
    status: z.literal('error'),
    message: z.string(),
    code: z.string(),
    id: z.union([z.string(), z.number()]).optional(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
]);

/** The longest line either side accepts. */
export const MAX_LINE_BYTES = 1024 * 1024;

export { PROTOCOL_VERSION } from './meta';
