import { z } from 'zod';

/** One request line: `{"command": "...", "id"?: ..., ...parameters}`. */
export const RequestEnvelope = z.looseObject({
  command: z.string().min(1).max(100),
  id: z.union([z.string().max(200), z.number()]).optional(),
});
export type RequestEnvelope = z.infer<typeof RequestEnvelope>;

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

export const PROTOCOL_VERSION = 1;
