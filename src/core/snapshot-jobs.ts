// Snapshot work: compacting journals into a new snapshot runs sql.js in a one-off worker thread, so
// it never blocks requests and the WebAssembly heap it needs to build a whole database (which
// never shrinks) leaves with the thread. Where the worker's code cannot be found, it runs in this
// thread. Reading a snapshot at start runs here (see readSnapshot).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { compact, type CompactionResult } from './compaction';
import { ErrorCode, HarnessError } from './errors';
import type { FileOps } from './files';
import { applyRows, scanSnapshot, snapshotFromRows, type SnapshotContents } from './snapshot';
import type { Change } from './store';

export type SnapshotJob = { job: 'compact'; dir: string } | { job: 'build'; seq: number; chunks: string[] };
export type WorkerMessage = { done: CompactionResult | Uint8Array } | { error: string; code?: string; details?: Record<string, unknown> };

/**
 * The worker's code: `snapshot-worker.js` beside the bundle (dist/), or, running from source
 * (tests), the TypeScript entry loaded through tsx.
 */
function workerEntry(): { code: string; eval: boolean } | undefined {
  const bundled = path.join(__dirname, 'snapshot-worker.js');
  if (fs.existsSync(bundled)) return { code: bundled, eval: false };
  const source = path.join(__dirname, 'snapshot-worker.ts');
  if (!fs.existsSync(source)) return undefined;
  try {
    const tsx = require.resolve('tsx/cjs');
    return { code: `require(${JSON.stringify(tsx)}); require(${JSON.stringify(source)});`, eval: true };
  } catch {
    return undefined;
  }
}

export function workersAvailable(): boolean {
  return workerEntry() !== undefined;
}

function runJob(job: SnapshotJob): Promise<unknown> {
  const entry = workerEntry();
  if (!entry) return Promise.reject(new Error('the snapshot worker (snapshot-worker.js) is missing'));
  return new Promise((resolve, reject) => {
    const worker = new Worker(entry.code, { eval: entry.eval, workerData: job });
    let finished = false;
    const finish = (f: () => void) => {
      if (finished) return;
      finished = true;
      f();
    };
    worker.on('message', (m: WorkerMessage) => {
      if ('done' in m) finish(() => resolve(m.done));
      else finish(() => reject(m.code ? new HarnessError(m.code as ErrorCode, m.error, m.details) : new Error(m.error)));
    });
    worker.once('error', (e) => finish(() => reject(e)));
    worker.once('exit', (code) => finish(() => reject(new Error(`the snapshot worker exited (${code}) before it finished`))));
  });
}

/**
 * Reads snapshot `bytes` into `apply`, in this thread: measured at 100k tasks, a worker thread
 * made opening slower (its start, the hand-over of every chunk) and saved no memory, since sql.js
 * only reads the file here and SQLite's page cache is small.
 */
export function readSnapshot(bytes: Buffer, file: string, apply: (change: Change) => void): Promise<SnapshotContents> {
  return scanSnapshot(bytes, file, {
    meta: (key, value) => apply({ op: 'meta', key, value }),
    rows: (op, chunk) => applyRows(op, chunk, apply, file),
  });
}

/** Folds the sealed journals of `dir` into its snapshot (compaction.ts), in a worker when `inWorker`. */
export async function compactSealed(dir: string, files: FileOps, inWorker: boolean): Promise<CompactionResult> {
  if (!inWorker) {
    await new Promise((r) => setImmediate(r)); // off the caller's turn, as the worker would be
    return compact(dir, files, { includeActive: false });
  }
  return (await runJob({ job: 'compact', dir })) as CompactionResult;
}

/**
 * A snapshot image of the state at record `seq` from its rows (chunks of JSON arrays of changes,
 * snapshot.ts snapshotFromRows), built in a worker when `inWorker`: a replicated log's snapshot,
 * which, like a compaction, builds a whole database.
 */
export async function buildSnapshot(chunks: string[], seq: number, inWorker: boolean): Promise<Uint8Array> {
  if (!inWorker) return snapshotFromRows(chunks, seq);
  return (await runJob({ job: 'build', seq, chunks })) as Uint8Array;
}
