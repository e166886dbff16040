// Copies what another process appends to a file onto a stream, live: the extension host writes
// mocha's report to a file (its own stdout cannot be redirected), and the launchers follow it.
import { closeSync, openSync, readSync } from 'node:fs';

/** Copies what is appended to `path` to `out` every 200 ms; stop() copies the rest first. */
export function followFile(path, out) {
  const fd = openSync(path, 'r');
  const buffer = Buffer.alloc(64 * 1024);
  let offset = 0;
  let stopped = false;
  const pump = () => {
    for (let n; (n = readSync(fd, buffer, 0, buffer.length, offset)) > 0; offset += n) {
      out.write(buffer.subarray(0, n));
    }
  };
  const timer = setInterval(pump, 200);
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      pump();
      closeSync(fd);
    },
  };
}
