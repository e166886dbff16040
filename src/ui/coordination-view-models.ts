// The Coordination tree's model and rows, free of vscode so they are unit-tested in plain Node:
// locks, resource pools, pending messages and task groups with their latest checkpoint. The host
// (src/host/coordination-tree.ts) fetches the model on every debounced refresh and renders it.
import type { Caller } from '../protocol/api';
import { groupStatus, type Checkpoint, type GroupStatus } from '../protocol/groups';
import { InstanceList } from '../protocol/instances';
import { LockList, type Lock as LockRow } from '../protocol/locks';
import { MessageList, type PendingMessage } from '../protocol/mailbox';
import type { InstanceStatus, Task } from '../protocol/model';
import { PoolList, type PoolHolder, type PoolView } from '../protocol/pools';
import { CheckpointList } from '../protocol/tasks';
import { formatAgo } from '../protocol/human-time';
import { formatDuration, progressText, type ItemModel } from './view-models';

export type { PendingMessage };
export interface LockWaiting {
  path: string;
  worker_id: string;
}
export interface GroupEntry {
  status: GroupStatus;
  /** The latest recorded checkpoint, if any was. */
  checkpoint: Checkpoint | null;
}

export interface CoordinationModel {
  locks: LockRow[];
  lockWaiting: LockWaiting[];
  pools: PoolView[];
  messages: PendingMessage[];
  /** Status of each registered worker, to mark messages nobody will pick up. */
  workers: Record<string, InstanceStatus>;
  /** The groups listed: the open ones first, at most MAX_GROUPS. */
  groups: GroupEntry[];
  /** How many groups there are in all. */
  groupCount: number;
}

export const EMPTY_COORDINATION: CoordinationModel = { locks: [], lockWaiting: [], pools: [], messages: [], workers: {}, groups: [], groupCount: 0 };

/** Groups listed (each costs a checkpoint request per refresh); the panel shows every one. */
export const MAX_GROUPS = 100;

/** The part of HarnessApi the fetch needs, so tests can hand in a fake. */
export type Requester = Caller;

/** The distinct groups of some tasks, sorted. */
export function groupNames(tasks: readonly Task[]): string[] {
  return [...new Set(tasks.flatMap((t) => (t.group ? [t.group] : [])))].sort();
}

/**
 * One round of requests, all in parallel. Group status is derived from the tasks the extension
 * keeps (TaskCache), with the coordinator's own function (what `group_status` would answer), so a
 * refresh costs one `checkpoint_list` per listed group on top of the four list requests.
 * `groups`: the groups to list with their tasks; `groupCount`: how many there are in all.
 */
export async function fetchCoordination(api: Requester, groups: ReadonlyMap<string, readonly Task[]>, groupCount = groups.size): Promise<CoordinationModel> {
  const statuses = [...groups].map(([group, tasks]) => groupStatus(group, tasks));
  statuses.sort((a, b) => Number(a.done) - Number(b.done) || a.group.localeCompare(b.group));
  const listed = statuses.slice(0, MAX_GROUPS);
  const names = listed.map((g) => g.group);
  const [locks, pools, mail, instances, checkpoints] = await Promise.all([
    api.call(LockList),
    api.call(PoolList),
    api.call(MessageList),
    api.call(InstanceList),
    Promise.all(names.map((group) => api.call(CheckpointList, { group }))),
  ]);
  return {
    locks: locks.locks,
    lockWaiting: locks.waiting,
    pools: pools.pools,
    messages: [...mail.messages].sort((a, b) => a.sent_at.localeCompare(b.sent_at)),
    workers: Object.fromEntries(instances.instances.map((i) => [i.worker_id, i.status])),
    groups: listed.map((status, i) => ({ status, checkpoint: checkpoints[i]!.checkpoints.at(-1) ?? null })),
    groupCount: Math.max(groupCount, statuses.length),
  };
}

export const COORDINATION_SECTIONS = ['locks', 'pools', 'messages', 'groups'] as const;
export type CoordSection = (typeof COORDINATION_SECTIONS)[number];
type Stream = Checkpoint['streams'][number];

export type CoordNode =
  | { kind: 'section'; section: CoordSection }
  | { kind: 'lock'; path: string; locks: LockRow[]; waiting: number }
  | { kind: 'pool'; pool: PoolView }
  | { kind: 'holder'; pool: string; holder: PoolHolder }
  | { kind: 'message'; message: PendingMessage; recipient: 'live' | 'stale' | 'unregistered' }
  | { kind: 'group'; entry: GroupEntry }
  | { kind: 'checkpoint'; group: string; checkpoint: Checkpoint | null }
  | { kind: 'stream'; group: string; stream: Stream };

function sectionSize(m: CoordinationModel, s: CoordSection): number {
  if (s === 'locks') return new Set(m.locks.map((l) => l.path)).size;
  if (s === 'pools') return m.pools.length;
  if (s === 'messages') return m.messages.length;
  return Math.max(m.groups.length, m.groupCount);
}

