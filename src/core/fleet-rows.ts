// The stored records of worker targets: targets, their slots (one per worker the target keeps:
// which process, which generation, who supervises it) and budgets; the changes that write them,
// and the in-memory tables every store reads them from. A slot is how "never a duplicate
// spin-up" is held: a worker is started only after its slot was claimed in a transaction.
import { deepFreeze } from './freeze';
import type { Undo } from './primitive-store';
import type { BudgetScope } from '../protocol/usage';
import type { SlotState } from '../protocol/targets';

export interface TargetRow {
  name: string;
  command: string[];
  shell: boolean;
  capabilities: string[];
  min: number;
  max: number;
  isolation: 'shared' | 'worktree';
  env: Record<string, string>;
  idle_timeout_seconds: number;
  usage: 'claude' | 'codex' | null;
  usage_model: string | null;
  source: 'config' | 'cli';
  /** A target from config.json: its entry as last applied, so an edit there is told apart from a scale here. */
  config: string | null;
  state: 'ok' | 'failing';
  /** When its workers last crashed, within the breaker window (oldest first). */
  crashes: string[];
  failing_since: string | null;
  last_exit: string | null;
  last_output: string | null;
  created_at: string;
  updated_at: string;
}

export interface SlotRow {
  target: string;
  /** 1, 2, ...: the worker id is `<target>-<slot>`. */
  slot: number;
  worker_id: string;
  state: SlotState;
  /** Grows at every start (one counter for all slots): a report about an older process is ignored. */
  generation: number;
  /** The supervisor (one per coordinator process) that started or adopted its process. */
  host: string | null;
  pid: number | null;
  started_at: string | null;
  /** In backoff: when to start it again (null while its target is failing). */
  restart_at: string | null;
  /** Crashes in a row: the backoff's exponent, cleared once a process ran long enough. */
  crashes: number;
  last_exit: string | null;
}

export interface BudgetRow {
  scope: BudgetScope;
  /** The group or target; null for the plan. */
  name: string | null;
  limit_usd: number;
  source: 'config' | 'cli';
  set_at: string;
  /** When it was first found spent (null: not spent, or raised since). */
  spent_at: string | null;
}

export type FleetChange =
  | { op: 'target'; row: TargetRow }
  | { op: 'target_delete'; name: string }
  | { op: 'slot'; row: SlotRow }
  | { op: 'slot_delete'; target: string; slot: number }
  | { op: 'budget'; row: BudgetRow }
  | { op: 'budget_delete'; scope: BudgetScope; name: string | null };

export const FLEET_OPS: ReadonlySet<string> = new Set(['target', 'target_delete', 'slot', 'slot_delete', 'budget', 'budget_delete']);

export function isFleetChange(c: { op: string }): c is FleetChange {
  return FLEET_OPS.has(c.op);
}

export interface FleetReader {
  /** Every target, by name. */
  targets(): TargetRow[];
  target(name: string): TargetRow | undefined;
  /** Slots (of one target), by target then slot number. */
  slots(target?: string): SlotRow[];
  /** The slot whose worker this is, if the worker belongs to a target. */
  slotOfWorker(workerId: string): SlotRow | undefined;
  budgets(): BudgetRow[];
  budget(scope: BudgetScope, name: string | null): BudgetRow | undefined;
}

export const slotKey = (target: string, slot: number) => `${target}\u0000${slot}`;
export const budgetKey = (scope: BudgetScope, name: string | null) => `${scope}\u0000${name ?? ''}`;
export const workerIdOf = (target: string, slot: number) => `${target}-${slot}`;

function put<R>(map: Map<string, R>, key: string, row: R): Undo {
  const before = map.get(key);
  map.set(key, deepFreeze(row));
  return () => (before === undefined ? map.delete(key) : map.set(key, before));
}

function remove<R>(map: Map<string, R>, key: string): Undo {
  const before = map.get(key);
  map.delete(key);
  return () => before !== undefined && map.set(key, before);
}

/** Targets, slots and budgets in memory: a handful of rows, plain maps. */
export class MemoryFleet implements FleetReader {
  private readonly targetRows = new Map<string, TargetRow>();
  private readonly slotRows = new Map<string, SlotRow>();
  private readonly budgetRows = new Map<string, BudgetRow>();

  apply(c: FleetChange): Undo {
    switch (c.op) {
      case 'target':
        return put(this.targetRows, c.row.name, c.row);
      case 'target_delete':
        return remove(this.targetRows, c.name);
      case 'slot':
        return put(this.slotRows, slotKey(c.row.target, c.row.slot), c.row);
      case 'slot_delete':
        return remove(this.slotRows, slotKey(c.target, c.slot));
      case 'budget':
        return put(this.budgetRows, budgetKey(c.row.scope, c.row.name), c.row);
      case 'budget_delete':
        return remove(this.budgetRows, budgetKey(c.scope, c.name));
    }
  }

  get size(): number {
    return this.targetRows.size + this.slotRows.size + this.budgetRows.size;
  }

  /** Every row as the change that puts it back (a snapshot of this part of the state). */
  rows(): FleetChange[] {
    return [
      ...[...this.targetRows.values()].map((row): FleetChange => ({ op: 'target', row })),
      ...[...this.slotRows.values()].map((row): FleetChange => ({ op: 'slot', row })),
      ...[...this.budgetRows.values()].map((row): FleetChange => ({ op: 'budget', row })),
    ];
  }

  targets(): TargetRow[] {
    return [...this.targetRows.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }
  target(name: string): TargetRow | undefined {
    return this.targetRows.get(name);
  }
  slots(target?: string): SlotRow[] {
    return [...this.slotRows.values()]
      .filter((s) => target === undefined || s.target === target)
      .sort((a, b) => (a.target === b.target ? a.slot - b.slot : a.target < b.target ? -1 : 1));
  }
  slotOfWorker(workerId: string): SlotRow | undefined {
    for (const s of this.slotRows.values()) if (s.worker_id === workerId) return s;
    return undefined;
  }
  budgets(): BudgetRow[] {
    const order = { plan: 0, group: 1, target: 2 } as const;
    return [...this.budgetRows.values()].sort((a, b) => order[a.scope] - order[b.scope] || (a.name ?? '').localeCompare(b.name ?? ''));
  }
  budget(scope: BudgetScope, name: string | null): BudgetRow | undefined {
    return this.budgetRows.get(budgetKey(scope, name));
  }
}
