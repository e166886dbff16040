// Helpers shared by the primitives' CLI commands (primitives.ts, run-with.ts).
import * as path from 'node:path';
import { DURATIONS, secondsOf, type Values } from './args';
import type { Io } from './context';

/** The duration options of commands that take a lock or a hold: --wait and --ttl. */
export const WAIT_AND_TTL = { wait: DURATIONS.wait, ttl: DURATIONS.ttl };

/** `--wait S` as milliseconds (0 when absent). */
export function waitMs(v: Values): number {
  return Math.round((secondsOf(v, 'wait') ?? 0) * 1000);
}

/** `--ttl S`, when given. */
export function ttl(v: Values): { ttl_seconds?: number } {
  const s = secondsOf(v, 'ttl');
  return s === undefined ? {} : { ttl_seconds: s };
}

/** Lock paths are given relative to the current directory; the coordinator makes them workspace-relative. */
export const absolute = (io: Io, p: string) => path.resolve(io.cwd, p);
