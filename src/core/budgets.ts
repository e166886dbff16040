// Budgets in USD on the plan, a group or a target. Spent means what the attempts reported cost
// reached the limit: from then on no new claim takes a task of a spent plan or group, and no
// worker of a spent target claims anything. The work already running goes on. Spending is read
// from the usage totals the store keeps, so a claim checks a budget in O(1).
import { budgetLabel, type Budget, type BudgetScope } from '../protocol/usage';
import { iso, type Clock } from './clock';
import type { BudgetRow } from './fleet-rows';
import { commit, type Emitting, type EventTx } from './prim-context';
import type { Store, TaskRow } from './store';
import { fromNano, toNano } from './usage-index';

export interface BudgetEvents {
  'budget:changed': { budget: Budget };
  'budget:removed': { scope: BudgetScope; name: string | null };
  'budget:spent': { budget: Budget };
}

export interface BudgetContext extends Emitting<BudgetEvents> {
  clock: Clock;
}

/** What a claim by one worker may take, as far as budgets go. */
export interface ClaimGate {
  /** Spent budgets that stop this worker's claims altogether (the plan's, its target's). */
  closed: string[];
  /** Whether a task passes the budgets (its group's); remembers the budgets that held one back. */
  allows(task: TaskRow): boolean;
  /** Budgets that held back a task during this claim. */
  heldBack(): string[];
}

export class Budgets {
  constructor(private readonly ctx: BudgetContext) {}

  private get store(): Store {
    return this.ctx.store;
  }

  /** What `scope`/`name` has spent, in nano-USD. */
  private spentNano(scope: BudgetScope, name: string | null): number {
    if (scope === 'plan') return this.store.usageTotal().cost_nano;
    return this.store.usageOf(scope, name!).cost_nano;
  }

  private isSpent(row: BudgetRow): boolean {
    return this.spentNano(row.scope, row.name) >= toNano(row.limit_usd);
  }

  view(row: BudgetRow): Budget {
    const spent = this.spentNano(row.scope, row.name);
    const limit = toNano(row.limit_usd);
    return {
      scope: row.scope,
      name: row.name,
      limit_usd: row.limit_usd,
      spent_usd: fromNano(spent),
      remaining_usd: fromNano(Math.max(0, limit - spent)),
      spent: spent >= limit,
      spent_at: row.spent_at,
      source: row.source,
    };
  }

  list(): Budget[] {
    return this.store.fleet.budgets().map((b) => this.view(b));
  }

  find(scope: BudgetScope, name: string | null): Budget | null {
    const row = this.store.fleet.budget(scope, name);
    return row ? this.view(row) : null;
  }

  /** Sets (or changes) a budget in `tx`; a limit raised above what was spent clears `spent_at`. */
  put(tx: EventTx<BudgetEvents>, scope: BudgetScope, name: string | null, limit: number, source: BudgetRow['source']): Budget {
    const now = iso(this.ctx.clock.now());
    const before = this.store.fleet.budget(scope, name);
    const row: BudgetRow = { scope, name, limit_usd: limit, source, set_at: now, spent_at: before?.spent_at ?? null };
    const spent = this.spentNano(scope, name) >= toNano(limit);
    row.spent_at = spent ? (row.spent_at ?? now) : null;
    tx.w.apply({ op: 'budget', row });
    const budget = this.view(row);
    tx.emit('budget:changed', { budget });
    if (spent && !before?.spent_at) tx.emit('budget:spent', { budget });
    return budget;
  }

  drop(tx: EventTx<BudgetEvents>, scope: BudgetScope, name: string | null): boolean {
    if (!this.store.fleet.budget(scope, name)) return false;
    tx.w.apply({ op: 'budget_delete', scope, name });
    tx.emit('budget:removed', { scope, name });
    return true;
  }

  async set(scope: BudgetScope, name: string | null, limit: number): Promise<Budget> {
    return commit<Budget, BudgetEvents>(this.ctx, (tx) => this.put(tx, scope, name, limit, 'cli')).done;
  }

  async remove(scope: BudgetScope, name: string | null): Promise<boolean> {
    return commit<boolean, BudgetEvents>(this.ctx, (tx) => this.drop(tx, scope, name)).done;
  }

  /** Spent budgets that stop every claim by a worker of `target` (or by any worker: the plan's). */
  closedFor(target: string | null): string[] {
    return this.store.fleet
      .budgets()
      .filter((b) => (b.scope === 'plan' || (b.scope === 'target' && b.name === target)) && this.isSpent(b))
      .map(budgetLabel);
  }

  /** The budgets a claim by `workerId` is subject to. */
  gate(workerId: string): ClaimGate {
    const budgets = this.store.fleet.budgets();
    if (budgets.length === 0) return { closed: [], allows: () => true, heldBack: () => [] };
    const closed = this.closedFor(this.store.fleet.slotOfWorker(workerId)?.target ?? null);
    const groups = new Map(budgets.filter((b) => b.scope === 'group').map((b) => [b.name!, b]));
    const held = new Set<string>();
    return {
      closed,
      allows: (task) => {
        const budget = task.group === undefined ? undefined : groups.get(task.group);
        if (!budget || !this.isSpent(budget)) return true;
        held.add(budgetLabel(budget));
        return false;
      },
      heldBack: () => [...held],
    };
  }

  /**
   * After a transaction added usage (of `task`'s group, by a worker of `target`): marks the
   * budgets it spent, once each, and announces them.
   */
  noteSpending(tx: EventTx<BudgetEvents>, group: string | undefined, target: string | null): void {
    const now = iso(this.ctx.clock.now());
    for (const row of this.store.fleet.budgets()) {
      const affected = row.scope === 'plan' || (row.scope === 'group' && row.name === group) || (row.scope === 'target' && row.name === target);
      if (!affected || row.spent_at !== null || !this.isSpent(row)) continue;
      const spent = { ...row, spent_at: now };
      tx.w.apply({ op: 'budget', row: spent });
      tx.emit('budget:spent', { budget: this.view(spent) });
    }
  }
}
