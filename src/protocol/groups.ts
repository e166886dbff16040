// Task groups (parallel streams that converge): the shape of `group_status` and of checkpoints,
// and the one function deriving a group's status from its tasks. Pure, so the views compute a
// group's status from a task list they already have, exactly as the coordinator answers it.
import { z } from 'zod';
import { JsonValue, TaskProgress, TaskStatus, type Task } from './model';

/** Where one parallel stream (a task of a group) stands. */
export const StreamState = z.object({
  task_id: z.string(),
  status: TaskStatus,
  claimed_by: z.string().nullable(),
  progress: TaskProgress.nullable(),
  result: JsonValue.nullable(),
  error: z.string().nullable(),
  completed_at: z.string().nullable(),
});
export type StreamState = z.output<typeof StreamState>;

export const GroupStatus = z.object({
  group: z.string(),
  total: z.number(),
  finished: z.number().describe('Tasks in a final state: completed, dead_letter or cancelled'),
  completed: z.number(),
  failed: z.number(),
  done: z.boolean().describe('Every task of the group finished (a group with no tasks is not done)'),
  streams: z.array(StreamState),
});
export type GroupStatus = z.output<typeof GroupStatus>;

/** A checkpoint: every stream's progress at one moment, as recorded. */
export const Checkpoint = z.object({
  group: z.string(),
  timestamp: z.string(),
  streams: z.array(StreamState.pick({ task_id: true, status: true, claimed_by: true, progress: true })),
});
export type Checkpoint = z.output<typeof Checkpoint>;

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
