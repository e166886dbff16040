import { z } from 'zod';
import { JsonValue } from './json-value';

export const TASK_STATUSES = ['pending', 'running', 'completed', 'dead_letter', 'cancelled'] as const;
export const TaskStatus = z.enum(TASK_STATUSES);
export type TaskStatus = z.infer<typeof TaskStatus>;

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export { JsonValue };

/** Ids go into file names, branch names and terminal titles, so keep them printable. */
export const Id = z
  .string()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .regex(/^[^\s\u0000-\u001f\u007f]+$/, 'must not contain spaces or control characters');

const Capability = z.string().min(1).max(100);

/** Resource pool names; a pool `cap:NAME` caps how many tasks needing capability NAME run at once. */
export const PoolName = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'may hold only letters, digits and _ . : -');
/** Amounts of pools, e.g. `{"cpu_cores": 2}`: whole positive numbers. */
export const ResourceAmounts = z.record(PoolName, z.number().int().positive().max(1_000_000_000));

/** The longest wait anywhere a user gives one (timeouts, TTLs, backoff): a week. */
const MAX_SECONDS = 7 * 24 * 3600;

/**
 * How long a failed task waits before it may be claimed again: `delay_seconds` after the first
 * failure, then the same (fixed) or doubling each attempt (exponential), never more than
 * `max_delay_seconds`.
 */
export const RetryBackoff = z.strictObject({
  strategy: z.enum(['fixed', 'exponential']).default('exponential'),
  delay_seconds: z.number().min(0).max(MAX_SECONDS),
  max_delay_seconds: z.number().positive().max(MAX_SECONDS).optional(),
});
export type RetryBackoff = z.output<typeof RetryBackoff>;
/**
 * Where a task came from (a GitHub issue, a webhook sender), shown as a link in the panel and the
 * Tasks tree. Only http(s) URLs: the link is rendered in views, and another scheme could run code.
 */
export const TaskSource = z.strictObject({
  kind: z.string().min(1).max(50),
  url: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .max(2000)
    .optional(),
  title: z.string().max(500).optional(),
});
export type TaskSource = z.output<typeof TaskSource>;

/** What a user gives to add a task: in a plan file, over the socket, from the CLI or the UI. */
export const TaskInput = z.strictObject({
  id: Id.optional(),
  description: z.string().max(10_000).default(''),
  dependencies: z.array(Id).max(1000).default([]),
  priority: z.number().int().min(-1_000_000).max(1_000_000).default(0),
  capabilities: z.array(Capability).max(100).default([]),
  timeout_seconds: z.number().positive().max(MAX_SECONDS).optional(),
  max_attempts: z.number().int().min(1).max(1000).optional(),
  payload: JsonValue.optional(),
  /** Amounts of resource pools the task holds while it runs. */
  resources: ResourceAmounts.optional(),
  /** The parallel streams a `harness wait --group` converges; `group:NAME` as a dependency waits for all of them. */
  group: Id.optional(),
  /** Wait between a failure and the next attempt; the coordinator's default when absent. */
  retry_backoff: RetryBackoff.optional(),
  source: TaskSource.optional(),
});
export type TaskInput = z.input<typeof TaskInput>;
export type ParsedTaskInput = z.output<typeof TaskInput>;

export interface Task {
  id: string;
  description: string;
  dependencies: string[];
  priority: number;
  capabilities: string[];
  timeout_seconds: number;
  max_attempts: number;
  attempts: number;
  status: TaskStatus;
  claimed_by: string | null;
  /** Grows by one at every claim of this task; a holder must present the current one. */
  fencing_token: number;
  started_at: string | null;
  lease_expires_at: string | null;
  completed_at: string | null;
  duration_ms: number | null;
  result: Json | null;
  error: string | null;
  created_at: string;
  payload: Json | null;
  /** Amounts of resource pools held while it runs; absent when it declares none. */
  resources?: Record<string, number>;
  /** The group of parallel streams it belongs to; absent when none. */
  group?: string;
  /** The holder's latest progress report. */
  progress?: TaskProgress;
  /** Its own retry backoff; absent when it uses the coordinator's default. */
  retry_backoff?: RetryBackoff;
  /** After a failure with a backoff: the earliest time of the next attempt (not claimable before). */
  retry_at?: string;
  /** Where it came from (an issue, a webhook); absent for tasks added by hand. */
  source?: TaskSource;
}

export interface TaskProgress {
  percent: number;
  message: string | null;
  at: string;
}

export const INSTANCE_STATUSES = ['live', 'stale'] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

export interface Instance {
  worker_id: string;
  name: string;
  capabilities: string[];
  pid: number | null;
  status: InstanceStatus;
  registered_at: string;
  last_seen: string;
}

/** An instance as listed: with what a person wants to see next to it. */
export interface InstanceView extends Instance {
  last_seen_age_ms: number;
  current_task: string | null;
}
