// What the Workers tree shows of worker targets (a row per target, its workers under it), what the
// trees say of cost, and which spent budget holds a ready task back. vscode-free.
import type { Caller } from '../protocol/api';
import { formatAgo, formatDuration } from '../protocol/human-time';
import type { EventLine } from '../protocol/messages';
import type { InstanceView, Task } from '../protocol/model';
import type { SlotView, TargetView } from '../protocol/targets';
import { budgetLabel, BudgetList, type Budget } from '../protocol/usage';
import type { ItemModel } from './view-models';

/** "$0.42", "$0.0031", "$12.50". */
export function usd(n: number): string {
  return `$${n.toFixed(n !== 0 && Math.abs(n) < 0.01 ? 4 : 2)}`;
}

/** What a task's attempts cost, when any reported it: the sum, and one line per attempt. */
export function taskCost(task: Task): { total: number; lines: string[] } | undefined {
  if (!task.usage?.length) return undefined;
  // In nano-dollars, as the coordinator sums: $0.4 + $0.0014 is $0.4014, not 0.40140000000000003.
  let nano = 0;
  const lines = task.usage.map((u) => {
    nano += Math.round((u.cost_usd ?? 0) * 1e9);
    const cost = u.cost_usd === null ? 'cost unknown' : `${usd(u.cost_usd)}${u.cost_source === 'price_table' ? ` (priced, table of ${u.prices_as_of})` : ''}`;
    const tokens = `${u.input_tokens + u.cache_read_tokens + u.cache_write_tokens} in, ${u.output_tokens} out`;
    return `Attempt ${u.attempt} by ${u.worker_id}${u.target ? ` (${u.target})` : ''}: ${cost}, ${tokens}${u.model ? `, ${u.model}` : ''}`;
  });
  return { total: nano / 1e9, lines };
}

const live = (t: TargetView) => t.workers.filter((w) => w.state === 'running' || w.state === 'starting').length;

export function targetItem(t: TargetView): ItemModel {
  const failing = t.state === 'failing';
  const range = t.min === t.max ? `${t.min}` : `${t.min}–${t.max}`;
  return {
    id: `target:${t.name}`,
    label: t.name,
    description: [failing ? 'failing' : null, `${live(t)} of ${range}`, t.capabilities.length ? t.capabilities.join(',') : null, usd(t.cost_usd), t.budget?.spent ? 'budget spent' : null]
      .filter(Boolean)
      .join(' · '),
    tooltip: [
      `Target ${t.name}: keeps ${range} worker${t.max === 1 ? '' : 's'}${t.source === 'config' ? ' (from .harness/config.json)' : ''}`,
      `Command: ${t.command.join(' ')}`,
      t.capabilities.length ? `Claims tasks needing: ${t.capabilities.join(', ')}` : 'Claims tasks that need no capability',
      `Isolation: ${t.isolation}; idle workers above min stop after ${t.idle_timeout_seconds} s`,
      `Cost so far: ${usd(t.cost_usd)}${t.budget ? ` of a ${usd(t.budget.limit_usd)} budget${t.budget.spent ? ' — spent: its workers claim nothing' : ''}` : ''}`,
      failing ? `Failing since ${t.failing_since}: ${t.crashes} crashes within 10 minutes (last: ${t.last_exit}). Reset it to start its workers again.` : '',
      failing && t.last_output ? `Last output:\n${t.last_output.split('\n').slice(-8).join('\n')}` : '',
    ]
      .filter(Boolean)
      .join('\n'),
    contextValue: failing ? 'target.failing' : 'target.ok',
    icon: failing ? 'error' : 'server-process',
    ...(failing ? { iconColor: 'errorForeground' } : {}),
    collapsible: t.workers.length > 0,
    expanded: true,
  };
}

/** A worker of a target (its slot), with what the registry says of it. */
export function slotItem(target: string, s: SlotView, instance: InstanceView | undefined, now: number): ItemModel {
  const what =
    s.state === 'backoff'
      ? s.restart_at
        ? `restarts in ${formatDuration(Date.parse(s.restart_at) - now)}`
        : 'waits for a reset'
      : s.state === 'starting'
        ? 'starting'
        : s.state === 'stopping'
          ? 'stopping'
          : s.current_task
            ? `on ${s.current_task}`
            : 'idle';
  return {
    id: `worker:${s.worker_id}`,
    label: `${target} #${s.slot}`,
    description: [what, s.cost_usd > 0 ? usd(s.cost_usd) : null, s.state === 'backoff' && s.last_exit ? s.last_exit : null].filter(Boolean).join(' · '),
    tooltip: [
      `${s.worker_id}: ${s.state}${s.pid ? `, pid ${s.pid}` : ''}`,
      s.current_task ? `Working on ${s.current_task}` : '',
      instance ? `Last heartbeat ${formatAgo(instance.last_seen_age_ms)}` : 'Not registered yet',
      s.last_exit ? `Last exit: ${s.last_exit}` : '',
      `Cost so far: ${usd(s.cost_usd)}`,
    ]
      .filter(Boolean)
      .join('\n'),
    contextValue: `worker.${s.state}`,
    icon: s.state === 'backoff' ? 'debug-restart' : s.state === 'running' ? 'vm-running' : 'loading~spin',
    ...(s.state === 'backoff' ? { iconColor: 'editorWarning.foreground' } : s.state === 'running' ? { iconColor: 'charts.green' } : {}),
    collapsible: false,
  };
}

/**
 * The budgets, kept from `budget_list` and the budget events, for the views: which spent budget
 * holds a ready task back (its group's, or the plan's).
 */
export class BudgetCache {
  private readonly budgets = new Map<string, Budget>();

  async reload(source: Caller | undefined): Promise<void> {
    this.budgets.clear();
    if (!source) return;
    for (const b of (await source.call(BudgetList)).budgets) this.budgets.set(key(b), b);
  }

  /** Applies a budget event; whether it changed anything. */
  applyEvent(e: EventLine): boolean {
    const data = e.data as { budget?: Budget; scope?: Budget['scope']; name?: string | null };
    if ((e.event === 'budget:changed' || e.event === 'budget:spent') && data.budget) {
      this.budgets.set(key(data.budget), data.budget);
      return true;
    }
    if (e.event === 'budget:removed' && data.scope) return this.budgets.delete(key({ scope: data.scope, name: data.name ?? null }));
    return false;
  }

  all(): Budget[] {
    return [...this.budgets.values()];
  }

  /** The spent budget that keeps `task` from being claimed, if any (a target's stops workers, not tasks). */
  heldBack(task: Pick<Task, 'group'>): Budget | undefined {
    const plan = this.budgets.get(key({ scope: 'plan', name: null }));
    if (plan?.spent) return plan;
    const group = task.group !== undefined ? this.budgets.get(key({ scope: 'group', name: task.group })) : undefined;
    return group?.spent ? group : undefined;
  }
}

const key = (b: Pick<Budget, 'scope' | 'name'>) => `${b.scope}:${b.name ?? ''}`;

/** "budget spent (group docs: $5.02 of $5.00)". */
export function heldBackText(b: Budget): string {
  return `budget spent (${budgetLabel(b)}: ${usd(b.spent_usd)} of ${usd(b.limit_usd)})`;
}

/** What Scale Target takes: "3" (exactly three) or "1-6" (between one and six). */
export function parseScale(text: string): { min: number; max: number } | undefined {
  const m = /^\s*(\d{1,3})\s*(?:[-–]\s*(\d{1,3}))?\s*$/.exec(text);
  if (!m) return undefined;
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : Number(m[2]);
  return max >= min && max <= 100 ? { min, max } : undefined;
}
