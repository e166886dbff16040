// The snapshot worker thread (snapshot-jobs.ts runs it): one compaction, then it exits and its
// memory, sql.js's WebAssembly heap above all, goes with it.
import { parentPort, workerData } from 'node:worker_threads';
import { compact } from './compaction';
import { describeError, isHarnessError } from './errors';
import { nodeFileOps } from './files';
import type { SnapshotJob, WorkerMessage } from './snapshot-jobs';

const post = (m: WorkerMessage) => parentPort!.postMessage(m);
const job = workerData as SnapshotJob;
compact(job.dir, nodeFileOps, { includeActive: false }).then(
  (done) => post({ done }),
  (e: unknown) => post({ error: describeError(e), ...(isHarnessError(e) ? { code: e.code, details: e.details } : {}) }),
);
