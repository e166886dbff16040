// The --format text rendering of each reply the CLI prints: what a person reads, in lines and
// aligned columns. (Tasks are in task-text.ts; isolation in isolation.ts.)
import type { ResultOf } from '../protocol/command';
import type { InstanceList } from '../protocol/instances';
import type { LockAcquire, LockList, LockRelease, LockRenew } from '../protocol/locks';
import type { MessageAck, MessageDrop, MessageList, MessageReceive, MessageSend, TopicSubscribe, TopicUnsubscribe } from '../protocol/mailbox';
import type { Ping } from '../protocol/meta';
import type { Lock } from '../protocol/locks';
import type { PoolList, PoolSet } from '../protocol/pools';
import type { StateDelete, StateEntry, StateHistory, StateList, StatePut } from '../protocol/shared-state';
import type { ClaimResult, PlanImport, Status } from '../protocol/tasks';
import type { Task } from '../protocol/model';
import { formatAgo } from '../protocol/human-time';
import { clip, columns, count, json, relative, took } from './table';

const VALUE = 60;

/** One line about a task after a change: `build: completed (attempt 1 of 3)`. */
export function taskChanged(t: Task): string {
  const how =
    t.status === 'running'
      ? `running, held by ${t.claimed_by}${t.lease_expires_at ? `, lease ends ${relative(t.lease_expires_at)}` : ''}, fencing token ${t.fencing_token}`
      : t.status === 'pending'
        ? `pending${t.error ? ` (will be retried${t.retry_at ? ` ${relative(t.retry_at)}` : ''}: ${clip(t.error, 80)})` : ''}`
        : t.status === 'dead_letter'
          ? `dead letter${t.error ? `: ${clip(t.error, 80)}` : ''}`
          : t.status;
  return `${t.id}: ${how} (attempt ${t.attempts} of ${t.max_attempts})\n`;
}

export function claimText(d: ClaimResult): string {
  if (!d.task) return `no task is ready for this worker${d.held_back?.length ? ` (held back: the budget of ${d.held_back.join(', ')} is spent)` : ''}\n`;
  const why = d.is_retry ? ' (you already held it: lease renewed)' : d.is_reclaim ? ' (taken over from a worker whose lease ran out)' : '';
  return `claimed ${d.task.id}${why}: ${clip(d.task.description, 200) || '(no description)'}\n` + taskChanged(d.task);
}

export function statusText(d: ResultOf<typeof Status>): string {
  const c = d.counts;
  const total = c.pending + c.running + c.completed + c.dead_letter + c.cancelled;
  const lines = [
    `${count(total, 'task')}: ${c.running} running, ${d.ready} ready, ${c.pending - d.ready} blocked, ${c.completed} completed, ${c.dead_letter} dead letter, ${c.cancelled} cancelled`,
    `${count(d.instances, 'live worker')}`,
  ].join('\n');
  const groups = Object.entries(d.groups);
  if (groups.length === 0) return lines + '\n';
  const rows = groups.map(([g, n]) => [g, String(n.running), String(n.ready), String(n.pending - n.ready), String(n.completed), String(n.dead_letter), String(n.cancelled)]);
  return (
    `${lines}\ngroups${d.groups_truncated ? ' (the first by name only)' : ''}:\n` +
    columns([['GROUP', 'RUNNING', 'READY', 'BLOCKED', 'COMPLETED', 'DEAD', 'CANCELLED'], ...rows], '  ')
  );
}

export const pingText = (d: ResultOf<typeof Ping>): string =>
  `coordinator of ${d.workspace} answers (pid ${d.pid}, protocol ${d.protocol}, state in ${d.state_dir})\n` + (d.cluster ? clusterLine(d.cluster) : '');

/** Where this coordinator stands in its cluster, and who leads (what the status bar says too). */
function clusterLine(c: NonNullable<ResultOf<typeof Ping>['cluster']>): string {
  const self = `this coordinator (${c.node}) is ${c.role === 'leader' ? 'the leader' : `a ${c.role}`}`;
  const leader = c.leader ? `${c.leader.node} on ${c.leader.host} (pid ${c.leader.pid}) leads, took over ${relative(c.leader.since)}` : 'nobody leads right now';
  return `cluster ${c.cluster}: ${c.role === 'leader' && c.leader ? `${self}, took over ${relative(c.leader.since)}` : `${self}; ${leader}`} (at record ${c.record})\n`;
}

export const planText = (d: ResultOf<typeof PlanImport>): string =>
  `imported ${count(d.count, 'task')}${d.task_ids.length ? `: ${clip(d.task_ids.join(', '), 200)}` : ''}\n`;

export const instancesText = (d: ResultOf<typeof InstanceList>): string =>
  d.instances.length
    ? columns([
        ['STATUS', 'WORKER', 'NAME', 'SEEN', 'TASK', 'CAPABILITIES'],
        ...d.instances.map((i) => [
          i.status,
          i.worker_id,
          clip(i.name, 40),
          formatAgo(i.last_seen_age_ms),
          i.current_task ?? '-',
          i.capabilities.join(',') || '-',
        ]),
      ])
    : 'no workers registered\n';

const lockRow = (l: Lock) => [l.path, l.mode, l.worker_id, String(l.token), relative(l.expires_at)];

function lockLines(locks: readonly Lock[]): string {
  return columns([['PATH', 'MODE', 'HOLDER', 'TOKEN', 'EXPIRES'], ...locks.map(lockRow)]);
}

