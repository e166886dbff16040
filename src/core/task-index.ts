// The tasks in memory with the indexes the coordinator asks through: ready tasks by priority then
// age (one ordered set per capability set), leases by expiry, tasks waiting out a retry backoff
// by time, running tasks by holder, dependents, every task and each status by sequence (ordered
// iteration from a cursor), counts per status and per group. Every read the claim path makes is
// O(log n); nothing scans the tasks.
import BTree from 'sorted-btree';
import { Deadlines } from './deadlines';
import { ErrorCode, HarnessError } from './errors';
import { TASK_STATUSES, type TaskStatus } from './model';
import { ZERO_COUNTS, type TaskPageQuery, type TaskRow, type TaskSummary } from './store';

const PRIORITY_LIMIT = 1_000_000;
const SEQ_LIMIT = 2 ** 32;
const numeric = (a: number, b: number) => a - b;

/**
 * Readiness order as one number, highest priority first, then oldest (lowest seq): it fits a
 * double exactly while |priority| ≤ 10^6 (the model's bound) and seq < 2^32.
 */
function rank(row: TaskRow): number {
  if (Math.abs(row.priority) > PRIORITY_LIMIT || row.seq >= SEQ_LIMIT || row.seq < 0) {
    throw new HarnessError(ErrorCode.Internal, `task ${row.id}: priority ${row.priority} or sequence ${row.seq} out of the indexable range`);
  }
  return (PRIORITY_LIMIT - row.priority) * SEQ_LIMIT + row.seq;
}

interface Bucket {
  capabilities: readonly string[];
  ready: BTree<number, string>;
}

/** Whether two versions of a task sit in the same place of the ready sets, deadlines and holders. */
function sameQueues(a: TaskRow, b: TaskRow): boolean {
  if (a.status !== b.status) return false;
  if (a.status === 'running') return a.claimed_by === b.claimed_by && a.lease_expires_at === b.lease_expires_at;
  if (a.status !== 'pending') return true;
  if ((a.unmet_deps === 0) !== (b.unmet_deps === 0)) return false;
  if (a.unmet_deps !== 0) return true;
  return (
    a.retry_at === b.retry_at &&
    a.priority === b.priority &&
    (a.capabilities === b.capabilities || capabilityKey(a.capabilities) === capabilityKey(b.capabilities))
  );
}

const capabilityKey = (caps: readonly string[]) => (caps.length === 0 ? '' : JSON.stringify([...new Set(caps)].sort()));

export class TaskIndex {
  private readonly rows = new Map<string, TaskRow>();
  private readonly bySeq = new BTree<number, string>(undefined, numeric);
  private readonly byStatus = Object.fromEntries(TASK_STATUSES.map((s) => [s, new BTree<number, string>(undefined, numeric)])) as Record<
    TaskStatus,
    BTree<number, string>
  >;
  /** Ready tasks, by capability set (most tasks share a few), each in readiness order. */
  private readonly buckets = new Map<string, Bucket>();
  private readonly bucketOf = new Map<string, Bucket>();
  /** Pending tasks with every dependency met that wait out a retry backoff; ready when due. */
  private readonly backoff = new Deadlines(
    (id) => this.addReady(this.rows.get(id)!),
    (id) => this.removeReady(id),
  );
  /** Running tasks by lease end; due ones move to `expired`, in readiness order. */
  private readonly leases = new Deadlines(
    (id) => this.expired.set(rank(this.rows.get(id)!), id),
    (id) => this.expired.delete(rank(this.rows.get(id)!)),
  );
  private readonly expired = new BTree<number, string>(undefined, numeric);
  private readonly holders = new Map<string, Set<string>>();
  private readonly reverseDeps = new Map<string, string[]>();
  private readonly groups = new Map<string, { ids: Set<string>; counts: Record<TaskStatus, number>; ready: number }>();
  /** Pending tasks with every dependency met (a retry backoff or not): the summary's "ready". */
  private depReady = 0;

  get(id: string): TaskRow | undefined {
    return this.rows.get(id);
  }

  /** Stores `row` (frozen: rows are values, never changed in place) and returns how to undo it. */
  put(row: TaskRow): () => void {
    const before = this.rows.get(row.id);
    this.replace(before, row);
    return () => this.replace(row, before);
  }

