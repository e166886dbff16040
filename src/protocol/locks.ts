// File locks: leases on workspace paths, exclusive (write) or shared (read), with fencing tokens.
import { z } from 'zod';
import { command } from './command';
import { LeaseSeconds, WaitMs } from './durations';
import { Timestamp, WorkerId } from './model';

export const DEFAULT_LOCK_TTL_SECONDS = 60;

export const LockMode = z.enum(['read', 'write']);
export type LockMode = z.output<typeof LockMode>;

/** A granted file lock: a lease on a path, relative to the workspace root, with '/' separators. */
export const Lock = z.object({
  token: z.number().describe('Fencing token: grows by one at every grant, over all paths'),
  path: z.string(),
  mode: LockMode,
  worker_id: z.string(),
  acquired_at: Timestamp,
  expires_at: Timestamp,
  ttl_seconds: z.number(),
});
export type Lock = z.output<typeof Lock>;

export const LockWaiter = z.object({
  path: z.string(),
  worker_id: z.string(),
  mode: LockMode,
  wait_ms: z.number(),
  since: Timestamp,
  position: z.number().describe('1 is next in line'),
});

const LockPath = z.string().min(1).max(4096).describe('The file or directory, absolute or relative to the workspace');
const Ttl = LeaseSeconds;
const LockToken = z.number().int().positive().describe('The token the grant returned');

export const LockAcquire = command({
  name: 'lock_acquire',
  kind: 'mutation',
  summary: 'Lock a file for this worker (write: exclusive; read: shared), waiting up to wait_ms for it.',
  params: z.strictObject({
    worker_id: WorkerId,
    path: LockPath,
    mode: LockMode.optional().describe('write (exclusive, default) or read (shared with other readers)'),
    ttl_seconds: Ttl.optional().describe(`The lock ends after this long unless renewed (default ${DEFAULT_LOCK_TTL_SECONDS})`),
    wait_ms: WaitMs.optional().describe('How long to wait for a lock held by others (default 0: fail at once)'),
  }),
  result: z.object({ lock: Lock, waited_ms: z.number() }),
  fills: { worker: 'worker_id' },
  waits: 'wait_ms',
});

export const LockRelease = command({
  name: 'lock_release',
  kind: 'mutation',
  summary: "Release this worker's locks on a path, or the one with a token.",
  params: z
    .strictObject({ worker_id: WorkerId, path: LockPath.optional(), token: LockToken.optional() })
    .refine((p) => p.path !== undefined || p.token !== undefined, { message: 'give the path or the token of the lock', path: ['path'] }),
  result: z.object({ released: z.array(Lock) }),
  fills: { worker: 'worker_id' },
});

export const LockRenew = command({
  name: 'lock_renew',
  kind: 'mutation',
  summary: 'Extend a lock this worker holds by its TTL (or ttl_seconds).',
  params: z.strictObject({ worker_id: WorkerId, token: LockToken, ttl_seconds: Ttl.optional().describe('New TTL from now') }),
  result: z.object({ lock: Lock }),
  fills: { worker: 'worker_id' },
});

export const LockList = command({
  name: 'lock_list',
  kind: 'query',
  summary: 'Held locks (of one path, if given) and the requests waiting for them.',
  params: z.strictObject({ path: LockPath.optional() }),
  result: z.object({ locks: z.array(Lock), waiting: z.array(LockWaiter) }),
});

export const LOCK_COMMANDS = [LockAcquire, LockRelease, LockRenew, LockList] as const;
