/** What the panel derives from the coordinator's state: pure, so unit tests run it in Node. */
import { formatAgo } from '../src/protocol/human-time';
import type { DisplayStatus, RunView, TaskView } from '../src/protocol/webview';

export type { DisplayStatus };

export const STATUS_LABELS: Record<DisplayStatus, string> = {
  ready: 'ready',
  blocked: 'blocked',
  running: 'running',
  completed: 'completed',
  dead_letter: 'dead letter',
  cancelled: 'cancelled',
};

export function displayStatuses(tasks: readonly TaskView[]): Map<string, DisplayStatus> {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const out = new Map<string, DisplayStatus>();
  for (const task of tasks) {
    if (task.display_status) {
      out.set(task.id, task.display_status);
      continue;
    }
    if (task.status !== 'pending') {
      out.set(task.id, task.status);
      continue;
    }
    // A dependency the panel does not know of counts as unmet, as it would for the coordinator.
    // (A plan's `group:NAME` dependencies are stored as the group's task ids.)
    const ready = task.dependencies.every((d) => byId.get(d)?.status === 'completed');
    out.set(task.id, ready ? 'ready' : 'blocked');
  }
  return out;
}

export function countByStatus(statuses: Map<string, DisplayStatus>): Record<DisplayStatus, number> {
  const counts: Record<DisplayStatus, number> = { ready: 0, blocked: 0, running: 0, completed: 0, dead_letter: 0, cancelled: 0 };
  for (const s of statuses.values()) counts[s]++;
  return counts;
}

/** The run the panel follows while the user has not picked one: the newest, running ones first. */
export function newestRun(runs: readonly RunView[]): RunView | null {
  let best: RunView | null = null;
  for (const run of runs) {
    if (!best) best = run;
    else if ((run.status === 'running') !== (best.status === 'running')) best = run.status === 'running' ? run : best;
    else if (run.started_at >= best.started_at) best = run;
  }
  return best;
}

export function runLabel(run: RunView): string {
  const command = run.argv.join(' ');
  return command.length > 80 ? `${command.slice(0, 79)}…` : command;
}

export function runOutcome(run: RunView): string {
  if (run.status === 'running') return 'running';
  const r = run.result ?? {};
  if (r.timed_out === true) return 'timed out';
  if (typeof r.signal_name === 'string' && r.signal_name) return r.signal_name;
  if (typeof r.returncode === 'number') return `exit ${r.returncode}`;
  return 'finished';
}

export const formatAge = formatAgo;

export function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