  private replace(before: TaskRow | undefined, after: TaskRow | undefined): void {
    if (before && after) {
      // An update: only the structures whose keys changed are touched (a renewal moves a lease,
      // nothing else).
      const status = before.status !== after.status;
      const queues = !sameQueues(before, after);
      if (status) this.unindexStatus(before);
      if (queues) this.unindexQueues(before);
      this.rows.set(after.id, after);
      if (status) this.indexStatus(after);
      if (queues) this.indexQueues(after);
    } else if (after) {
      this.rows.set(after.id, after);
      this.bySeq.set(after.seq, after.id);
      for (const d of after.dependencies) {
        const list = this.reverseDeps.get(d);
        if (list) list.push(after.id);
        else this.reverseDeps.set(d, [after.id]);
      }
      this.indexStatus(after);
      this.indexQueues(after);
    } else if (before) {
      // Only a rolled-back insert removes a task.
      this.unindexStatus(before);
      this.unindexQueues(before);
      this.rows.delete(before.id);
      this.bySeq.delete(before.seq);
      if (before.group !== undefined) this.groups.get(before.group)!.ids.delete(before.id);
      for (const d of before.dependencies) {
        const list = this.reverseDeps.get(d);
        const at = list?.lastIndexOf(before.id) ?? -1;
        if (at >= 0) list!.splice(at, 1);
      }
    }
  }

  private indexStatus(row: TaskRow): void {
    this.byStatus[row.status].set(row.seq, row.id);
    if (row.group !== undefined) {
      let g = this.groups.get(row.group);
      if (!g) this.groups.set(row.group, (g = { ids: new Set(), counts: ZERO_COUNTS(), ready: 0 }));
      g.ids.add(row.id);
      g.counts[row.status]++;
    }
  }

  private unindexStatus(row: TaskRow): void {
    this.byStatus[row.status].delete(row.seq);
    if (row.group !== undefined) this.groups.get(row.group)!.counts[row.status]--;
  }

  /** The ready sets, the backoff and lease deadlines, the holders: where a task waits or runs. */
  private indexQueues(row: TaskRow): void {
    if (row.status === 'pending' && row.unmet_deps === 0) {
      this.depReady++;
      if (row.group !== undefined) this.groups.get(row.group)!.ready++;
      if (row.retry_at !== undefined) this.backoff.add(row.id, Date.parse(row.retry_at), row.seq);
      else this.addReady(row);
    } else if (row.status === 'running') {
      if (row.claimed_by !== null) {
        let held = this.holders.get(row.claimed_by);
        if (!held) this.holders.set(row.claimed_by, (held = new Set()));
        held.add(row.id);
      }
      if (row.lease_expires_at !== null) this.leases.add(row.id, Date.parse(row.lease_expires_at), row.seq);
    }
  }

  private unindexQueues(row: TaskRow): void {
    if (row.status === 'pending' && row.unmet_deps === 0) {
      this.depReady--;
      if (row.group !== undefined) this.groups.get(row.group)!.ready--;
      if (row.retry_at !== undefined) this.backoff.remove(row.id);
      else this.removeReady(row.id);
    } else if (row.status === 'running') {
      if (row.claimed_by !== null) {
        const held = this.holders.get(row.claimed_by)!;
        held.delete(row.id);
        if (held.size === 0) this.holders.delete(row.claimed_by);
      }
      if (row.lease_expires_at !== null) this.leases.remove(row.id);
    }
  }

