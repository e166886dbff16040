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
