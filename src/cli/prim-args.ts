// Helpers shared by the primitives' CLI commands (primitives.ts, run-with.ts).
import * as path from 'node:path';
import { seconds, type Values } from './commands';
import { UsageError, type Io } from './context';

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

