import type { Json, Task, TaskProgress, TaskStatus } from './model';

/** Where one parallel stream (a task of a group) stands. */
export interface StreamState {
  task_id: string;
  status: TaskStatus;
  claimed_by: string | null;
  progress: TaskProgress | null;
  result: Json | null;
  error: string | null;
  completed_at: string | null;
}

export interface GroupStatus {
  group: string;
  total: number;
  /** Tasks in a final state: completed, dead_letter or cancelled. */
  finished: number;
  completed: number;
  failed: number;
  done: boolean;
  streams: StreamState[];
}

/** A checkpoint: every stream's progress at one moment, as recorded. */
export interface Checkpoint {
  group: string;
  timestamp: string;
  streams: Array<Pick<StreamState, 'task_id' | 'status' | 'claimed_by' | 'progress'>>;
}

const FINAL: ReadonlySet<TaskStatus> = new Set(['completed', 'dead_letter', 'cancelled']);

export function isFinished(status: TaskStatus): boolean {
  return FINAL.has(status);
}

/** The state of a group's streams; a group with no tasks is not done (it may not be imported yet). */
export function groupStatus(group: string, tasks: readonly Task[]): GroupStatus {
  const members = tasks.filter((t) => t.group === group);
  const streams = members.map((t) => ({
    task_id: t.id,
    status: t.status,
    claimed_by: t.claimed_by,
    progress: t.progress ?? null,
    result: t.result,
    error: t.error,
    completed_at: t.completed_at,
  }));
  const finished = members.filter((t) => isFinished(t.status)).length;
  const completed = members.filter((t) => t.status === 'completed').length;
  return {
    group,
    total: members.length,
    finished,
    completed,
    failed: finished - completed,
    done: members.length > 0 && finished === members.length,
    streams,
  };
}

export function checkpointOf(status: GroupStatus, timestamp: string): Checkpoint {
  return {
    group: status.group,
    timestamp,
    streams: status.streams.map(({ task_id, status: s, claimed_by, progress }) => ({ task_id, status: s, claimed_by, progress })),
  };
}

/** `group:NAME` in a task's dependencies stands for every task of that group. */
export const GROUP_DEPENDENCY = /^group:(.+)$/;
