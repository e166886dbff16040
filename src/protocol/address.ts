import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * The socket a workspace's coordinator listens on and its clients connect to: stable for the
 * workspace (a terminal that outlives a window reload finds it again), short enough for the
 * ~104-byte Unix limit, in a directory only this user may enter.
 */
export function defaultSocketPath(workspace: string): string {
  const hash = createHash('sha256').update(canonical(workspace)).digest('hex').slice(0, 16);
  if (process.platform === 'win32') return `\\\\.\\pipe\\agent-harness-${hash}`;
  return path.join(socketDirectory(), `${hash}.sock`);
}

/** The folder in a workspace that holds its coordinator's state (unless a setting moves it). */
export const STATE_DIR_NAME = '.harness';

/**
 * The workspace a directory belongs to, as git finds a repository from any folder in it: inside a
 * state folder (`<workspace>/.harness/...`, where isolated worktrees live) that workspace; else the
 * nearest folder at or above `dir` holding a `.harness` folder, looking no higher than the top of a
 * git repository and never at the home folder or the filesystem's root; else `dir` itself.
 */
export function enclosingWorkspace(dir: string, home = os.homedir()): string {
  const segments = dir.split(path.sep);
  const inState = segments.indexOf(STATE_DIR_NAME);
  if (inState > 0) return segments.slice(0, inState).join(path.sep) || path.sep;
  for (let d = dir; d !== home && path.dirname(d) !== d; d = path.dirname(d)) {
    if (isDirectory(path.join(d, STATE_DIR_NAME))) return d;
    if (fs.existsSync(path.join(d, '.git'))) break;
  }
  return dir;
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function canonical(dir: string): string {
  try {
    return fs.realpathSync(path.resolve(dir));
  } catch {
    return path.resolve(dir);
  }
}

function socketDirectory(): string {
  const runtime = process.env.XDG_RUNTIME_DIR;
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  return runtime && fs.existsSync(runtime) ? path.join(runtime, 'agent-harness') : path.join(os.tmpdir(), `agent-harness-${uid}`);
}
