import type { InstanceView, Task, TaskProgress, TaskStatus } from '../core/model';

/** The Tasks tree's groups, in the order a person scans them. */
export const TASK_GROUPS = ['running', 'ready', 'blocked', 'dead_letter', 'completed', 'cancelled'] as const;
export type TaskGroup = (typeof TASK_GROUPS)[number];

const GROUP_LABEL: Record<TaskGroup, string> = {
  running: 'Running',
  ready: 'Ready',
  blocked: 'Blocked',
  dead_letter: 'Dead-lettered',
  completed: 'Completed',
  cancelled: 'Cancelled',
};

/** What a tree row shows; the host turns it into a vscode.TreeItem. */
export interface ItemModel {
  id: string;
  label: string;
  description?: string;
  tooltip: string;
  /** Drives the context menu and inline actions (package.json `when: viewItem == ...`). */
  contextValue: string;
  icon: string;
  iconColor?: string;
  collapsible: boolean;
  /** Open at first: the groups a person acts on. */
  expanded?: boolean;
  /** A link shown under the tooltip: where the task came from (an issue). */
  link?: { label: string; url: string };
}

export function groupOf(task: Task, byId: ReadonlyMap<string, Task>): TaskGroup {
  if (task.status !== 'pending') return task.status;
  return task.dependencies.every((d) => byId.get(d)?.status === 'completed') ? 'ready' : 'blocked';
}

export function groupTasks(tasks: readonly Task[]): Map<TaskGroup, Task[]> {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const groups = new Map<TaskGroup, Task[]>(TASK_GROUPS.map((g) => [g, []]));
  for (const t of tasks) groups.get(groupOf(t, byId))!.push(t);
  for (const list of groups.values()) list.sort((a, b) => b.priority - a.priority);
  return groups;
}

export function groupItem(group: TaskGroup, count: number): ItemModel {
  return {
    id: `group:${group}`,
    label: GROUP_LABEL[group],
    description: String(count),
    tooltip: `${count} ${GROUP_LABEL[group].toLowerCase()} task${count === 1 ? '' : 's'}`,
    contextValue: `group.${group}`,
    icon: 'folder',
    collapsible: count > 0,
    expanded: count > 0 && (group === 'running' || group === 'ready' || group === 'dead_letter'),
  };
}

const STATUS_ICON: Record<TaskGroup, [string, string | undefined]> = {
  running: ['sync~spin', 'charts.blue'],
  ready: ['circle-large-outline', 'charts.green'],
  blocked: ['lock', 'disabledForeground'],
  dead_letter: ['error', 'errorForeground'],
  completed: ['pass-filled', 'charts.green'],
  cancelled: ['circle-slash', 'disabledForeground'],
};

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/** `42% · message`, the message cut short: a row has one line. */
export function progressText(p: TaskProgress, maxMessage = 60): string {
  const percent = `${Math.round(p.percent)}%`;
  if (!p.message) return percent;
  const message = p.message.length > maxMessage ? `${p.message.slice(0, maxMessage - 1)}…` : p.message;
  return `${percent} · ${message}`;
}

export function taskItem(task: Task, group: TaskGroup, now: number, parent = ''): ItemModel {
  const parts: string[] = [];
  if (group === 'running' && task.claimed_by) {
    parts.push(`@${task.claimed_by}`);
    if (task.lease_expires_at) {
      const left = Date.parse(task.lease_expires_at) - now;
      parts.push(left > 0 ? `lease ${formatDuration(left)}` : 'lease expired');
    }
  }
  // Progress is what its holder reports while working; once the task has left `running` it is
  // history (a completed task at "40%" would mislead), so it stays in the tooltip only.
  if (group === 'running' && task.progress) parts.unshift(progressText(task.progress));
  if (task.attempts > 0) parts.push(`attempt ${task.attempts}/${task.max_attempts}`);
  if (task.priority !== 0) parts.push(`p${task.priority}`);
  if (task.group) parts.push(`group ${task.group}`);
  const [icon, iconColor] = STATUS_ICON[group];
  const tooltip = [
    `${task.id} — ${task.status}${group === 'blocked' ? ' (waiting for dependencies)' : ''}`,
    task.description,
    task.group ? `Group: ${task.group}` : '',
    task.progress
      ? `${group === 'running' ? 'Progress' : 'Last progress'}: ${task.progress.percent}%${task.progress.message ? ` — ${task.progress.message}` : ''} (${task.progress.at})`
      : '',
    task.dependencies.length ? `Depends on: ${task.dependencies.join(', ')}` : '',
    task.capabilities.length ? `Needs: ${task.capabilities.join(', ')}` : '',
    task.error ? `Last error: ${task.error}` : '',
    task.source ? `From: ${task.source.title ?? task.source.kind}${task.source.url ? ` (${task.source.url})` : ''}` : '',
  ]
    .filter(Boolean)
    .join('\n');
  return {
    id: `${parent}task:${task.id}`,
    label: task.id,
    description: [task.description, ...parts].filter(Boolean).join(' · '),
    tooltip,
    contextValue: `task.${group}`,
    icon,
    ...(iconColor ? { iconColor } : {}),
    collapsible: task.dependencies.length > 0,
    ...(task.source?.url ? { link: { label: task.source.title ?? task.source.url, url: task.source.url } } : {}),
  };
}

/**
 * `[label](url)` with the label's Markdown escaped and the URL's parentheses and spaces encoded,
 * so neither can end the link early or add markup. Only http(s) URLs reach here (TaskSource).
 */
export function markdownLink(label: string, url: string): string {
  const text = label.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&').replace(/\s+/g, ' ');
  const href = url.replace(/[()\s<>]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`);
  return `[${text}](${href})`;
}

export function instanceItem(i: InstanceView): ItemModel {
  const seen = formatDuration(i.last_seen_age_ms);
  const stale = i.status === 'stale';
  return {
    id: `instance:${i.worker_id}`,
    label: i.name && i.name !== i.worker_id ? `${i.name} (${i.worker_id})` : i.worker_id,
    description: [stale ? 'stale' : null, i.current_task ? `on ${i.current_task}` : 'idle', `seen ${seen} ago`]
      .filter(Boolean)
      .join(' · '),
    tooltip: [
      `${i.worker_id}${stale ? ' — stale: not heard from in time, its leases were freed' : ''}`,
      i.capabilities.length ? `Capabilities: ${i.capabilities.join(', ')}` : 'No capabilities',
      i.pid ? `pid ${i.pid}` : '',
      `Last heartbeat ${seen} ago`,
    ]
      .filter(Boolean)
      .join('\n'),
    contextValue: stale ? 'instance.stale' : 'instance.live',
    icon: stale ? 'debug-disconnect' : 'vm-running',
    ...(stale ? { iconColor: 'errorForeground' } : { iconColor: 'charts.green' }),
    collapsible: false,
  };
}

export interface StatusCounts {
  counts: Record<TaskStatus, number>;
  ready: number;
  instances: number;
}

export function statusBarText(s: StatusCounts): { text: string; tooltip: string } {
  const dead = s.counts.dead_letter;
  return {
    text: `$(pulse) ${s.counts.running} running · ${s.ready} ready${dead ? ` · $(error) ${dead}` : ''} · $(vm) ${s.instances}`,
    tooltip:
      `Agent Harness: ${s.counts.running} running, ${s.ready} ready, ${dead} dead-lettered, ` +
      `${s.counts.completed} completed; ${s.instances} live worker${s.instances === 1 ? '' : 's'}. Click to open the panel.`,
  };
}
