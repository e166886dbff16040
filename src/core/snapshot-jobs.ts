// Snapshot work off the event loop: reading a snapshot at start and compacting journals into a
// new one both run sql.js in a one-off worker thread, so neither blocks requests and the
// WebAssembly heap they need (which never shrinks) leaves with the thread. Where the worker's
// code cannot be found, the same functions run in this thread.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { compact, type CompactionResult } from './compaction';
import { ErrorCode, HarnessError } from './errors';
import type { FileOps } from './files';
import { applyRows, scanSnapshot, snapshotFromRows, type RowOp, type SnapshotContents } from './snapshot';
import type { Change } from './store';

export type SnapshotJob =
  | { job: 'compact'; dir: string }
  | { job: 'read'; file: string; bytes: Uint8Array }
  | { job: 'build'; seq: number; chunks: string[] };
export type WorkerMessage =
  | { meta: [string, string] }
  | { rows: RowOp; chunk: string }
  | { done: CompactionResult | SnapshotContents | Uint8Array }
  | { error: string; code?: string; details?: Record<string, unknown> };

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

function runJob(job: SnapshotJob, onMessage: (m: WorkerMessage) => void, transfer: ArrayBuffer[] = []): Promise<unknown> {
  const entry = workerEntry();
  if (!entry) return Promise.reject(new Error('the snapshot worker (snapshot-worker.js) is missing'));
  return new Promise((resolve, reject) => {
    const worker = new Worker(entry.code, { eval: entry.eval, workerData: job, transferList: transfer });
    let finished = false;
    const finish = (f: () => void) => {
      if (finished) return;
      finished = true;
      f();
    };
    worker.on('message', (m: WorkerMessage) => {
      if ('done' in m) finish(() => resolve(m.done));
      else if ('error' in m) {
        finish(() => reject(m.code ? new HarnessError(m.code as ErrorCode, m.error, m.details) : new Error(m.error)));
      } else {
        try {
          onMessage(m);
        } catch (e) {
          finish(() => reject(e));
          void worker.terminate();
        }
      }
    });
    worker.once('error', (e) => finish(() => reject(e)));
    worker.once('exit', (code) => finish(() => reject(new Error(`the snapshot worker exited (${code}) before it finished`))));
  });
}

/** Reads snapshot `bytes` into `apply` (snapshot.ts scanSnapshot), in a worker when `inWorker`. */
export async function readSnapshot(bytes: Buffer, file: string, apply: (change: Change) => void, inWorker: boolean): Promise<SnapshotContents> {
  const sink = {
    meta: (key: string, value: string) => apply({ op: 'meta', key, value }),
    rows: (op: RowOp, chunk: string) => applyRows(op, chunk, apply, file),
  };
  if (!inWorker) return scanSnapshot(bytes, file, sink);
  // The bytes move to the worker (no copy); this thread keeps nothing of them.
  const own = new Uint8Array(bytes);
  return (await runJob(
    { job: 'read', file, bytes: own },
    (m) => ('meta' in m ? sink.meta(...m.meta) : 'rows' in m ? sink.rows(m.rows, m.chunk) : undefined),
    [own.buffer as ArrayBuffer],
  )) as SnapshotContents;
}

/** Folds the sealed journals of `dir` into its snapshot (compaction.ts), in a worker when `inWorker`. */
export async function compactSealed(dir: string, files: FileOps, inWorker: boolean): Promise<CompactionResult> {
  if (!inWorker) {
    await new Promise((r) => setImmediate(r)); // off the caller's turn, as the worker would be
    return compact(dir, files, { includeActive: false });
  }
  return (await runJob({ job: 'compact', dir }, () => {})) as CompactionResult;
}

/**
 * A snapshot image of the state at record `seq` from its rows (chunks of JSON arrays of changes,
 * snapshot.ts snapshotFromRows), built in a worker when `inWorker`: a replicated log's snapshot.
 */
export async function buildSnapshot(chunks: string[], seq: number, inWorker: boolean): Promise<Uint8Array> {
  if (!inWorker) return snapshotFromRows(chunks, seq);
  return (await runJob({ job: 'build', seq, chunks }, () => {})) as Uint8Array;
}
