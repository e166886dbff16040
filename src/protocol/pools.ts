// Resource pools: capacities held by running tasks (their `resources`) and by ad-hoc holds.
import { z } from 'zod';
import { command } from './command';
import { LeaseSeconds, WaitMs } from './durations';
import { PoolCapacity, PoolName, ResourceAmounts, Timestamp, WorkerId } from './model';

export const DEFAULT_HOLD_TTL_SECONDS = 300;

export const Pool = z.object({ name: z.string(), capacity: z.number(), updated_at: Timestamp });
export type Pool = z.output<typeof Pool>;

/** Amounts of pools held outside any task (`resource_acquire`): a lease like a lock. */
export const Hold = z.object({
  id: z.string(),
  seq: z.number(),
  worker_id: z.string(),
  amounts: z.record(z.string(), z.number()),
  acquired_at: Timestamp,
  expires_at: Timestamp,
  ttl_seconds: z.number(),
});
export type Hold = z.output<typeof Hold>;

export const PoolHolder = z.object({
  kind: z.enum(['task', 'hold']),
  id: z.string(),
  worker_id: z.string().nullable(),
  amount: z.number(),
  expires_at: z.string().nullable(),
});
export type PoolHolder = z.output<typeof PoolHolder>;

export const PoolView = Pool.extend({ used: z.number(), free: z.number(), holders: z.array(PoolHolder) });
export type PoolView = z.output<typeof PoolView>;

const Ttl = LeaseSeconds;
const HoldId = z.string().min(1).max(200).describe('The hold id resource_acquire returned');

export const PoolSet = command({
  name: 'pool_set',
  kind: 'mutation',
  summary: 'Create a resource pool or change its capacity.',
  params: z.strictObject({ name: PoolName.describe('The pool; cap:NAME caps running tasks needing capability NAME'), capacity: PoolCapacity.describe('How much of it there is') }),
  result: z.object({ pool: Pool }),
});

export const PoolList = command({
  name: 'pool_list',
  kind: 'query',
  summary: 'Resource pools with capacity, use and holders, and the requests waiting.',
  params: z.strictObject({}),
  result: z.object({
    pools: z.array(PoolView),
    waiting: z.array(
      z.object({ worker_id: z.string(), amounts: z.record(z.string(), z.number()), since: Timestamp, position: z.number() }),
    ),
  }),
});

export const ResourceAcquire = command({
  name: 'resource_acquire',
  kind: 'mutation',
  summary: 'Hold amounts of resource pools for this worker, waiting up to wait_ms for them.',
  params: z.strictObject({
    worker_id: WorkerId,
    amounts: ResourceAmounts.refine((a) => Object.keys(a).length > 0, { message: 'name at least one pool' }).describe('How much of which pools, e.g. {"gpu": 1}'),
    wait_ms: WaitMs.optional().describe('How long to wait for them (default 0: fail at once)'),
    ttl_seconds: Ttl.optional().describe(`The hold ends after this long unless renewed (default ${DEFAULT_HOLD_TTL_SECONDS})`),
  }),
  result: z.object({ hold: Hold, waited_ms: z.number() }),
  fills: { worker: 'worker_id' },
  waits: 'wait_ms',
});

export const ResourceRelease = command({
  name: 'resource_release',
  kind: 'mutation',
  summary: 'Release a hold of this worker.',
  params: z.strictObject({ worker_id: WorkerId, hold_id: HoldId }),
  result: z.object({ released: Hold }),
  fills: { worker: 'worker_id' },
});

export const ResourceRenew = command({
  name: 'resource_renew',
  kind: 'mutation',
  summary: 'Extend a hold of this worker by its TTL (or ttl_seconds).',
  params: z.strictObject({ worker_id: WorkerId, hold_id: HoldId, ttl_seconds: Ttl.optional().describe('New TTL from now') }),
  result: z.object({ hold: Hold }),
  fills: { worker: 'worker_id' },
});

export const POOL_COMMANDS = [PoolSet, PoolList, ResourceAcquire, ResourceRelease, ResourceRenew] as const;
