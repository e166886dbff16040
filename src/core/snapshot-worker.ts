// The snapshot worker thread (snapshot-jobs.ts runs it): one job, then it exits and its memory,
// sql.js's WebAssembly heap above all, goes with it.
import { parentPort, workerData } from 'node:worker_threads';
import { compact } from './compaction';
import { describeError, isHarnessError } from './errors';
import { nodeFileOps } from './files';
import { scanSnapshot, snapshotFromRows } from './snapshot';
import type { SnapshotJob, WorkerMessage } from './snapshot-jobs';

const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(m, transfer);
const job = workerData as SnapshotJob;
const run =
  job.job === 'compact'
    ? compact(job.dir, nodeFileOps, { includeActive: false })
    : job.job === 'build'
      ? snapshotFromRows(job.chunks, job.seq)
      : scanSnapshot(job.bytes, job.file, { meta: (key, value) => post({ meta: [key, value] }), rows: (op, chunk) => post({ rows: op, chunk }) });
run.then(
  // An image moves to the parent thread without a copy.
  (done) => post({ done }, done instanceof Uint8Array ? [done.buffer as ArrayBuffer] : []),
  (e: unknown) => post({ error: describeError(e), ...(isHarnessError(e) ? { code: e.code, details: e.details } : {}) }),
);