/** Rows under `node` (the top level without one); sections without items are left out. */
export function coordinationChildren(m: CoordinationModel, node?: CoordNode): CoordNode[] {
  if (!node) return COORDINATION_SECTIONS.filter((s) => sectionSize(m, s) > 0).map((section) => ({ kind: 'section', section }));
  switch (node.kind) {
    case 'section':
      return sectionChildren(m, node.section);
    case 'pool':
      return node.pool.holders.map((holder) => ({ kind: 'holder', pool: node.pool.name, holder }));
    case 'group': {
      const { group } = node.entry.status;
      const cp = node.entry.checkpoint;
      return [{ kind: 'checkpoint', group, checkpoint: cp }, ...(cp?.streams ?? []).map((stream) => ({ kind: 'stream' as const, group, stream }))];
    }
    default:
      return [];
  }
}

function sectionChildren(m: CoordinationModel, section: CoordSection): CoordNode[] {
  if (section === 'locks') {
    const byPath = new Map<string, LockRow[]>();
    for (const l of m.locks) byPath.set(l.path, [...(byPath.get(l.path) ?? []), l]);
    return [...byPath.keys()].sort().map((path) => ({
      kind: 'lock',
      path,
      locks: byPath.get(path)!,
      waiting: m.lockWaiting.filter((w) => w.path === path).length,
    }));
  }
  if (section === 'pools') return [...m.pools].sort((a, b) => a.name.localeCompare(b.name)).map((pool) => ({ kind: 'pool', pool }));
  if (section === 'messages') {
    return m.messages.map((message) => ({ kind: 'message', message, recipient: m.workers[message.recipient] ?? 'unregistered' }));
  }
  return m.groups.map((entry) => ({ kind: 'group', entry }));
}

const SECTION_LABEL: Record<CoordSection, [string, string]> = {
  locks: ['Locks', 'lock'],
  pools: ['Resource pools', 'server'],
  messages: ['Messages', 'mail'],
  groups: ['Groups', 'layers'],
};

function ago(iso: string, now: number): string {
  return formatAgo(now - Date.parse(iso));
}

function left(iso: string | null, now: number): string {
  if (!iso) return '';
  const ms = Date.parse(iso) - now;
  return ms > 0 ? `${formatDuration(ms)} left` : 'expiring';
}

