/**
 * Every task the coordinator has, kept up to date from its events: the one copy the trees, the
 * status bar and the panel read. A coordinator event carries the task it changed, so an event
 * costs a map update and the dependents it unblocks, not a refetch of every task (100,000 tasks
 * take a second to list). Only a reconnect, a dropped event or
 * a task event of a shape this build does not know reads from the coordinator again (a stale or
 * leaving worker's freed tasks come with their own `lease:expired` events).
 *
 * Ordering. A listing reflects the coordinator at the moment it was processed; an event applied
 * after that moment is newer and must win over the listing. In-process the listing is read when
 * requested (events delivered while awaiting it are newer); over the socket the server writes the
 * events before a reply in the order they happened (events before the reply are older). Each task
 * remembers the sequence number of its last event, and a listing skips tasks touched after its
 * moment.
 */
import type { Caller } from '../protocol/api';
import type { EventLine } from '../protocol/messages';
import type { Task } from '../protocol/model';
import { TaskList } from '../protocol/tasks';
import type { DisplayStatus } from '../protocol/webview';

/** The part of HarnessApi the cache needs, so tests hand in a fake. */
export interface TaskSource extends Caller {
  readonly mode: 'in-process' | 'client';
}

/** One page of a listing, with the event sequence number it is as new as. */
interface ListedPage {
  tasks: readonly Task[];
  moment: number;
}

/** The sidebar's groups, attention first: what needs a person, then what moves, then history. */
export const ATTENTION_ORDER = ['dead_letter', 'failed', 'running', 'ready', 'blocked', 'completed', 'cancelled'] as const;
export type AttentionGroup = (typeof ATTENTION_ORDER)[number];

/** Events whose payload is `{ task }` or `{ tasks }`: applied as they are. */
const CARRIES_TASKS = /^(task|lease):/;

export interface CacheChange {
  /** Ids of tasks added or changed (empty after a full reload: everything may have). */
  ids: Set<string>;
  /** The whole list was read again. */
  reloaded: boolean;
  /** Nothing a view shows changed but the lease times (a heartbeat). */
  quiet: boolean;
}

export class TaskCache {
  private readonly byId = new Map<string, Task>();
  private readonly dependents = new Map<string, Set<string>>();
  /** Pending task → how many of its dependencies are not completed (unknown ones count). */
  private readonly unmet = new Map<string, number>();
  private readonly attention = new Map<string, AttentionGroup>();
  private readonly members = new Map<AttentionGroup, Set<string>>(ATTENTION_ORDER.map((g) => [g, new Set()]));
  private readonly groups = new Map<string, Set<string>>();
  /** Per task group, how many of its tasks are in each display status: the summary's counts. */
  private readonly groupCounts = new Map<string, Record<DisplayStatus, number>>();
  /** Where place() last counted each task: its display status and group. */
  private readonly counted = new Map<string, { display: DisplayStatus; group: string | undefined }>();
  /**
   * Each group in the sidebar's order, once a view asked for it; kept in order as tasks come and
   * go (a binary-search insert, a splice), since sorting 90,000 blocked tasks again after every
   * completion costs more than the whole rest of a redraw.
   */
  private readonly sorted = new Map<AttentionGroup, Task[]>();
  private eventSeq = 0;
  private readonly touched = new Map<string, number>();
  private readonly listeners = new Set<(change: CacheChange) => void>();
  private pendingLoad: Promise<void> | null = null;
  private source: TaskSource | undefined;
  /** When the last full listing finished, and how long it took (ms). */
  lastLoad = { at: 0, ms: 0, count: 0 };

  get size(): number {
    return this.byId.size;
  }

  /** A full listing is under way (100,000 tasks take seconds to read). */
  get loading(): boolean {
    return this.pendingLoad !== null;
  }

  get(id: string): Task | undefined {
    return this.byId.get(id);
  }

  all(): IterableIterator<Task> {
    return this.byId.values();
  }

  /** Ready or blocked for a pending task; the status otherwise. */
  displayStatus(task: Task): DisplayStatus {
    if (task.status !== 'pending') return task.status;
    return (this.unmet.get(task.id) ?? 0) === 0 ? 'ready' : 'blocked';
  }

  attentionGroup(id: string): AttentionGroup | undefined {
    return this.attention.get(id);
  }

  count(group: AttentionGroup): number {
    return this.members.get(group)!.size;
  }

  countsByDisplay(): Record<DisplayStatus, number> {
    return {
      ready: this.readyCount(),
      blocked: this.blockedCount(),
      running: this.count('running'),
      completed: this.count('completed'),
      dead_letter: this.count('dead_letter'),
      cancelled: this.count('cancelled'),
    };
  }

  /** Tasks that depend on `id` directly. */
  dependentsOf(id: string): ReadonlySet<string> {
    return this.dependents.get(id) ?? new Set();
  }

