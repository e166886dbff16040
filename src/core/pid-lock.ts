import * as fs from 'node:fs';

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export type PidLockAttempt = { acquired: true; release(): void } | { acquired: false; owner: number };

/**
 * One try at a lock file holding its owner's pid. The pid is written to a temporary file first
 * and linked into place, so the lock file is never seen empty. A lock whose owner is dead (or is
 * an earlier life of this pid) is taken over; a live owner is returned so the caller decides
 * whether to wait or fail.
 */
export function tryPidLock(file: string): PidLockAttempt {
  for (let attempt = 0; attempt < 5; attempt++) {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, String(process.pid), { mode: 0o600 });
    try {
      fs.linkSync(tmp, file);
      return {
        acquired: true,
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
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    let owner = NaN;
    try {
      owner = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    } catch {
      continue; // removed between our two calls: try again
    }
    if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) return { acquired: false, owner };
    try {
      fs.unlinkSync(file); // left by a process that is gone
    } catch {
      // Another process removed it first; the next attempt sorts out who wins.
    }
  }
  return { acquired: false, owner: NaN };
}
