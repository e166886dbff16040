// The records the coordinator keeps and sends (tasks, instances), as zod schemas: the one
// definition of their shape for every side. The core's types are inferred from these.
import { z } from 'zod';
import { atMostSeconds, LeaseSeconds, MAX_DURATION_SECONDS } from './durations';
import { JsonValue } from './json-value';

export const TASK_STATUSES = ['pending', 'running', 'completed', 'dead_letter', 'cancelled'] as const;
export const TaskStatus = z.enum(TASK_STATUSES).describe('pending (ready or blocked), running, completed, dead_letter, cancelled');
export type TaskStatus = z.infer<typeof TaskStatus>;

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export { JsonValue };

/** Ids go into file names, branch names and terminal titles, so keep them printable. */
export const Id = z
  .string()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .regex(/^[^\s\u0000-\u001f\u007f]+$/, 'must not contain spaces or control characters');

export const WorkerId = Id.describe('The worker: the id it registered with (harness worker-id prints it)');
export const TaskId = Id.describe('The task id');
/** A holder's proof that its lease is still the current one. */
export const FencingToken = z
  .number()
  .int()
  .min(0)
  .describe('The fencing_token the claim returned; a stale one is refused (the lease was taken over)');

export const Capability = z.string().min(1).max(100);
export const Timestamp = z.string().describe('ISO-8601 UTC with milliseconds');

/** Resource pool names; a pool `cap:NAME` caps how many tasks needing capability NAME run at once. */
export const PoolName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'may hold only letters, digits and _ . : -');
/** Amounts of pools, e.g. `{"cpu_cores": 2}`: whole positive numbers. */
export const ResourceAmounts = z.record(PoolName, z.number().int().positive().max(1_000_000_000));
export const PoolCapacity = z.number().int().min(0).max(1_000_000_000);
/** A plan's pools: capacities set in the same transaction as its tasks. */
export const PlanPools = z.record(PoolName, PoolCapacity).describe('Resource pools to create or resize, by name: {"gpu": 2}');

/**
 * Where a task came from (a GitHub issue, a webhook sender), shown as a link in the panel and the
 * Tasks tree. Only http(s) URLs: the link is rendered in views, and another scheme could run code.
 */
export const TaskSource = z.strictObject({
  kind: z.string().min(1).max(50).describe('What made it, e.g. github-issue'),
  url: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .max(2000)
    .optional()
    .describe('A link to where it came from (http or https)'),
  title: z.string().max(500).optional().describe('A title to show with the link'),
});
export type TaskSource = z.output<typeof TaskSource>;

/**
 * How long a failed task waits before it may be claimed again: `delay_seconds` after the first
 * failure, then the same (fixed) or doubling each attempt (exponential), never more than
 * `max_delay_seconds`.
 */
export const RetryBackoff = z.strictObject({
  strategy: z.enum(['fixed', 'exponential']).default('exponential').describe('fixed: the same wait each time; exponential: doubling (default)'),
  delay_seconds: z
    .number()
    .min(0, 'must be 0 or more seconds')
    .max(MAX_DURATION_SECONDS, `must be ${atMostSeconds(MAX_DURATION_SECONDS)}`)
    .describe('The wait after the first failure; 0 retries at once'),
  max_delay_seconds: LeaseSeconds.optional().describe('The longest wait'),
});
export type RetryBackoff = z.output<typeof RetryBackoff>;

/** What a user gives to add a task: in a plan file, over the socket, from the CLI or the UI. */
export const TaskInput = z.strictObject({
  id: Id.optional().describe('Unique task id; generated when left out'),
  description: z.string().max(10_000).optional().describe('What to do (default empty)'),
  dependencies: z
    .array(Id)
    .max(1000)
    .optional()
    .describe('Ids of tasks that must complete first; "group:NAME" waits for every task of a group'),
  priority: z.number().int().min(-1_000_000).max(1_000_000).optional().describe('Higher runs first (default 0)'),
  capabilities: z.array(Capability).max(100).optional().describe('Only workers with all of these may claim it'),
  timeout_seconds: LeaseSeconds.optional().describe('Lease length; the coordinator default when left out'),
  max_attempts: z.number().int().min(1).max(1000).optional().describe('Attempts before it is dead-lettered; the coordinator default when left out'),
  payload: JsonValue.optional().describe('Any JSON the worker gets with the task'),
  resources: ResourceAmounts.optional().describe('Amounts of resource pools the task holds while it runs, e.g. {"gpu": 1}'),
  group: Id.optional().describe('The group of parallel streams it belongs to (harness wait --group)'),
  source: TaskSource.optional().describe('Where it came from (an issue, a webhook), shown as a link'),
  retry_backoff: RetryBackoff.optional().describe('The wait between a failure and the next attempt; the coordinator default when left out'),
});
export type TaskInput = z.output<typeof TaskInput>;

export const TaskProgress = z.object({
  percent: z.number(),
  message: z.string().nullable(),
  at: Timestamp,
});
export type TaskProgress = z.output<typeof TaskProgress>;

export const Task = z.object({
  id: z.string(),
  description: z.string(),
  dependencies: z.array(z.string()),
  priority: z.number(),
  capabilities: z.array(z.string()),
  timeout_seconds: z.number(),
  max_attempts: z.number(),
  attempts: z.number(),
  status: TaskStatus,
  claimed_by: z.string().nullable(),
  fencing_token: z.number().describe('Grows by one at every claim of this task; a holder must present the current one'),
  started_at: z.string().nullable(),
  lease_expires_at: z.string().nullable(),
  completed_at: z.string().nullable(),
  duration_ms: z.number().nullable(),
  result: JsonValue.nullable(),
  error: z.string().nullable(),
  created_at: z.string(),
  payload: JsonValue.nullable(),
  resources: z.record(z.string(), z.number()).optional().describe('Amounts of resource pools held while it runs; absent when it declares none'),
  group: z.string().optional().describe('The group of parallel streams it belongs to; absent when none'),
  progress: TaskProgress.optional().describe("The holder's latest progress report"),
  source: TaskSource.optional().describe('Where it came from (an issue, a webhook); absent for tasks added by hand'),
  retry_backoff: RetryBackoff.optional().describe('Its own retry backoff; absent when it uses the coordinator default'),
  retry_at: Timestamp.optional().describe('After a failure with a backoff: the earliest time of the next attempt (not claimable before)'),
});
export type Task = z.output<typeof Task>;

export const INSTANCE_STATUSES = ['live', 'stale'] as const;
export const InstanceStatus = z.enum(INSTANCE_STATUSES);
export type InstanceStatus = z.output<typeof InstanceStatus>;

export const Instance = z.object({
  worker_id: z.string(),
  name: z.string(),
  capabilities: z.array(z.string()),
  pid: z.number().nullable(),
  status: InstanceStatus,
  registered_at: z.string(),
  last_seen: z.string(),
});
export type Instance = z.output<typeof Instance>;

/** An instance as listed: with what a person wants to see next to it. */
export const InstanceView = Instance.extend({
  last_seen_age_ms: z.number(),
  current_task: z.string().nullable(),
});
export type InstanceView = z.output<typeof InstanceView>;

export const StatusCounts = z.object({
  pending: z.number(),
  running: z.number(),
  completed: z.number(),
  dead_letter: z.number(),
  cancelled: z.number(),
});
export type StatusCounts = z.output<typeof StatusCounts>;
