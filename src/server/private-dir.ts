import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, HarnessError } from '../protocol/errors';
import type { Logger } from '../protocol/log';

const modeOf = (st: fs.Stats) => (st.mode & 0o7777).toString(8);

/**
 * Creates the socket's directory owner-only, and refuses one that someone else could enter.
 * A directory of the user's own that others may enter is made private (0700) only when it holds
 * nothing but sockets, as a directory made for them does, and the change is logged; one with
 * other contents is refused, since making, say, a project folder 0700 would lock everyone else
 * out of it without a word.
 */
export function ensurePrivateDirectory(dir: string, socketPath: string, log: Logger): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (process.platform === 'win32') return;
  const st = fs.statSync(dir);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw new HarnessError(ErrorCode.InvalidArgument, `socket directory ${dir} belongs to another user (uid ${st.uid}); refusing to use it`, {
      directory: dir,
    });
  }
  if ((st.mode & 0o1002) !== 0) {
    // Sticky or world-writable: a directory meant for everyone (/tmp itself, when root runs
    // `serve --socket /tmp/x.sock`). Making it 0700 would lock every other user out of it.
    throw new HarnessError(
      ErrorCode.InvalidArgument,
      `socket directory ${dir} is shared with other users (mode ${modeOf(st)}); ` +
        'refusing to make it private: put the socket in a directory of its own',
      { directory: dir },
    );
  }
  if ((st.mode & 0o077) === 0) return;
  // Sockets (this one left by a coordinator that died, other workspaces' in the default
  // directory) are what such a directory is for; anything else means it is not ours alone.
  const others = fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((entry) => !entry.isSocket() && entry.name !== path.basename(socketPath))
    .map((entry) => entry.name);
  if (others.length > 0) {
    throw new HarnessError(
      ErrorCode.InvalidArgument,
      `socket directory ${dir} is open to others (mode ${modeOf(st)}) and holds other files (${others.slice(0, 3).join(', ')}${others.length > 3 ? ', ...' : ''}); ` +
        `refusing to change its mode to 0700: put the socket in a directory of its own, or make this one private yourself (chmod 700 ${dir})`,
      { directory: dir, mode: modeOf(st) },
    );
  }
  fs.chmodSync(dir, 0o700);
  log.warn(`made the socket directory ${dir} private (mode ${modeOf(st)} → 700): only its owner may reach the socket`);
}