export const lockGrantText = (d: ResultOf<typeof LockAcquire> | ResultOf<typeof LockRenew>): string =>
  `${d.lock.mode} lock on ${d.lock.path}: token ${d.lock.token}, expires ${relative(d.lock.expires_at)}` +
  ('waited_ms' in d && d.waited_ms > 0 ? ` (waited ${took(d.waited_ms)})` : '') +
  '\n';

export const lockReleaseText = (d: ResultOf<typeof LockRelease>): string =>
  d.released.length ? d.released.map((l) => `released the ${l.mode} lock on ${l.path} (token ${l.token})\n`).join('') : 'no lock of yours there\n';

export function lockListText(d: ResultOf<typeof LockList>): string {
  if (d.locks.length === 0 && d.waiting.length === 0) return 'no locks held\n';
  let out = d.locks.length ? lockLines(d.locks) : 'no locks held\n';
  if (d.waiting.length) {
    out += `waiting:\n${columns([['PATH', 'MODE', 'WORKER', 'SINCE', 'POSITION'], ...d.waiting.map((w) => [w.path, w.mode, w.worker_id, relative(w.since), String(w.position)])], '  ')}`;
  }
  return out;
}

function stateRows(entries: readonly StateEntry[]): string[][] {
  return entries.map((e) => [e.key, String(e.version), e.updated_by ?? '-', relative(e.updated_at), json(e.value, VALUE)]);
}

export const stateEntryText = (e: StateEntry): string => columns([['KEY', 'VERSION', 'BY', 'UPDATED', 'VALUE'], ...stateRows([e])]);

export const stateListText = (d: ResultOf<typeof StateList>): string =>
  d.entries.length ? columns([['KEY', 'VERSION', 'BY', 'UPDATED', 'VALUE'], ...stateRows(d.entries)]) : 'no shared values\n';

export const stateHistoryText = (d: ResultOf<typeof StateHistory>): string =>
  d.versions.length
    ? columns([
        ['VERSION', 'BY', 'UPDATED', 'VALUE'],
        ...d.versions.map((v) => [String(v.version), v.updated_by ?? '-', relative(v.updated_at), v.deleted ? '(deleted)' : json(v.value, VALUE)]),
      ])
    : `no versions of ${d.key}\n`;

export const statePutText = (d: ResultOf<typeof StatePut>): string => `${d.key}: now at version ${d.version}\n`;
export const stateDeleteText = (d: ResultOf<typeof StateDelete>): string => `${d.key}: deleted (version ${d.version})\n`;

export function poolListText(d: ResultOf<typeof PoolList>): string {
  if (d.pools.length === 0) return 'no resource pools (harness pool set NAME CAPACITY makes one)\n';
  let out = columns([
    ['POOL', 'CAPACITY', 'USED', 'FREE', 'HOLDERS'],
    ...d.pools.map((p) => [p.name, String(p.capacity), String(p.used), String(p.free), clip(p.holders.map((h) => `${h.kind === 'task' ? 'task ' : ''}${h.id}=${h.amount}`).join(', '), 80) || '-']),
  ]);
  if (d.waiting.length) {
    out += `waiting:\n${columns([['WORKER', 'AMOUNTS', 'SINCE', 'POSITION'], ...d.waiting.map((w) => [w.worker_id, Object.entries(w.amounts).map(([k, n]) => `${k}=${n}`).join(','), relative(w.since), String(w.position)])], '  ')}`;
  }
  return out;
}

export const poolSetText = (d: ResultOf<typeof PoolSet>): string => `pool ${d.pool.name}: capacity ${d.pool.capacity}\n`;

/** Item by item: who gets it, and a word when nobody registered under that id (yet). */
export function sentText(d: ResultOf<typeof MessageSend>): string {
  if (d.recipients.length === 0) return `sent ${d.message_id} to ${d.to}, which has no subscribers: nobody gets it\n`;
  const to = d.to.startsWith('topic:') ? `${d.to} (${count(d.recipients.length, 'subscriber')})` : d.to;
  const note = d.unregistered.length
    ? `; no worker ${d.unregistered.length === 1 ? 'is' : 'are'} registered as ${d.unregistered.join(', ')}: it is kept until one with that id receives it`
    : '';
  return `sent ${d.message_id} to ${to}${note}\n`;
}

export const receivedText = (d: ResultOf<typeof MessageReceive>): string =>
  d.messages.length
    ? columns([['ID', 'FROM', 'TO', 'SENT', 'BODY'], ...d.messages.map((m) => [m.id, m.from ?? '-', m.to, relative(m.sent_at), json(m.body, VALUE)])])
    : 'no messages\n';

export function messageListText(d: ResultOf<typeof MessageList>): string {
  let out = d.messages.length
    ? columns([['ID', 'RECIPIENT', 'TO', 'FROM', 'SENT', 'BODY'], ...d.messages.map((m) => [m.id, m.recipient, m.to, m.from ?? '-', relative(m.sent_at), json(m.body, VALUE)])])
    : 'no pending messages\n';
  const topics = Object.entries(d.topics);
  if (topics.length) out += `topics:\n${columns(topics.map(([t, subs]) => [`topic:${t}`, subs.join(', ')]), '  ')}`;
  return out;
}

export const ackText = (d: ResultOf<typeof MessageAck>): string => `${d.message_id}: acknowledged by ${d.worker_id}\n`;
export const dropText = (d: ResultOf<typeof MessageDrop>): string =>
  `${d.message_id}: dropped${d.recipients.length ? ` for ${d.recipients.join(', ')}` : ''}\n`;
export const topicText = (d: ResultOf<typeof TopicSubscribe> | ResultOf<typeof TopicUnsubscribe>): string =>
  `${d.worker_id} ${d.subscribed ? 'now receives' : 'no longer receives'} topic:${d.topic}\n`;
