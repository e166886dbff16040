import type { Instance, Task, TaskStatus } from './model';
import type { PrimitiveChange, PrimitiveReader } from './primitive-store';

/**
 * A task as the store keeps it: the public fields plus two it needs to answer "what is ready"
 * quickly. `seq` orders tasks of equal priority (oldest first); `unmet_deps` counts dependencies
 * not yet completed, so "ready" is `pending` with `unmet_deps = 0`.
 */
export interface TaskRow extends Task {
  seq: number;
  unmet_deps: number;
}

/**
 * One change, as the journal records it and as any store applies it. Whole-row puts keep
 * replay idempotent, and the same records are what a replicated store (e.g. NATS JetStream)
 * would publish.
 */
export type Change =
  | { op: 'task'; row: TaskRow }
  | { op: 'instance'; row: Instance }
  | { op: 'instance_delete'; worker_id: string }
  | { op: 'meta'; key: string; value: string }
  | PrimitiveChange;

/** One page of tasks in `seq` order (oldest first): the ones after `afterSeq` matching the filters. */
export interface TaskPageQuery {
  afterSeq: number;
  limit: number;
  status?: TaskStatus | undefined;
  group?: string | undefined;
}

/** What `status` reports. */
export interface TaskSummary {
  counts: Record<TaskStatus, number>;
  /** Pending tasks with every dependency completed (those waiting out a retry backoff included). */
  ready: number;
  /** The same per group, for tasks that belong to one. */
  groups: Map<string, Record<TaskStatus, number> & { ready: number }>;
}

/**
 * Reads. Rows come back frozen: they are the store's own values, shared, never changed in place
 * (a change is a new row given to `apply`).
 */
export interface StoreReader {
  getTask(id: string): TaskRow | undefined;
  /** Every task (of one status) in sequence order, the order they were added. */
  listTasks(status?: TaskStatus): TaskRow[];
  /** At most `limit` tasks after the cursor, in sequence order: reads cost the page, not the whole table. */
  listTasksPage(query: TaskPageQuery): TaskRow[];
  countTasks(): Record<TaskStatus, number>;
  /** Counts kept as tasks change: no pass over the tasks. */
  taskSummary(): TaskSummary;
  /** Tasks a worker could claim at `nowIso`: pending, dependencies met, no retry backoff left. */
  countReady(nowIso: string): number;
  /** The tasks of a group, in sequence order. */
  groupTasks(group: string): TaskRow[];
  /** Running tasks whose holder is `workerId`. */
  heldBy(workerId: string): TaskRow[];
  /**
   * Ready tasks at `nowIso` (a task in its retry backoff is not), highest priority first, oldest
   * first among equals; stops at the first accepted. With `capabilities`, only tasks needing no
   * more than those are offered (a shortcut: `accept` still decides).
   */
  firstReady(nowIso: string, accept: (task: TaskRow) => boolean, capabilities?: ReadonlySet<string>): TaskRow | undefined;
  /** Running tasks whose lease ended at or before `nowIso`, in the same order as firstReady. */
  firstExpired(nowIso: string, accept: (task: TaskRow) => boolean): TaskRow | undefined;
  /** Every running task whose lease ended at or before `nowIso`. */
  listExpired(nowIso: string): TaskRow[];
  /** Ids of the tasks that depend on `id`. */
  dependents(id: string): string[];
  getInstance(workerId: string): Instance | undefined;
  listInstances(): Instance[];
  getMeta(key: string): string | undefined;
  /** Locks, pools and holds, shared state, mailboxes. */
  readonly primitives: PrimitiveReader;
}

export interface StoreWriter {
  apply(change: Change): void;
}

export interface Committed<T> {
  value: T;
  /** Settles once the change is on disk: resolve means durable, reject means it was not kept. */
  durable: Promise<void>;
}

export interface Store extends StoreReader {
  /**
   * Runs `fn` as one atomic change: either every `apply` in it takes effect or none does (a
   * throw rolls back). The new state is visible to reads at once; `durable` says when it is safe
   * to acknowledge. A transaction that changed nothing answers with the latest write's `durable`
   * (the same promise until something else is written).
   */
  transact<T>(fn: (tx: StoreWriter) => T): Committed<T>;
  /** Waits for everything written so far to be durable, then releases the files. */
  close(): Promise<void>;
}

export const ZERO_COUNTS = (): Record<TaskStatus, number> => ({
  pending: 0,
  running: 0,
  completed: 0,
  dead_letter: 0,
  cancelled: 0,
});
