import { HarnessError, ErrorCode } from './errors';
import type { TaskStatus } from './model';

/** Every status change a task may make, and the only place that decides it. */
const ALLOWED: Record<TaskStatus, readonly TaskStatus[]> = {
  pending: ['running', 'cancelled', 'dead_letter'],
  running: ['running', 'pending', 'completed', 'dead_letter', 'cancelled'],
  completed: [],
  dead_letter: ['pending', 'cancelled'],
  cancelled: [],
};

export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return ALLOWED[from].includes(to);
}

export function assertTransition(taskId: string, from: TaskStatus, to: TaskStatus, action: string): void {
  if (!canTransition(from, to)) {
    throw new HarnessError(
      ErrorCode.InvalidTransition,
      `cannot ${action} task ${taskId}: it is ${from}`,
      { task_id: taskId, from, to },
    );
  }
}