  private addReady(row: TaskRow): void {
    const key = capabilityKey(row.capabilities);
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = { capabilities: key ? (JSON.parse(key) as string[]) : [], ready: new BTree(undefined, numeric) }));
    bucket.ready.set(rank(row), row.id);
    this.bucketOf.set(row.id, bucket);
  }

  private removeReady(id: string): void {
    const bucket = this.bucketOf.get(id);
    if (!bucket) return;
    this.bucketOf.delete(id);
    bucket.ready.delete(rank(this.rows.get(id)!));
    if (bucket.ready.size === 0) this.buckets.delete(capabilityKey(bucket.capabilities));
  }

  // ---- reads ----

  /**
   * The first ready task `accept`s, highest priority first, oldest first among equals. With
   * `capabilities`, only the sets of tasks that need no more than those are looked at.
   */
  firstReady(nowMs: number, accept: (row: TaskRow) => boolean, capabilities?: ReadonlySet<string>): TaskRow | undefined {
    this.backoff.advance(nowMs);
    const eligible: Array<Iterator<[number, string]>> = [];
    for (const bucket of this.buckets.values()) {
      if (!capabilities || bucket.capabilities.every((c) => capabilities.has(c))) eligible.push(bucket.ready.entries());
    }
    // A merge over the eligible sets: each advances only past the tasks `accept` refused.
    const heads = eligible.map((it) => it.next()).map((r, i) => ({ it: eligible[i]!, r }));
    for (;;) {
      let best: (typeof heads)[number] | undefined;
      for (const h of heads) if (!h.r.done && (!best || h.r.value[0] < best.r.value[0])) best = h;
      if (!best) return undefined;
      const row = this.rows.get(best.r.value[1])!;
      if (accept(row)) return row;
      best.r = best.it.next();
    }
  }

  /** Running tasks whose lease ended at or before `nowMs`, in readiness order; the first accepted. */
  firstExpired(nowMs: number, accept: (row: TaskRow) => boolean): TaskRow | undefined {
    this.leases.advance(nowMs);
    for (const [, id] of this.expired.entries()) {
      const row = this.rows.get(id)!;
      if (accept(row)) return row;
    }
    return undefined;
  }

  listExpired(nowMs: number): TaskRow[] {
    this.leases.advance(nowMs);
    return this.sorted([...this.expired.values()]);
  }

  heldBy(workerId: string): TaskRow[] {
    return this.sorted([...(this.holders.get(workerId) ?? [])]);
  }

  dependents(id: string): string[] {
    return [...(this.reverseDeps.get(id) ?? [])];
  }

  /** Tasks in sequence order (the order they were added), of one status when given. */
  list(status?: TaskStatus): TaskRow[] {
    return this.page({ afterSeq: 0, limit: Number.POSITIVE_INFINITY, status });
  }

  /** Up to `limit` tasks with a sequence number above `afterSeq`, in sequence order, filtered. */
  page({ afterSeq, limit, status, group }: TaskPageQuery): TaskRow[] {
    const out: TaskRow[] = [];
    if (limit <= 0) return out;
    if (group !== undefined) {
      for (const row of this.group(group)) {
        if (row.seq > afterSeq && (!status || row.status === status)) out.push(row);
        if (out.length >= limit) break;
      }
      return out;
    }
    const tree = status ? this.byStatus[status] : this.bySeq;
    for (const [, id] of tree.entries(afterSeq + 1)) {
      out.push(this.rows.get(id)!);
      if (out.length >= limit) break;
    }
    return out;
  }

  counts(): Record<TaskStatus, number> {
    const counts = ZERO_COUNTS();
    for (const s of TASK_STATUSES) counts[s] = this.byStatus[s].size;
    return counts;
  }

  /** Counts per status, dependency-ready tasks, and the same per group: kept as rows change. */
  summary(): TaskSummary {
    const groups: TaskSummary['groups'] = new Map();
    for (const [name, g] of this.groups) if (g.ids.size > 0) groups.set(name, { ...g.counts, ready: g.ready });
    return { counts: this.counts(), ready: this.depReady, groups };
  }

  /** Tasks that could be claimed at `nowMs`: pending, dependencies met, no backoff left. */
  countReady(nowMs: number): number {
    this.backoff.advance(nowMs);
    let n = 0;
    for (const b of this.buckets.values()) n += b.ready.size;
    return n;
  }

  /** The tasks of a group, in sequence order. */
  group(name: string): TaskRow[] {
    return this.sorted([...(this.groups.get(name)?.ids ?? [])]);
  }

  get size(): number {
    return this.rows.size;
  }

  private sorted(ids: string[]): TaskRow[] {
    return ids.map((id) => this.rows.get(id)!).sort((a, b) => a.seq - b.seq);
  }
}
