import type { ClusterStatus } from '../protocol/cluster';
import type { InstanceView, Task, TaskProgress, TaskStatus } from '../protocol/model';
import { formatAgo, formatDuration, formatExact } from '../protocol/human-time';
import { taskCost, usd } from './fleet-view-models';
import { ATTENTION_ORDER, type AttentionGroup } from './task-cache';

export { formatDuration };

/** The Tasks tree's groups, in the order a person scans them: what needs them first. */
export const TASK_GROUPS = ATTENTION_ORDER;
export type TaskGroup = AttentionGroup;

const GROUP_LABEL: Record<TaskGroup, string> = {
  dead_letter: 'Dead-lettered',
  failed: 'Failed, will retry',
  running: 'Running',
  ready: 'Ready',
  blocked: 'Blocked',
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
  /** A command the row runs when clicked: [command id, ...arguments]. */
  command?: { id: string; title: string; args: unknown[] };
  /** A link shown under the tooltip: where the task came from (an issue). */
  link?: { label: string; url: string };
}

/** Groups that need a look or move on their own open at first; the rest start collapsed. */
const OPEN_GROUPS: ReadonlySet<TaskGroup> = new Set(['dead_letter', 'failed', 'running', 'ready']);

export function groupItem(group: TaskGroup, count: number): ItemModel {
  return {
    id: `group:${group}`,
    label: GROUP_LABEL[group],
    description: count.toLocaleString('en-US'),
    tooltip: `${count.toLocaleString('en-US')} ${GROUP_LABEL[group].toLowerCase()} task${count === 1 ? '' : 's'}`,
    contextValue: `group.${group}`,
    icon: 'folder',
    collapsible: count > 0,
    expanded: count > 0 && OPEN_GROUPS.has(group),
  };
}

/** The row after the first items of a big group. */
export function moreItem(group: TaskGroup, shown: number, total: number, step: number, commandId: string): ItemModel {
  const next = Math.min(step, total - shown);
  return {
    id: `more:${group}`,
    label: `Show ${next.toLocaleString('en-US')} more`,
    description: `${shown.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} shown`,
    tooltip: `${GROUP_LABEL[group]}: ${total.toLocaleString('en-US')} tasks, the first ${shown.toLocaleString('en-US')} listed. The task graph panel filters and searches all of them.`,
    contextValue: 'more',
    icon: 'ellipsis',
    collapsible: false,
    command: { id: commandId, title: 'Show More', args: [group] },
  };
}

const STATUS_ICON: Record<TaskGroup, [string, string | undefined]> = {
  dead_letter: ['error', 'errorForeground'],
  failed: ['warning', 'editorWarning.foreground'],
  running: ['sync~spin', 'charts.blue'],
  ready: ['circle-large-outline', 'charts.green'],
  blocked: ['lock', 'disabledForeground'],
  completed: ['pass-filled', 'charts.green'],
  cancelled: ['circle-slash', 'disabledForeground'],
};

/** `42% · message`, the message cut short: a row has one line. */
export function progressText(p: TaskProgress, maxMessage = 60): string {
  const percent = `${Math.round(p.percent)}%`;
  if (!p.message) return percent;
  const message = p.message.length > maxMessage ? `${p.message.slice(0, maxMessage - 1)}…` : p.message;
  return `${percent} · ${message}`;
}

const firstLine = (text: string, max = 80) => {
  const line = text.split('\n', 1)[0]!.trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
};

/**
 * A task's row. The description leads with what changes (holder, lease left, progress, what it
 * waits for, when it failed), so the part that matters survives a narrow sidebar; what does not
 * change (the description, dependencies, exact times) is in the tooltip. `waitingFor`: the
 * dependencies not completed yet, for a blocked task.
 */
