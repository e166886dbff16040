// Where a task stands as a person asks it: a pending task is either ready (every dependency
// completed) or blocked by what it waits for. Pure, from a task and its dependencies' status, so
// every view (the CLI's text, the trees, the panel) can derive it the same way from a task list.
import type { Task, TaskStatus } from './model';

export type Standing = 'completed' | 'cancelled' | 'dead_letter' | 'blocked' | 'ready' | 'running';

/** Answers a task id with its status; undefined for an id it does not know. */
export type StatusLookup = (taskId: string) => TaskStatus | undefined;

/** The dependencies of `task` that have not completed, in its order. */
export function unmetDependencies(task: Task, statusOf: StatusLookup): string[] {
  return task.dependencies.filter((d) => statusOf(d) !== 'completed');
}

export function standingOf(task: Task, statusOf: StatusLookup): Standing {
  if (task.status !== 'pending') return task.status;
  return unmetDependencies(task, statusOf).length ? 'blocked' : 'ready';
}
