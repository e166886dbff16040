// Where a task stands as a person asks it: a pending task is blocked by what it waits for, waiting
// out a retry backoff after a failure, or ready to be claimed now. Pure, from a task and its
// dependencies' status, so every view (the CLI's text, the trees, the panel) can derive it the same
// way from a task list.
import type { Task, TaskStatus } from './model';

export type Standing = 'completed' | 'cancelled' | 'dead_letter' | 'blocked' | 'retrying' | 'ready' | 'running';

/** Answers a task id with its status; undefined for an id it does not know. */
export type StatusLookup = (taskId: string) => TaskStatus | undefined;

/** The dependencies of `task` that have not completed, in its order. */
export function unmetDependencies(task: Task, statusOf: StatusLookup): string[] {
  return task.dependencies.filter((d) => statusOf(d) !== 'completed');
}

/** `now` decides whether a retry's backoff is still running (`retry_at` in the future). */
export function standingOf(task: Task, statusOf: StatusLookup, now = Date.now()): Standing {
  if (task.status !== 'pending') return task.status;
  if (unmetDependencies(task, statusOf).length) return 'blocked';
  return task.retry_at !== undefined && Date.parse(task.retry_at) > now ? 'retrying' : 'ready';
}
