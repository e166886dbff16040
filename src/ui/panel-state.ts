import * as z from 'zod/mini';
import type { Task } from '../protocol/model';
import {
  DISPLAY_STATUSES,
  type DisplayStatus,
  MAX_RESULT_PREVIEW,
  RunLogMessage,
  type Scope,
  StateMessage,
  SUMMARY_ABOVE,
  SUMMARY_GROUPS_MAX,
  SUMMARY_LIST_MAX,
  type StatusCounts,
  type Summary,
  type TaskView,
} from '../protocol/webview';
import type { TaskCache } from './task-cache';

/** Of a run's command line the panel shows a short label; this much is plenty and stays bounded. */
const MAX_ARGS = 100;
const MAX_ARG_CHARS = 1000;

/** A task as the panel gets it: what it shows, bounded (a result is sent as a short preview). */
export function toTaskView(task: Task, display: DisplayStatus): TaskView {
  let result_preview: string | null = null;
  if (task.result !== null && task.result !== undefined) {
    const text = typeof task.result === 'string' ? task.result : JSON.stringify(task.result);
    result_preview = text.length > MAX_RESULT_PREVIEW ? `${text.slice(0, MAX_RESULT_PREVIEW)}…` : text;
  }
  return {
    id: task.id,
    description: task.description.slice(0, 10_000),
    dependencies: task.dependencies,
    status: task.status,
    claimed_by: task.claimed_by,
    attempts: task.attempts,
    max_attempts: task.max_attempts,
    priority: task.priority,
    error: task.error === null ? null : task.error.slice(0, 100_000),
    group: task.group ?? null,
    capabilities: task.capabilities,
    started_at: task.started_at,
    lease_expires_at: task.lease_expires_at,
    completed_at: task.completed_at,
    progress: task.progress ? { percent: task.progress.percent, message: task.progress.message, at: task.progress.at } : null,
    result_preview,
    display_status: display,
    // The core bounds it as the protocol does (kind 50, url 2000 and http(s), title 500).
    ...(task.source ? { source: task.source } : {}),
  };
}

export function scopeMatches(task: Task, display: DisplayStatus, scope: Scope): boolean {
  if (scope.statuses.length > 0 && !scope.statuses.includes(display)) return false;
  if (scope.group !== null && task.group !== scope.group) return false;
  if (scope.holder !== null && task.claimed_by !== scope.holder) return false;
  const text = scope.text.trim().toLowerCase();
  return text === '' || task.id.toLowerCase().includes(text) || task.description.toLowerCase().includes(text);
}

/**
 * What the panel shows of the tasks: all of them while the plan is small enough to draw, else a
 * summary (counts, groups, the ready frontier, the running tasks) and the tasks of `scope` if
 * that part is small enough. Reads the cache only: no request, whatever the plan's size.
 */
export function taskState(cache: TaskCache, scope: Scope | null): { tasks: TaskView[]; summary: Summary | null } {
  const view = (t: Task) => toTaskView(t, cache.displayStatus(t));
  if (cache.size <= SUMMARY_ABOVE) return { tasks: [...cache.all()].map(view), summary: null };
  // The cache keeps the counts: without a scope a state costs the lists it shows, not a pass
  // over every task.
  const matched: Task[] = [];
  let matchCount = 0;
  if (scope) {
    for (const task of cache.all()) {
      if (!scopeMatches(task, cache.displayStatus(task), scope)) continue;
      if (++matchCount <= SUMMARY_ABOVE) matched.push(task);
    }
  }
  // Groups with work left first, the biggest of those first: where a person looks.
  const left = (c: StatusCounts) => c.ready + c.blocked + c.running + c.dead_letter;
  const groups = [...cache.groupStatusCounts()].map(([group, counts]) => ({ group, counts: { ...counts }, total: DISPLAY_STATUSES.reduce((n, s) => n + counts[s], 0) }));
  groups.sort((a, b) => Number(left(a.counts) === 0) - Number(left(b.counts) === 0) || left(b.counts) - left(a.counts) || a.group.localeCompare(b.group));
  return {
    tasks: matchCount <= SUMMARY_ABOVE ? matched.map(view) : [],
    summary: {
      total: cache.size,
      counts: cache.countsByDisplay(),
      groups: groups.slice(0, SUMMARY_GROUPS_MAX),
      group_count: groups.length,
      frontier: cache.list('ready', SUMMARY_LIST_MAX).map(view),
      running: cache.list('running', SUMMARY_LIST_MAX).map(view),
      scope,
      matched: matchCount,
    },
  };
}

/**
 * The panel's `state`: the tasks (or a summary) from the cache, the coordinator's instance_list
 * and run_list replies. Parsing drops what the webview does not show; an argv longer than a label
 * needs is clipped first, since the protocol bounds it and one odd run must not blank the whole
 * panel. Throws (a zod error) if the coordinator's shapes and the protocol part ways.
 */
export function toStateMessage(
  tasks: { tasks: TaskView[]; summary: Summary | null },
  instances: unknown[],
  runs: unknown[],
  hostNow = Date.now(),
): StateMessage {
  const clipped = runs.map((run) => {
    const r = run as { argv?: unknown };
    if (!Array.isArray(r.argv)) return run;
    return { ...r, argv: r.argv.slice(0, MAX_ARGS).map((a) => (typeof a === 'string' ? a.slice(0, MAX_ARG_CHARS) : a)) };
  });
  // The coordinator's replies are checked against the protocol; the tasks and the summary are
  // built here field by field (toTaskView), typed and bounded, and not parsed again: at 100,000
  // tasks that would cost more than the rest of a state. The webview parses all of it on arrival.
  const { instances: checkedInstances, runs: checkedRuns } = z.pick(StateMessage, { instances: true, runs: true }).parse({ instances, runs: clipped });
  return { type: 'state', seq: 0, tasks: tasks.tasks, summary: tasks.summary, host_now: hostNow, instances: checkedInstances, runs: checkedRuns };
}

/** A `run_log` reply as the panel's `runLog`. */
export function toRunLogMessage(runId: string, reply: { output: unknown[]; dropped_bytes: number }): RunLogMessage {
  return RunLogMessage.parse({ type: 'runLog', run_id: runId, output: reply.output, dropped_bytes: reply.dropped_bytes });
}
