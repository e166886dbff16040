import { ErrorCode, HarnessError } from '../core/errors';

/**
 * The codes isolation adds to the core's (`INVALID_ARGUMENT`, `NOT_FOUND`, `ALREADY_EXISTS`,
 * `CONFLICT`, `TIMEOUT`, `INTERNAL` are reused as they are). They travel on the wire like the
 * core's: a program branches on `code`, a person reads `message`, `details` says the specifics.
 */
export const IsolationErrorCode = {
  /** A `.harness/config.json` that does not parse or validate; the message names the field. */
  InvalidConfig: 'INVALID_CONFIG',
  /** `merge --into`, or anything needing git, outside a git repository. */
  NotAGitRepo: 'NOT_A_GIT_REPO',
  /** The main worktree (or a worker's, for cleanup) has uncommitted changes. */
  DirtyWorktree: 'DIRTY_WORKTREE',
  /** A worker's branch does not merge cleanly; nothing was changed. */
  MergeConflict: 'MERGE_CONFLICT',
  /** git refused a merge for another reason (untracked files in the way, no identity, a hook). */
  MergeFailed: 'MERGE_FAILED',
  /** Cleanup would throw away commits that are not in the target branch. */
  UnmergedWork: 'UNMERGED_WORK',
  /** `harness/<worker>` exists but cannot be used (checked out elsewhere, or not at --base). */
  BranchExists: 'BRANCH_EXISTS',
  /** The main worktree is on a detached HEAD and no --into was given. */
  DetachedHead: 'DETACHED_HEAD',
  /** The setup command failed or timed out; the new worktree was removed again. */
  SetupFailed: 'SETUP_FAILED',
  /** Every port range the configuration allows is taken. */
  PortsExhausted: 'PORTS_EXHAUSTED',
  /** Another process is working on this worker right now (its setup is running). */
  Busy: 'BUSY',
  /** A git command failed in a way none of the above covers; the message carries git's. */
  Git: 'GIT_ERROR',
} as const;
export type IsolationErrorCode = (typeof IsolationErrorCode)[keyof typeof IsolationErrorCode];

/**
 * A HarnessError with an isolation code, so the socket server, the CLI and the extension report
 * it like any other (code, message, details).
 */
export class IsolationError extends HarnessError {
  constructor(code: IsolationErrorCode | ErrorCode, message: string, details?: Record<string, unknown>) {
    // The core's ErrorCode union does not list the isolation codes; on the wire a code is a string.
    super(code as ErrorCode, message, details);
  }
}

export { ErrorCode };
