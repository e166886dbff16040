import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, HarnessError } from './errors';

export interface StateLock {
  release(): void;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Makes this process the only writer of `dir`: a file holding our pid, created exclusively.
 * A lock left by a dead process is taken over; a live owner is an error that names it.
 */
export function acquireStateLock(dir: string): StateLock {
  const file = path.join(dir, 'owner.pid');
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx', 0o600);
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      return {
        release() {
          try {
            if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.unlinkSync(file);
          } catch {
            // Already gone: nothing to release.
          }
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let owner = NaN;
    try {
      owner = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    } catch {
      continue; // removed between our two calls: try again
    }
    if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) {
      throw new HarnessError(
        ErrorCode.StateLocked,
        `state directory ${dir} is in use by another coordinator (pid ${owner})`,
        { pid: owner, dir },
      );
    }
    try {
      fs.unlinkSync(file); // left by a process that is gone (or by us, in an earlier life)
    } catch {
      // Another process removed it first; the next attempt sorts out who wins.
    }
  }
  throw new HarnessError(ErrorCode.StateLocked, `could not lock state directory ${dir}`, { dir });
}
