import * as path from 'node:path';
import { DurableStore, type DurableStoreOptions } from './durable-store';
import { FileLog } from './file-log';
import { nodeFileOps, type FileOps } from './files';
import { workersAvailable } from './snapshot-jobs';
import { prepareStateDirectory } from './state-dir';
import { acquireStateLock, type StateLock } from './state-lock';

export { JOURNAL_FILE } from './journal-files';
export { SNAPSHOT_FILE } from './snapshot';

export interface FileStoreOptions extends DurableStoreOptions {
  /** The state directory, e.g. `<workspace>/.harness`. */
  dir: string;
  files?: FileOps;
  /** Start a snapshot (and a fresh journal) once the journal grows past this. */
  snapshotAfterBytes?: number;
  /** Snapshots written in a worker thread (the default where its code is found). */
  workers?: boolean;
}

/**
 * The durable store of one workspace: the state in memory (durable-store.ts) behind the file log
 * (file-log.ts) in the state directory, which this process locks for as long as it is open.
 */
export class FileStore extends DurableStore {
  private lock: StateLock | undefined;

  static async open(options: FileStoreOptions): Promise<FileStore> {
    const started = performance.now();
    const dir = path.resolve(options.dir);
    prepareStateDirectory(dir);
    const lock = acquireStateLock(dir);
    const report = options.log ?? (() => {});
    const log = new FileLog({
      dir,
      files: options.files ?? nodeFileOps,
      snapshotAfterBytes: options.snapshotAfterBytes ?? 16 * 1024 * 1024,
      workers: options.workers ?? workersAvailable(),
      log: report,
    });
    const store = new FileStore(log, report);
    log.liveRows = () => store.rowCount;
    try {
      await store.loadFromLog();
    } catch (e) {
      await log.settled();
      lock.release();
      throw e;
    }
    store.lock = lock;
    store.stats.open_ms = performance.now() - started;
    return store;
  }

  override async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      this.lock?.release();
      this.lock = undefined;
    }
  }
}
