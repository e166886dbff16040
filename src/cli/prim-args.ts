// Helpers shared by the primitives' CLI commands (primitives.ts, run-with.ts).
import * as path from 'node:path';
import type { Reply } from '../protocol/messages';
import { seconds, type Values } from './commands';
import { connect, errorReply, printReply, UsageError, type GlobalOptions, type Io } from './context';

/** One request; its reply printed as the command's output. */
export async function request(opts: GlobalOptions, io: Io, command: string, params: Record<string, unknown>): Promise<number> {
  let reply: Reply;
  try {
    const client = await connect(opts, io);
    try {
      reply = await client.send(command, params);
    } finally {
      client.close();
    }
  } catch (e) {
    reply = errorReply(e);
  }
  return printReply(reply, io);
}

/** `--wait S` as milliseconds (0 when absent). */
export function waitMs(v: Values, usage: string): number {
  return Math.round((seconds(v, 'wait', usage) ?? 0) * 1000);
}

/** `--ttl S`, when given. */
export function ttl(v: Values, usage: string): { ttl_seconds?: number } {
  const s = seconds(v, 'ttl', usage);
  if (s === 0) throw new UsageError('--ttl must be more than 0 seconds', usage);
  return s === undefined ? {} : { ttl_seconds: s };
}

/** Lock paths are given relative to the current directory; the coordinator makes them workspace-relative. */
export const absolute = (io: Io, p: string) => path.resolve(io.cwd, p);

