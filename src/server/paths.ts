import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, HarnessError } from '../core/errors';
import { normalizeLockPath } from '../core/lock-path';

/**
 * The real path of `p`, as far as it exists: the longest existing prefix resolved through every
 * symlink (a dangling one too, by reading its target), the rest appended as given.
 */
export function realPathOfPrefix(p: string, depth = 0): string {
  if (depth > 40) throw new HarnessError(ErrorCode.InvalidArgument, `too many levels of symbolic links at ${p}`);
  try {
    return fs.realpathSync.native(p);
  } catch {
    // p, or a directory on its way, does not exist (or is a dangling symlink)
  }
  let link: string | undefined;
  try {
    if (fs.lstatSync(p).isSymbolicLink()) link = fs.readlinkSync(p);
  } catch {
    // does not exist at all
  }
  const parent = path.dirname(p);
  if (parent === p) return p;
  const realParent = realPathOfPrefix(parent, depth);
  if (link !== undefined) return realPathOfPrefix(path.resolve(realParent, link), depth + 1);
  return path.join(realParent, path.basename(p));
}

/**
 * A lock path as the coordinator keys it: relative to the workspace's real root, after resolving
 * symlinks, so two names of one file are one lock. Refuses `..` escapes, absolute paths outside the
 * workspace, and symlinks that lead out of it.
 */
export function resolveLockPath(root: string, input: string): string {
  const lexical = normalizeLockPath(root, input);
  const realRoot = realPathOfPrefix(path.resolve(root));
  const real = realPathOfPrefix(path.resolve(root, lexical));
  const rel = path.relative(realRoot, real);
  if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
    throw new HarnessError(
      ErrorCode.PathOutsideWorkspace,
      `lock path ${JSON.stringify(input)} leads through a symbolic link to ${real}, outside the workspace ${realRoot}`,
      { path: input, resolved: real, workspace: realRoot },
    );
  }
  return rel === '' ? '.' : rel.split(path.sep).join('/');
}
