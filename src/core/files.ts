import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const fdatasync = promisify(fs.fdatasync);
const { O_RDONLY, O_WRONLY, O_CREAT, O_APPEND, O_TRUNC } = fs.constants;
/** State files are never opened through a symbolic link (0 where the platform has no such flag). */
const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;

/**
 * The store's whole contact with the disk. Tests wrap it to inject faults (disk full, write
 * errors) at exactly the layer where they happen for real. Every file is opened without
 * following a symbolic link: a link planted in the state directory is an error, not a redirect.
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
  /** Names in a directory. */
  list(dir: string): string[];
  rename(from: string, to: string): void;
  remove(file: string): void;
  /** Makes renames and new or removed names in `dir` survive a crash. */
  syncDirectory(dir: string): void;
}

export const nodeFileOps: FileOps = {
  readFile(file) {
    let fd: number;
    try {
      fd = fs.openSync(file, O_RDONLY | O_NOFOLLOW);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      return fs.readFileSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  },
  openAppend: (file) => fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0o600),
  // A write to the page cache takes microseconds: done on the spot, it saves the round trip to
  // the thread pool. Only the flush (fdatasync) waits for the disk, off the event loop.
  async write(fd, data) {
    let offset = 0;
    while (offset < data.length) offset += fs.writeSync(fd, data, offset, data.length - offset);
  },
  datasync: (fd) => fdatasync(fd),
  truncate: (fd, length) => fs.ftruncateSync(fd, length),
  close: (fd) => fs.closeSync(fd),
  linked: (fd) => fs.fstatSync(fd).nlink > 0,
  writeAtomic(file, data) {
    const tmp = `${file}.tmp-${process.pid}`;
    const fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0o600);
    try {
      fs.writeSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    syncDirectory(path.dirname(file));
  },
  list: (dir) => fs.readdirSync(dir),
  rename: (from, to) => fs.renameSync(from, to),
  remove: (file) => fs.rmSync(file, { force: true }),
  syncDirectory: (dir) => syncDirectory(dir),
};

/**
 * The same, with the flush done on the spot too: it blocks the thread for as long as the disk
 * takes (0.2 ms on a fast SSD, several ms on a laptop), and saves the two thread switches of
 * every group commit. Only for a process that serves nothing else (`harness serve`); never in
 * the VS Code extension host, where it would stall every extension.
 */
export const blockingFileOps: FileOps = {
  ...nodeFileOps,
  async datasync(fd) {
    fs.fdatasyncSync(fd);
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
