// The snapshot worker thread (snapshot-jobs.ts runs it): one compaction (or one snapshot built from
// rows), then it exits and its memory, sql.js's WebAssembly heap above all, goes with it.
import { parentPort, workerData } from 'node:worker_threads';
import { compact } from './compaction';
import { describeError, isHarnessError } from './errors';
import { nodeFileOps } from './files';
import { snapshotFromRows } from './snapshot';
import type { SnapshotJob, WorkerMessage } from './snapshot-jobs';

const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(m, transfer);
const job = workerData as SnapshotJob;
const run = job.job === 'compact' ? compact(job.dir, nodeFileOps, { includeActive: false }) : snapshotFromRows(job.chunks, job.seq);
run.then(
  // An image moves to the parent thread without a copy.
  (done) => post({ done }, done instanceof Uint8Array ? [done.buffer as ArrayBuffer] : []),
  (e: unknown) => post({ error: describeError(e), ...(isHarnessError(e) ? { code: e.code, details: e.details } : {}) }),
);