  /** Task group name → how many of its tasks are in each display status (kept, not computed). */
  groupStatusCounts(): ReadonlyMap<string, Readonly<Record<DisplayStatus, number>>> {
    return this.groupCounts;
  }

  /**
   * The tasks of the first `limit` groups, those with work left first, then by name; and how many
   * groups there are. Chosen from the kept counts, so only the listed groups' tasks are read.
   */
  groupsToList(limit: number): { groups: Map<string, Task[]>; count: number } {
    const open = (counts: Record<DisplayStatus, number>) => counts.ready + counts.blocked + counts.running > 0;
    const names = [...this.groupCounts]
      .sort(([a, ca], [b, cb]) => Number(open(cb)) - Number(open(ca)) || a.localeCompare(b))
      .slice(0, limit)
      .map(([name]) => name);
    return {
      groups: new Map(names.map((name) => [name, [...(this.groups.get(name) ?? [])].map((id) => this.byId.get(id)!)])),
      count: this.groupCounts.size,
    };
  }

  /** The tasks of an attention group in the order the sidebar lists them; `limit` of them. */
  list(group: AttentionGroup, limit = Infinity): Task[] {
    let all = this.sorted.get(group);
    if (all === undefined) {
      all = [...this.members.get(group)!].map((id) => this.byId.get(id)!).sort(ORDER[group]);
      this.sorted.set(group, all);
    }
    return Number.isFinite(limit) ? all.slice(0, limit) : all;
  }

