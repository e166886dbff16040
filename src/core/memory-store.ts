import type { Instance, TaskStatus } from './model';
import { MemoryPrimitives } from './primitive-store';
import { ZERO_COUNTS, type Change, type Committed, type Store, type StoreWriter, type TaskPageQuery, type TaskRow, type TaskSummary } from './store';

/** Everything here is durable at once; one promise for all, as an empty transaction answers with the latest write's. */
const DURABLE = Promise.resolve();

const byReadiness = (a: TaskRow, b: TaskRow) => b.priority - a.priority || a.seq - b.seq;

/**
 * A store that keeps everything in maps and persists nothing: for tests of the coordinator's
 * rules, and the reference the sql.js store is checked against in the conformance suite.
 */
export class MemoryStore implements Store {
  private readonly tasks = new Map<string, TaskRow>();
  private readonly instances = new Map<string, Instance>();
  private readonly meta = new Map<string, string>();
  private readonly reverseDeps = new Map<string, Set<string>>();
  readonly primitives = new MemoryPrimitives();

  transact<T>(fn: (tx: StoreWriter) => T): Committed<T> {
    const undo: Array<() => void> = [];
    const tx: StoreWriter = { apply: (c) => undo.push(this.applyOne(c)) };
    try {
      const value = fn(tx);
      return { value, durable: DURABLE };
    } catch (e) {
      for (const u of undo.reverse()) u();
      throw e;
    }
  }

  /** Applies a change and returns how to undo it. */
  private applyOne(c: Change): () => void {
    switch (c.op) {
      case 'task': {
        const before = this.tasks.get(c.row.id);
        this.tasks.set(c.row.id, structuredClone(c.row));
        if (!before) for (const d of c.row.dependencies) this.reverse(d).add(c.row.id);
        return () => {
          if (before) this.tasks.set(c.row.id, before);
          else {
            this.tasks.delete(c.row.id);
            for (const d of c.row.dependencies) this.reverse(d).delete(c.row.id);
          }
        };
      }
      case 'instance': {
        const before = this.instances.get(c.row.worker_id);
        this.instances.set(c.row.worker_id, structuredClone(c.row));
        return () => (before ? this.instances.set(c.row.worker_id, before) : this.instances.delete(c.row.worker_id));
      }
      case 'instance_delete': {
        const before = this.instances.get(c.worker_id);
        this.instances.delete(c.worker_id);
        return () => before && this.instances.set(c.worker_id, before);
      }
      case 'meta': {
        const before = this.meta.get(c.key);
        this.meta.set(c.key, c.value);
        return () => (before === undefined ? this.meta.delete(c.key) : this.meta.set(c.key, before));
      }
      default:
        return this.primitives.apply(c);
    }
  }

  private reverse(id: string): Set<string> {
    let s = this.reverseDeps.get(id);
    if (!s) this.reverseDeps.set(id, (s = new Set()));
    return s;
  }

  getTask(id: string): TaskRow | undefined {
    const t = this.tasks.get(id);
    return t && structuredClone(t);
  }
  listTasks(status?: TaskStatus): TaskRow[] {
    return [...this.tasks.values()]
      .filter((t) => !status || t.status === status)
      .sort((a, b) => a.seq - b.seq)
      .map((t) => structuredClone(t));
  }
  listTasksPage({ afterSeq, limit, status, group }: TaskPageQuery): TaskRow[] {
    return [...this.tasks.values()]
      .filter((t) => t.seq > afterSeq && (!status || t.status === status) && (group === undefined || t.group === group))
      .sort((a, b) => a.seq - b.seq)
      .slice(0, limit)
      .map((t) => structuredClone(t));
  }
  countTasks(): Record<TaskStatus, number> {
    const counts = ZERO_COUNTS();
    for (const t of this.tasks.values()) counts[t.status]++;
    return counts;
  }
  taskSummary(): TaskSummary {
    const summary: TaskSummary = { counts: ZERO_COUNTS(), ready: 0, groups: new Map() };
    for (const t of this.tasks.values()) {
      const ready = t.status === 'pending' && t.unmet_deps === 0 ? 1 : 0;
      summary.counts[t.status]++;
      summary.ready += ready;
      if (t.group === undefined) continue;
      let g = summary.groups.get(t.group);
      if (!g) summary.groups.set(t.group, (g = { ...ZERO_COUNTS(), ready: 0 }));
      g[t.status]++;
      g.ready += ready;
    }
    return summary;
  }
  heldBy(workerId: string): TaskRow[] {
    return this.listTasks('running').filter((t) => t.claimed_by === workerId);
  }
  firstReady(accept: (task: TaskRow) => boolean): TaskRow | undefined {
    return this.listTasks('pending')
      .filter((t) => t.unmet_deps === 0)
      .sort(byReadiness)
      .find(accept);
  }
  firstExpired(nowIso: string, accept: (task: TaskRow) => boolean): TaskRow | undefined {
    return this.listExpired(nowIso).sort(byReadiness).find(accept);
  }
  listExpired(nowIso: string): TaskRow[] {
    return this.listTasks('running').filter((t) => t.lease_expires_at !== null && t.lease_expires_at <= nowIso);
  }
  dependents(id: string): string[] {
    return [...(this.reverseDeps.get(id) ?? [])];
  }
  getInstance(workerId: string): Instance | undefined {
    const i = this.instances.get(workerId);
    return i && structuredClone(i);
  }
  listInstances(): Instance[] {
    return [...this.instances.values()].map((i) => structuredClone(i));
  }
  getMeta(key: string): string | undefined {
    return this.meta.get(key);
  }
  async close(): Promise<void> {}
}
