import * as path from 'node:path';
import { ErrorCode, HarnessError } from './errors';

/**
 * A lock's path as the lock table keys it: relative to the workspace root, normalized, with '/'
 * separators ('.' is the root itself). Relative input is taken from the root; absolute input must
 * lie inside it. `..` that climbs out is refused. Purely lexical: symlinks are the server's
 * business (src/server/paths.ts), since the core does no I/O besides the store.
 */
export function normalizeLockPath(root: string, input: string): string {
  if (typeof input !== 'string' || input === '') {
    throw new HarnessError(ErrorCode.InvalidArgument, 'invalid lock path: must be a non-empty string');
  }
  if (input.includes('\0')) throw new HarnessError(ErrorCode.InvalidArgument, 'invalid lock path: contains a NUL byte');
  const base = path.resolve(root);
  const rel = path.relative(base, path.resolve(base, input));
  if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) {
    throw new HarnessError(
      ErrorCode.PathOutsideWorkspace,
      `lock path ${JSON.stringify(input)} is outside the workspace ${base}`,
      { path: input, workspace: base },
    );
  }
  return rel === '' ? '.' : rel.split(path.sep).join('/');
}
