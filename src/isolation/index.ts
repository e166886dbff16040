// Per-worker directory isolation (git worktrees, or plain directories outside git) and merging
// the workers' work back. The coordinator's isolation commands (src/server/handlers/isolation.ts)
// call these; tests call them directly.
export { IsolationSettings } from './config';
export { IsolationError, IsolationErrorCode } from './errors';
export {
  BRANCH_PREFIX,
  cleanup,
  ENV_FILE,
  isolate,
  listIsolated,
  merge,
  validateWorkerId,
  workerEnvironment,
  type CleanupOptions,
  type CleanupResult,
  type IsolatedWorker,
  type IsolateOptions,
  type IsolateResult,
  type IsolationListing,
  type IsolationPlace,
  type MergeOptions,
  type MergeResult,
  type PortRange,
  type StreamOutputsResult,
} from './worktrees';
