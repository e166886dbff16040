import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileStore } from '../../src/core/file-store';
import { MemoryStore } from '../../src/core/memory-store';
import type { Store } from '../../src/core/store';

export function tempDir(prefix = 'harness-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Every store implementation, for suites that must hold for all of them. */
export interface StoreFactory {
  name: string;
  persistent: boolean;
  /** A fresh store, or with `dir`, the store over that directory (reopened). */
  open(dir?: string): Promise<{ store: Store; dir: string }>;
}

export const storeFactories: StoreFactory[] = [
  {
    name: 'MemoryStore',
    persistent: false,
    open: async () => ({ store: new MemoryStore(), dir: '' }),
  },
  {
    // Snapshots read and written in this thread: what the fault-injection tests need.
    name: 'FileStore',
    persistent: true,
    open: async (dir = tempDir()) => ({ store: await FileStore.open({ dir, workers: false }), dir }),
  },
];

/**
 * The same file store with snapshots read and written in a worker thread, as `harness serve`
 * runs it, and a small snapshot threshold so that background snapshots happen within a test.
 */
export const workerFileStore: StoreFactory = {
  name: 'FileStore (worker snapshots, small journal)',
  persistent: true,
  open: async (dir = tempDir()) => ({ store: await FileStore.open({ dir, workers: true, snapshotAfterBytes: 4096 }), dir }),
};
