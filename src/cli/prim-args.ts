// Helpers shared by the primitives' CLI commands (primitives.ts, run-with.ts).
import * as path from 'node:path';
import { ErrorCode, HarnessError } from '../protocol/errors';
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

/**
 * The leading `NAME=N` texts (`cpu_cores=2`) as amounts of resource pools, a name given twice
 * adding up; `count` is how many were read (the first text that is not one stops it).
 */
export function leadingAmounts(texts: readonly string[]): { amounts: Record<string, number>; count: number } {
  const amounts: Record<string, number> = {};
  let count = 0;
  for (; count < texts.length; count++) {
    const m = /^([A-Za-z0-9_.:-]+)=(\d+)$/.exec(texts[count]!);
    if (!m) break;
    amounts[m[1]!] = (amounts[m[1]!] ?? 0) + Number(m[2]);
  }
  return { amounts, count };
}

/** Lock paths are given relative to the current directory; the coordinator makes them workspace-relative. */
export const absolute = (io: Io, p: string) => path.resolve(io.cwd, p);

/**
 * A lock or a hold not granted, in the command line's words: the socket's `wait_ms` is `--wait S`
 * here, and the time waited is said in seconds, as the user gave it.
 */
export async function inWaitWords<T>(v: Values, request: Promise<T>): Promise<T> {
  try {
    return await request;
  } catch (e) {
    if (!(e instanceof HarnessError) || e.code !== ErrorCode.Timeout) throw e;
    const message = e.message
      .replace(/\(pass wait_ms to wait( for it)?\)/, '(pass --wait S to wait$1)')
      .replace(/not granted within \d+ ms/, `not granted within ${secondsOf(v, 'wait') ?? 0} s`);
    throw new HarnessError(e.code, message, e.details);
  }
}
