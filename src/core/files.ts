import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const write = promisify(fs.write);
const fdatasync = promisify(fs.fdatasync);

/**
 * The store's whole contact with the disk. Tests wrap it to inject faults (disk full, write
 * errors) at exactly the layer where they happen for real.
 */
export interface FileOps {
  /** The whole file, or undefined when it does not exist. */
  readFile(file: string): Buffer | undefined;
  openAppend(file: string): number;
  write(fd: number, data: Buffer): Promise<void>;
  datasync(fd: number): Promise<void>;
  truncate(fd: number, length: number): void;
  close(fd: number): void;
  /** Whether the open file still has a name on disk (false once it was deleted); optional. */
  linked?(fd: number): boolean;
  /** Replaces `file` so that a crash leaves either the old or the new content, never a mix. */
  writeAtomic(file: string, data: Uint8Array): void;
}

export const nodeFileOps: FileOps = {
  readFile(file) {
    try {
      return fs.readFileSync(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  },
  openAppend: (file) => fs.openSync(file, 'a', 0o600),
  async write(fd, data) {
    let offset = 0;
    while (offset < data.length) {
      const { bytesWritten } = await write(fd, data, offset, data.length - offset);
      offset += bytesWritten;
    }
  },
  datasync: (fd) => fdatasync(fd),
  truncate: (fd, length) => fs.ftruncateSync(fd, length),
  close: (fd) => fs.closeSync(fd),
  linked: (fd) => fs.fstatSync(fd).nlink > 0,
  writeAtomic(file, data) {
    const tmp = `${file}.tmp-${process.pid}`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    syncDirectory(path.dirname(file));
  },
};

/** Makes a rename or a new file in `dir` survive a crash. */
export function syncDirectory(dir: string): void {
  if (process.platform === 'win32') return; // directories cannot be opened for fsync there
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
