/**
 * Every failure harness reports carries a machine code. Programs branch on `code`; people read
 * `message`, and each edge (CLI, VS Code, MCP) adds the words of `error-words.ts` for the code.
 * Shared by every side: the core throws these, the dispatcher turns them into error replies, the
 * client turns error replies back into them.
 */
export const ErrorCode = {
  InvalidArgument: 'INVALID_ARGUMENT',
  NotFound: 'NOT_FOUND',
  AlreadyExists: 'ALREADY_EXISTS',
  UnknownDependency: 'UNKNOWN_DEPENDENCY',
  Cycle: 'CYCLE',
  InvalidTransition: 'INVALID_TRANSITION',
  NotClaimedBy: 'NOT_CLAIMED_BY',
  StaleFencingToken: 'STALE_FENCING_TOKEN',
  InstanceLimit: 'INSTANCE_LIMIT',
  InstanceStale: 'INSTANCE_STALE',
  StateLocked: 'STATE_LOCKED',
  StateCorrupt: 'STATE_CORRUPT',
  /** The state directory is a symbolic link or belongs to someone else: writing there is refused. */
  StateUnsafe: 'STATE_UNSAFE',
  Storage: 'STORAGE_ERROR',
  Closed: 'CLOSED',
  Timeout: 'TIMEOUT',
  Conflict: 'CONFLICT',
  PathOutsideWorkspace: 'PATH_OUTSIDE_WORKSPACE',
  LeaseExpired: 'LEASE_EXPIRED',
  UnknownPool: 'UNKNOWN_POOL',
  OverCapacity: 'OVER_CAPACITY',
  /** `.harness/config.json` does not parse or validate; the message names the field. */
  InvalidConfig: 'INVALID_CONFIG',
  /**
   * Cluster mode: this coordinator does not lead (any more); nothing was applied. Forwarding
   * sends the request again to the leader; a client sees it only when none is found in time.
   */
  NotLeader: 'NOT_LEADER',
  /**
   * Cluster mode: the change could not be confirmed (the log or the leader went away mid-write).
   * It may or may not have been applied (`details.outcome`: "unknown"): look, or send it again
   * where that is safe.
   */
  Unavailable: 'UNAVAILABLE',
  Internal: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Codes of per-worker isolation (git worktrees); they travel like the core's. */
export const IsolationErrorCode = {
  InvalidConfig: ErrorCode.InvalidConfig,
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

/** Codes only a client-side edge produces (never a coordinator reply). */
export const EdgeErrorCode = {
  /** The CLI was called wrongly: exit status 2, with the command's usage. */
  Usage: 'USAGE',
  /** `harness wait`: the group finished, but not every task of it completed. */
  GroupFailed: 'GROUP_FAILED',
  /** exec: the command could not be started. */
  SpawnFailed: 'SPAWN_FAILED',
  /** exec: options that make no sense together. */
  InvalidOptions: 'INVALID_OPTIONS',
} as const;
export type EdgeErrorCode = (typeof EdgeErrorCode)[keyof typeof EdgeErrorCode];

/** Any code that may appear in an error reply or a CLI's output. */
export type AnyErrorCode = ErrorCode | IsolationErrorCode | EdgeErrorCode;

/**
 * Marks a HarnessError wherever its class came from. The CLI and `harness mcp` are separate
 * bundles (scripts/build.mjs), each with its own copy of this class, so an error thrown in one
 * fails a plain `instanceof` in the other and would be reported as a bug in harness.
 */
const BRAND = Symbol.for('agent-harness.HarnessError');

export class HarnessError extends Error {
  /** `x instanceof HarnessError` by the brand (any bundle's copy); a subclass checks its own prototype as usual. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== HarnessError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  override readonly name: string = 'HarnessError';
  constructor(
    readonly code: AnyErrorCode,
    message: string,
    /** Machine-readable context that goes on the wire next to the message. */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}
Object.defineProperty(HarnessError.prototype, BRAND, { value: true });

export function isHarnessError(e: unknown): e is HarnessError {
  return e instanceof HarnessError;
}

/** The message of anything thrown, for logs and error replies. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Why a file could not be read, in words (`no such file`), not the raw errno (`ENOENT`). */
export function describeFileError(e: unknown): string {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  const words: Record<string, string> = {
    ENOENT: 'no such file',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EISDIR: 'it is a directory',
    ENOTDIR: 'a part of the path is not a directory',
  };
  return typeof code === 'string' && Object.hasOwn(words, code) ? words[code]! : describeError(e);
}
