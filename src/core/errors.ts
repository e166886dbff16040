/**
 * Every failure the coordinator reports carries a machine code. The edges (socket, CLI, UI)
 * show `message` to people and let programs branch on `code`.
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
  /**
   * Cluster mode: this coordinator does not lead (any more); nothing was applied. Forwarding
   * sends the request again to the leader; a client sees it only when none is found in time.
   */
  NotLeader: 'NOT_LEADER',
  /**
   * Cluster mode: the change could not be confirmed (the log or the leader went away mid-write).
   * It may or may not have been applied: look, or send it again where that is safe.
   */
  Unavailable: 'UNAVAILABLE',
  Internal: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class HarnessError extends Error {
  override readonly name = 'HarnessError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Machine-readable context that goes on the wire next to the message. */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export function isHarnessError(e: unknown): e is HarnessError {
  return e instanceof HarnessError;
}

/** The message of anything thrown, for logs and error replies. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
