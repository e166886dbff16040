import { isFleetChange, MemoryFleet } from './fleet-rows';
import { deepFreeze } from './freeze';
import type { Instance, TaskStatus } from './model';
import { MemoryPrimitives, type Undo } from './primitive-store';
import type { Change, StoreReader, TaskPageQuery, TaskRow, TaskSummary } from './store';
import { TaskIndex } from './task-index';
import { UsageIndex, type UsageKey, type UsageSum } from './usage-index';

const ms = (iso: string) => Date.parse(iso);

/**
 * A task row frozen with the arrays the indexes read. Its JSON values (payload, result) are left
 * as they are: nothing here changes them, and walking them cost a tenth of opening 100k tasks.
 */
function freezeRow(row: TaskRow): TaskRow {
  Object.freeze(row.dependencies);
  Object.freeze(row.capabilities);
  return Object.freeze(row);
}

/**
 * The coordinator's whole state in memory, with its indexes: what every store reads from. A
 * change applies in O(log n) and returns its undo, so a transaction that throws rolls back.
 * It persists nothing: the store built on it (durable-store.ts) puts a durability log behind it.
 */
export class MemoryState implements StoreReader {
  private readonly tasks = new TaskIndex();
  private readonly instances = new Map<string, Instance>();
  private readonly meta = new Map<string, string>();
  readonly primitives = new MemoryPrimitives();
  readonly fleet = new MemoryFleet();
  private readonly usage = new UsageIndex();

  protected applyChange(c: Change): Undo {
    if (isFleetChange(c)) return this.fleet.apply(c);
    switch (c.op) {
      case 'task': {
        const before = this.tasks.get(c.row.id);
        const undoRow = this.tasks.put(freezeRow(c.row));
        const undoUsage = this.usage.replace(c.row.id, before, c.row);
        return () => {
          undoUsage();
          undoRow();
        };
      }
      case 'instance': {
        const before = this.instances.get(c.row.worker_id);
        this.instances.set(c.row.worker_id, deepFreeze(c.row));
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

  /**
   * Every row as the change that puts it back, read in one go: rows are frozen values, so the
   * list is the state at this moment however long its reader takes (a snapshot of memory).
   */
  rows(): Change[] {
    return [
      ...[...this.meta].map(([key, value]): Change => ({ op: 'meta', key, value })),
      ...this.tasks.list().map((row): Change => ({ op: 'task', row })),
      ...[...this.instances.values()].map((row): Change => ({ op: 'instance', row })),
      ...this.primitives.rows(),
      ...this.fleet.rows(),
    ];
  }

  getTask(id: string): TaskRow | undefined {
    return this.tasks.get(id);
  }
  listTasks(status?: TaskStatus): TaskRow[] {
    return this.tasks.list(status);
  }
  listTasksPage(query: TaskPageQuery): TaskRow[] {
    return this.tasks.page(query);
  }
  countTasks(): Record<TaskStatus, number> {
    return this.tasks.counts();
  }
  countReady(nowIso: string, capabilities?: ReadonlySet<string>): number {
    return this.tasks.countReady(ms(nowIso), capabilities);
  }
  taskSummary(): TaskSummary {
    return this.tasks.summary();
  }
  groupTasks(group: string): TaskRow[] {
    return this.tasks.group(group);
  }
  heldBy(workerId: string): TaskRow[] {
    return this.tasks.heldBy(workerId);
  }
  firstReady(nowIso: string, accept: (task: TaskRow) => boolean, capabilities?: ReadonlySet<string>): TaskRow | undefined {
    return this.tasks.firstReady(ms(nowIso), accept, capabilities);
  }
  firstExpired(nowIso: string, accept: (task: TaskRow) => boolean): TaskRow | undefined {
    return this.tasks.firstExpired(ms(nowIso), accept);
  }
  listExpired(nowIso: string): TaskRow[] {
    return this.tasks.listExpired(ms(nowIso));
  }
  dependents(id: string): string[] {
    return this.tasks.dependents(id);
  }
  getInstance(workerId: string): Instance | undefined {
    return this.instances.get(workerId);
  }
  listInstances(): Instance[] {
    return [...this.instances.values()].sort((a, b) => (a.worker_id < b.worker_id ? -1 : a.worker_id > b.worker_id ? 1 : 0));
  }
  getMeta(key: string): string | undefined {
    return this.meta.get(key);
  }
  usageTotal(): UsageSum {
    return this.usage.total();
  }
  usageBy(by: UsageKey): Map<string, UsageSum> {
    return this.usage.by(by);
  }
  usageOf(by: UsageKey, key: string): UsageSum {
    return this.usage.of(by, key);
  }
  tasksWithUsage(): string[] {
    return [...this.usage.taskIds()];
  }
  /** Rows of every kind held now (tasks, instances, targets; the primitives' few rows aside). */
  get rowCount(): number {
    return this.tasks.size + this.instances.size + this.meta.size + this.fleet.size;
  }
}