function preview(body: unknown, max = 60): string {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

const STREAM_ICON: Record<string, [string, string?]> = {
  pending: ['circle-large-outline'],
  running: ['sync~spin', 'charts.blue'],
  completed: ['pass-filled', 'charts.green'],
  dead_letter: ['error', 'errorForeground'],
  cancelled: ['circle-slash', 'disabledForeground'],
};

const join = (parts: Array<string | false | null | undefined>, sep = ' · ') => parts.filter(Boolean).join(sep);
const icon = ([name, color]: [string, string?]) => ({ icon: name, ...(color ? { iconColor: color } : {}) });

/** What a row shows. `now` makes ages and TTLs testable. */
export function coordinationItem(m: CoordinationModel, node: CoordNode, now: number): ItemModel {
  switch (node.kind) {
    case 'section': {
      const [label, iconName] = SECTION_LABEL[node.section];
      const n = sectionSize(m, node.section);
      return { id: `coord:${node.section}`, label, description: String(n), tooltip: `${label}: ${n}`, contextValue: `coord.${node.section}`, icon: iconName, collapsible: true, expanded: true };
    }
    case 'lock': {
      const mode = node.locks[0]!.mode;
      const holders = node.locks.map((l) => l.worker_id);
      const tokens = node.locks.map((l) => l.token);
      const soonest = node.locks.map((l) => l.expires_at).sort()[0]!;
      return {
        id: `coord:lock:${node.path}`,
        label: node.path,
        description: join([mode, holders.map((h) => `@${h}`).join(', '), `token ${tokens.join(', ')}`, left(soonest, now), node.waiting > 0 && `${node.waiting} waiting`]),
        tooltip: [
          `${node.path} — ${mode} lock`,
          ...node.locks.map((l) => `${l.worker_id}: token ${l.token}, since ${l.acquired_at}, TTL ${l.ttl_seconds}s (${left(l.expires_at, now)})`),
          node.waiting > 0 ? `${node.waiting} request(s) waiting in line` : '',
        ].filter(Boolean).join('\n'),
        contextValue: `coord.lock.${mode}`,
        ...icon(mode === 'write' ? ['lock', 'charts.orange'] : ['unlock', 'charts.blue']),
        collapsible: false,
      };
    }
    case 'pool': {
      const p = node.pool;
      const full = p.capacity > 0 && p.used >= p.capacity;
      return {
        id: `coord:pool:${p.name}`,
        label: p.name,
        description: join([`${p.used}/${p.capacity}`, p.holders.length > 0 && `${p.holders.length} holder${p.holders.length === 1 ? '' : 's'}`]),
        tooltip: [`${p.name}: ${p.used} of ${p.capacity} in use, ${p.free} free`, ...p.holders.map((h) => `${holderLabel(h)} @${h.worker_id ?? '?'}: ${h.amount}`)].join('\n'),
        contextValue: 'coord.pool',
        ...icon(full ? ['server', 'charts.orange'] : ['server']),
        collapsible: p.holders.length > 0,
      };
    }
    case 'holder': {
      const h = node.holder;
      return {
        id: `coord:holder:${node.pool}:${h.kind}:${h.id}`,
        label: holderLabel(h),
        description: join([h.worker_id && `@${h.worker_id}`, `holds ${h.amount}`, left(h.expires_at, now)]),
        tooltip: `${h.kind === 'task' ? 'Running task' : 'Ad-hoc hold'} ${h.id} holds ${h.amount} of ${node.pool}${h.worker_id ? ` for ${h.worker_id}` : ''}`,
        contextValue: `coord.holder.${h.kind}`,
        icon: h.kind === 'task' ? 'tasklist' : 'pinned',
        collapsible: false,
      };
    }
    case 'message':
      return messageItem(node.message, node.recipient, now);
    case 'group':
      return groupRow(node.entry);
    case 'checkpoint': {
      const cp = node.checkpoint;
      return {
        id: `coord:checkpoint:${node.group}`,
        label: cp ? 'Checkpoint' : 'No checkpoint recorded',
        description: cp ? join([ago(cp.timestamp, now), cp.timestamp]) : 'Record Checkpoint snapshots every stream',
        tooltip: cp ? `Latest checkpoint of ${node.group}, recorded ${cp.timestamp}` : `No checkpoint of ${node.group} recorded yet`,
        contextValue: 'coord.checkpoint',
        icon: 'history',
        collapsible: false,
      };
    }
    case 'stream': {
      const s = node.stream;
      return {
        id: `coord:stream:${node.group}:${s.task_id}`,
        label: s.task_id,
        description: join([s.status, s.progress && progressText(s.progress), s.claimed_by && `@${s.claimed_by}`]),
        tooltip: join([`${s.task_id} — ${s.status} at the checkpoint`, s.progress && `Progress: ${progressText(s.progress, 1000)} (${s.progress.at})`], '\n'),
        contextValue: 'coord.stream',
        ...icon(STREAM_ICON[s.status] ?? ['circle-large-outline']),
        collapsible: false,
      };
    }
  }
}

function holderLabel(h: PoolHolder): string {
  return h.kind === 'task' ? `task ${h.id}` : `hold ${h.id}`;
}

const UNREACHABLE = { stale: 'stale', unregistered: 'never registered' } as const;

function messageItem(msg: PendingMessage, recipient: 'live' | 'stale' | 'unregistered', now: number): ItemModel {
  const warn = recipient !== 'live' ? UNREACHABLE[recipient] : undefined;
  return {
    // One message to a topic is one delivery per subscriber: a row per delivery.
    id: `coord:message:${msg.id}:${msg.recipient}`,
    // Who it waits for and for how long come first: a sidebar cuts the end of a row off.
    label: `→ ${msg.recipient}`,
    description: join([warn && `⚠ ${warn}`, ago(msg.sent_at, now), preview(msg.body)]),
    tooltip: join(
      [
        `${msg.id} to ${msg.to}${msg.to !== msg.recipient ? ` (delivered to ${msg.recipient})` : ''}${msg.from ? ` from ${msg.from}` : ''}`,
        `Sent ${msg.sent_at}, not acknowledged yet`,
        warn && `The recipient is ${warn}: nobody may ever read it; drop it if so`,
        preview(msg.body, 500),
      ],
      '\n',
    ),
    contextValue: warn ? 'coord.message.unreachable' : 'coord.message',
    ...icon(warn ? ['warning', 'list.warningForeground'] : ['mail']),
    collapsible: false,
  };
}

function groupRow({ status: s, checkpoint }: GroupEntry): ItemModel {
  const state = s.done ? (s.failed > 0 ? `done, ${s.failed} failed` : 'done') : `${s.total - s.finished} to go`;
  return {
    id: `coord:group:${s.group}`,
    label: s.group,
    description: join([`${s.completed}/${s.total}`, state]),
    tooltip: join(
      [
        `Group ${s.group}: ${s.completed} of ${s.total} completed${s.failed ? `, ${s.failed} failed` : ''}${s.done ? ' — done' : ''}`,
        ...s.streams.map((x) => `${x.task_id}: ${x.status}${x.progress ? ` ${progressText(x.progress)}` : ''}`),
        checkpoint ? `Latest checkpoint ${checkpoint.timestamp}` : 'No checkpoint recorded',
      ],
      '\n',
    ),
    contextValue: s.done ? 'coord.group.done' : 'coord.group.open',
    ...icon(s.done ? (s.failed > 0 ? ['error', 'errorForeground'] : ['pass-filled', 'charts.green']) : ['sync~spin', 'charts.blue']),
    collapsible: true,
    expanded: !s.done,
  };
}
