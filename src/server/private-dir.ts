import * as fs from 'node:fs';

/** Creates the socket's directory owner-only, and refuses one that someone else could enter. */
export function ensurePrivateDirectory(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (process.platform === 'win32') return;
  const st = fs.statSync(dir);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw new Error(`socket directory ${dir} belongs to another user (uid ${st.uid}); refusing to use it`);
  }
  if ((st.mode & 0o1002) !== 0) {
    // Sticky or world-writable: a directory meant for everyone (/tmp itself, when root runs
    // `serve --socket /tmp/x.sock`). Making it 0700 would lock every other user out of it.
    throw new Error(
      `socket directory ${dir} is shared with other users (mode ${(st.mode & 0o7777).toString(8)}); ` +
        'refusing to make it private: put the socket in a directory of its own',
    );
  }
  if ((st.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
}
