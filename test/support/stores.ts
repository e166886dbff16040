import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MemoryStore } from '../../src/core/memory-store';
import { SqlJsStore } from '../../src/core/sqljs-store';
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
    name: 'SqlJsStore',
    persistent: true,
    open: async (dir = tempDir()) => ({ store: await SqlJsStore.open({ dir }), dir }),
  },
];
