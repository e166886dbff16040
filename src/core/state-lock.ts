import * as path from 'node:path';
import { ErrorCode, HarnessError } from './errors';
import { tryPidLock } from './pid-lock';

export interface StateLock {
  release(): void;
}

/**
 * Makes this process the only writer of `dir`. A lock left by a dead process is taken over; a
 * live owner is an error that names it.
 */
export function acquireStateLock(dir: string): StateLock {
  const attempt = tryPidLock(path.join(dir, 'owner.pid'));
  if (attempt.acquired) return attempt;
  if (Number.isNaN(attempt.owner)) throw new HarnessError(ErrorCode.StateLocked, `could not lock state directory ${dir}`, { dir });
  throw new HarnessError(ErrorCode.StateLocked, `state directory ${dir} is in use by another coordinator (pid ${attempt.owner})`, {
    pid: attempt.owner,
    dir,
  });
}