export function taskItem(task: Task, group: TaskGroup, now: number, parent = '', waitingFor: readonly string[] = [], heldBack?: string): ItemModel {
  const parts: string[] = [];
  if (heldBack && (group === 'ready' || group === 'failed')) parts.push(heldBack);
  const ago = (iso: string | null) => (iso ? formatAgo(now - Date.parse(iso)) : '');
  switch (group) {
    case 'running':
      if (task.claimed_by) parts.push(`@${task.claimed_by}`);
      if (task.progress) parts.push(progressText(task.progress, 40));
      if (task.lease_expires_at) {
        const left = Date.parse(task.lease_expires_at) - now;
        parts.push(left > 0 ? `lease ${formatDuration(left)}` : 'lease expired');
      }
      if (task.attempts > 1) parts.push(`attempt ${task.attempts}/${task.max_attempts}`);
      break;
    case 'failed':
      parts.push(`failed ${task.attempts}/${task.max_attempts}`);
      if (task.error) parts.push(firstLine(task.error, 60));
      break;
    case 'dead_letter':
      parts.push(`${task.attempts}/${task.max_attempts} attempts`);
      if (task.error) parts.push(firstLine(task.error, 60));
      break;
    case 'blocked':
      if (waitingFor.length) parts.push(`waits for ${waitingFor.slice(0, 2).join(', ')}${waitingFor.length > 2 ? ` +${waitingFor.length - 2}` : ''}`);
      break;
    case 'completed':
      if (task.claimed_by) parts.push(`@${task.claimed_by}`);
      if (task.completed_at) parts.push(ago(task.completed_at));
      break;
    default:
      break;
  }
  if (task.priority !== 0 && (group === 'ready' || group === 'blocked' || group === 'failed')) parts.push(`p${task.priority}`);
  if (task.group) parts.push(task.group);
  const cost = taskCost(task);
  if (cost) parts.push(usd(cost.total));
  const [icon, iconColor] = STATUS_ICON[group];
  const exact = (label: string, iso: string | null) => (iso ? `${label}: ${ago(iso)} (${formatExact(iso)})` : '');
  const running = group === 'running';
  const tooltip = [
    `${task.id} — ${GROUP_LABEL[group].toLowerCase()}${group === 'blocked' ? ' (waiting for dependencies)' : ''}`,
    task.description,
    running && task.claimed_by ? `Held by ${task.claimed_by}` : task.claimed_by ? `Last held by ${task.claimed_by}` : '',
    running && task.lease_expires_at ? `Lease ends ${formatExact(task.lease_expires_at)}` : '',
    task.progress
      ? `${running ? 'Progress' : 'Last progress'}: ${task.progress.percent}%${task.progress.message ? ` — ${task.progress.message}` : ''} (${ago(task.progress.at)}, ${formatExact(task.progress.at)})`
      : '',
    task.group ? `Group: ${task.group}` : '',
    task.dependencies.length ? `Depends on: ${task.dependencies.join(', ')}` : '',
    waitingFor.length ? `Waiting for: ${waitingFor.join(', ')}` : '',
    task.capabilities.length ? `Needs: ${task.capabilities.join(', ')}` : '',
    `Attempts: ${task.attempts} of ${task.max_attempts}${task.priority ? ` · priority ${task.priority}` : ''}`,
    exact('Created', task.created_at),
    exact(running ? 'Started' : 'Last started', task.started_at),
    exact('Finished', task.completed_at),
    task.error ? `Last error: ${task.error}` : '',
    heldBack ? `Not claimed now: ${heldBack}` : '',
    ...(cost ? [`Cost: ${usd(cost.total)}`, ...cost.lines] : []),
    task.source ? `From: ${task.source.title ?? task.source.kind}${task.source.url ? ` (${task.source.url})` : ''}` : '',
  ]
    .filter(Boolean)
    .join('\n');
  return {
    id: `${parent}task:${task.id}`,
    label: task.id,
    description: parts.filter(Boolean).join(' · '),
    tooltip,
    contextValue: `task.${group === 'failed' ? 'ready' : group}`,
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

/** A worker's label: its name, or its id when it has none; the id again only if the name lacks it. */
export function instanceItem(i: InstanceView, costUsd?: number): ItemModel {
  const seen = formatAgo(i.last_seen_age_ms);
  const stale = i.status === 'stale';
  const named = i.name && i.name !== i.worker_id;
  return {
    id: `instance:${i.worker_id}`,
    label: named ? i.name : i.worker_id,
    description: [
      stale ? 'stale' : null,
      i.current_task ? `on ${i.current_task}` : 'idle',
      `seen ${seen}`,
      named && !i.name.includes(i.worker_id) ? i.worker_id : null,
      costUsd ? usd(costUsd) : null,
    ]
      .filter(Boolean)
      .join(' · '),
    tooltip: [
      `${i.worker_id}${named ? ` (${i.name})` : ''}${stale ? ' — stale: not heard from in time, its leases were freed' : ''}`,
      i.current_task ? `Working on ${i.current_task}` : 'Idle',
      i.capabilities.length ? `Capabilities: ${i.capabilities.join(', ')}` : 'No capabilities',
      i.pid ? `pid ${i.pid}` : '',
      i.registered_at ? `Registered ${formatExact(i.registered_at)}` : '',
      `Last heartbeat ${seen}${i.last_seen ? ` (${formatExact(i.last_seen)})` : ''}`,
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
  /** In cluster mode: what this window's coordinator says about the cluster (ping). */
  cluster?: ClusterStatus;
}

export function statusBarText(s: StatusCounts): { text: string; tooltip: string } {
  const dead = s.counts.dead_letter;
  const c = s.cluster;
  const leader = c ? (c.leader ? `${c.leader.host}${c.role === 'leader' ? ' (this window)' : ''}` : 'no leader') : '';
  return {
    text: `$(pulse) ${s.counts.running} running · ${s.ready} ready${dead ? ` · $(error) ${dead}` : ''} · $(vm) ${s.instances}${c ? ` · $(server) ${leader}` : ''}`,
    tooltip:
      `Agent Harness: ${s.counts.running} running, ${s.ready} ready, ${dead} dead-lettered, ` +
      `${s.counts.completed} completed; ${s.instances} live worker${s.instances === 1 ? '' : 's'}.` +
      (c
        ? ` Cluster ${c.cluster}: ${c.leader ? `led by ${c.leader.host} (pid ${c.leader.pid}) since ${c.leader.since}` : 'nobody leads right now'}; this window's coordinator is ${c.role === 'leader' ? 'the leader' : `a ${c.role}`}.`
        : '') +
      ' Click to open the task graph.',
  };
}
