import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, HarnessError } from './errors';

const { O_WRONLY, O_CREAT, O_EXCL } = fs.constants;
const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;

/**
 * Creates the state directory (owner-only, with a .gitignore so it is never committed), or checks
 * the one there: a symbolic link, or a directory that belongs to another user, is refused. Writing
 * through either would put the coordinator's files, and whatever a later run trusts in them,
 * where someone else decides. Placing state elsewhere on purpose is what --state-dir is for.
 */
export function prepareStateDirectory(dir: string): void {
  if (!lstat(dir)) fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  assertSafeStateDirectory(dir);
  try {
    const fd = fs.openSync(path.join(dir, '.gitignore'), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
    try {
      fs.writeSync(fd, '# Agent Harness state: never commit it\n*\n');
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

/** Refuses a state directory that is missing, a symbolic link, not a directory, or someone else's. */
export function assertSafeStateDirectory(dir: string): void {
  const st = lstat(dir);
  if (!st) throw new HarnessError(ErrorCode.NotFound, `state directory ${dir} does not exist`, { dir });
  const elsewhere = 'to keep state somewhere else on purpose, pass that directory itself with --state-dir (the agentHarness.stateDirectory setting in VS Code)';
  if (st.isSymbolicLink()) {
    throw new HarnessError(
      ErrorCode.StateUnsafe,
      `state directory ${dir} is a symbolic link (to ${fs.readlinkSync(dir)}); refusing to write through it: ${elsewhere}`,
      { dir },
    );
  }
  if (!st.isDirectory()) throw new HarnessError(ErrorCode.StateUnsafe, `state directory ${dir} is not a directory`, { dir });
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new HarnessError(
      ErrorCode.StateUnsafe,
      `state directory ${dir} belongs to another user (uid ${st.uid}; you are ${uid}); refusing to use it: ${elsewhere}`,
      { dir, owner: st.uid },
    );
  }
}

function lstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}