  onDidChange(listener: (change: CacheChange) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** Reads every task again from `source` (a new connection), or empties the cache (none). */
  reload(source: TaskSource | undefined): Promise<void> {
    this.source = source;
    if (!source) {
      this.clear();
      this.emit({ ids: new Set(), reloaded: true, quiet: false });
      return Promise.resolve();
    }
    const run = (this.pendingLoad ??= this.load(source).finally(() => (this.pendingLoad = null)));
    return run;
  }

  /** Applies one coordinator event. Returns whether it touched the tasks. */
  applyEvent(line: EventLine): boolean {
    const seq = ++this.eventSeq;
    const data = line.data as { task?: Task; tasks?: Task[]; freed_tasks?: string[] } | null;
    if (line.event === 'events:dropped') {
      void this.reload(this.source); // some events never came: read everything again
      return true;
    }
    if (CARRIES_TASKS.test(line.event)) {
      const tasks = data?.tasks ?? (data?.task ? [data.task] : null);
      if (!tasks) {
        void this.reload(this.source); // a task event of a shape this build does not know
        return true;
      }
      const ids = new Set<string>();
      for (const task of tasks) {
        this.touched.set(task.id, seq);
        this.put(task);
        ids.add(task.id);
      }
      this.emit({ ids, reloaded: false, quiet: line.event === 'task:heartbeat' });
      return true;
    }
    return false;
  }

  /**
   * Lists every task, page by page. Each page is as new as its own moment: in-process a page is
   * read when requested (events delivered while awaiting it are newer); over the socket it is read
   * when its reply leaves the server (events that came before the reply are older than it). A task
   * an event touched after its page's moment keeps what the event said.
   */
  private async load(source: TaskSource): Promise<void> {
    const started = performance.now();
    const pages: ListedPage[] = [];
    let cursor: string | undefined;
    do {
      let moment = this.eventSeq;
      const page = await source.call(TaskList, cursor === undefined ? {} : { cursor });
      if (source !== this.source) return; // a newer connection took over meanwhile
      if (source.mode === 'client') moment = this.eventSeq;
      pages.push({ tasks: page.tasks, moment });
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
    // Tasks touched by an event during the listing, as the events left them.
    const since = pages[0]?.moment ?? this.eventSeq;
    const fresh = new Map<string, { seq: number; task: Task | undefined }>();
    for (const [id, seq] of this.touched) if (seq > since) fresh.set(id, { seq, task: this.byId.get(id) });
    this.clear();
    const listed = new Set<string>();
    for (const { tasks, moment } of pages) {
      for (const task of tasks) {
        const newer = fresh.get(task.id);
        if (newer?.task !== undefined && newer.seq > moment) continue; // the event's version wins
        this.put(task);
        listed.add(task.id);
      }
    }
    for (const [id, { seq, task }] of fresh) {
      if (task !== undefined && !listed.has(id)) this.put(task);
      this.touched.set(id, seq);
    }
    const count = this.byId.size;
    this.lastLoad = { at: Date.now(), ms: performance.now() - started, count };
    this.emit({ ids: new Set(), reloaded: true, quiet: false });
  }

  private clear(): void {
    this.byId.clear();
    this.dependents.clear();
    this.unmet.clear();
    this.attention.clear();
    for (const set of this.members.values()) set.clear();
    this.groups.clear();
    this.groupCounts.clear();
    this.counted.clear();
    this.sorted.clear();
    this.touched.clear();
  }

  /** Adds or replaces one task, keeping readiness, groups and indexes right. */
  private put(task: Task): void {
    const before = this.byId.get(task.id);
    this.byId.set(task.id, task);
    if (before) {
      for (const d of before.dependencies) if (!task.dependencies.includes(d)) this.dependents.get(d)?.delete(task.id);
      if (before.group && before.group !== task.group) this.groups.get(before.group)?.delete(task.id);
    }
    for (const d of task.dependencies) (this.dependents.get(d) ?? this.dependents.set(d, new Set()).get(d)!).add(task.id);
    if (task.group) (this.groups.get(task.group) ?? this.groups.set(task.group, new Set()).get(task.group)!).add(task.id);
    if (task.status === 'pending') this.unmet.set(task.id, task.dependencies.filter((d) => this.byId.get(d)?.status !== 'completed').length);
    else this.unmet.delete(task.id);
    this.place(task, before);
    // Its dependents count it as met only while it is completed.
    const wasDone = before?.status === 'completed';
    const isDone = task.status === 'completed';
    if (wasDone !== isDone) {
      for (const id of this.dependents.get(task.id) ?? []) {
        const dependent = this.byId.get(id);
        if (!dependent || dependent.status !== 'pending') continue;
        this.unmet.set(id, Math.max(0, (this.unmet.get(id) ?? 0) + (isDone ? -1 : 1)));
        this.place(dependent, dependent);
      }
    }
  }

  /** Files `task` under its display status and attention group; `previous` is its last version. */
  private place(task: Task, previous: Task | undefined): void {
    const display = this.displayStatus(task);
    const before = this.counted.get(task.id);
    if (before?.display !== display || before?.group !== task.group) {
      if (before?.group) {
        const c = this.groupCounts.get(before.group)!;
        c[before.display]--;
        if (Object.values(c).every((n) => n === 0)) this.groupCounts.delete(before.group);
      }
      if (task.group) (this.groupCounts.get(task.group) ?? this.groupCounts.set(task.group, zeroCounts()).get(task.group)!)[display]++;
      this.counted.set(task.id, { display, group: task.group });
    }
    const group = attentionOf(task, display);
    const was = this.attention.get(task.id);
    if (was === group && previous === task) return; // same place, same sort key
    if (was && previous) this.unlist(was, previous);
    if (was !== group) {
      if (was) this.members.get(was)!.delete(task.id);
      this.attention.set(task.id, group);
      this.members.get(group)!.add(task.id);
    }
    this.enlist(group, task);
  }

  private unlist(group: AttentionGroup, task: Task): void {
    const list = this.sorted.get(group);
    if (!list) return;
    let at = list.indexOf(task);
    if (at < 0) at = list.findIndex((t) => t.id === task.id);
    if (at >= 0) list.splice(at, 1);
  }

  private enlist(group: AttentionGroup, task: Task): void {
    const list = this.sorted.get(group);
    if (!list) return;
    const order = ORDER[group];
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (order(list[mid]!, task) <= 0) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, task);
  }

  private readyCount(): number {
    let n = this.count('ready');
    for (const id of this.members.get('failed')!) if (this.unmet.get(id) === 0) n++;
    return n;
  }

  private blockedCount(): number {
    return this.count('blocked') + this.count('failed') - (this.readyCount() - this.count('ready'));
  }

  private emit(change: CacheChange): void {
    for (const l of this.listeners) l(change);
  }
}

const zeroCounts = (): Record<DisplayStatus, number> => ({ ready: 0, blocked: 0, running: 0, completed: 0, dead_letter: 0, cancelled: 0 });

/** A pending task whose last attempt failed waits for its retry: that is worth a look first. */
export function attentionOf(task: Task, display: DisplayStatus): AttentionGroup {
  if (task.status === 'pending' && task.error && task.attempts > 0) return 'failed';
  return display;
}

const byPriority = (a: Task, b: Task) => b.priority - a.priority || a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id);
const newestFirst = (key: 'completed_at' | 'started_at') => (a: Task, b: Task) => (b[key] ?? '').localeCompare(a[key] ?? '') || a.id.localeCompare(b.id);

const ORDER: Record<AttentionGroup, (a: Task, b: Task) => number> = {
  dead_letter: newestFirst('completed_at'),
  failed: byPriority,
  // The lease that runs out first is the one to watch.
  running: (a, b) => (a.lease_expires_at ?? '').localeCompare(b.lease_expires_at ?? '') || a.id.localeCompare(b.id),
  ready: byPriority,
  blocked: byPriority,
  completed: newestFirst('completed_at'),
  cancelled: (a, b) => a.id.localeCompare(b.id),
};
