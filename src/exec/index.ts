export { BoundedLog } from './bounded-log';
export {
  DEFAULT_KILL_GRACE_MS,
  DEFAULT_MAX_BUFFER_BYTES,
  RunError,
  runProcess,
  type OutputChunk,
  type OutputListener,
  type OutputStream,
  type RunErrorCode,
  type RunHandle,
  type RunOptions,
  type RunResult,
} from './runner';
export { startStreamedRun, type StreamedRun } from './streamed-run';
