// Per-worker directory isolation (git worktrees, or plain directories outside git) and merging
// the workers' work back. In-process API for the extension; the socket commands and the CLI use it.
export { ISOLATION_COMMANDS, type IsolationCommandContext } from './commands';
export { configPath, loadIsolationConfig, type IsolationConfig, type IsolationSettings } from './config';
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
  type MergeOptions,
  type MergeResult,
  type PortRange,
  type StreamOutputsResult,
} from './worktrees';
