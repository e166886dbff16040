// Usage totals kept as task rows change: per worker, target and group, and for the whole plan.
// Budgets are checked on every claim, so they read these instead of adding up the tasks. Costs
// are summed in whole nano-dollars: adding and taking away the same attempt gives back exactly
// what was there, which floating-point sums would not.
import type { AttemptUsage, UsageTotals } from '../protocol/usage';
import type { Undo } from './primitive-store';

/** The totals of some attempts, cost in nano-USD. */
export interface UsageSum {
  attempts: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cost_nano: number;
  unpriced: number;
}

export const ZERO_SUM = (): UsageSum => ({ attempts: 0, input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0, cost_nano: 0, unpriced: 0 });

export const toNano = (usd: number) => Math.round(usd * 1e9);
export const fromNano = (nano: number) => nano / 1e9;

/** Adds (sign 1) or takes away (-1) one attempt's usage. */
export function addUsage(sum: UsageSum, u: AttemptUsage, sign: 1 | -1 = 1): void {
  sum.attempts += sign;
  sum.input_tokens += sign * u.input_tokens;
  sum.output_tokens += sign * u.output_tokens;
  sum.cache_read_tokens += sign * u.cache_read_tokens;
  sum.cache_write_tokens += sign * u.cache_write_tokens;
  if (u.cost_usd === null) sum.unpriced += sign;
  else sum.cost_nano += sign * toNano(u.cost_usd);
}

/** The sum of attempts, as the protocol reports it. */
export function usageTotals(sum: UsageSum): UsageTotals {
  const { cost_nano, ...rest } = sum;
  return { ...rest, cost_usd: fromNano(cost_nano) };
}

export function sumOf(usage: readonly AttemptUsage[] | undefined): UsageSum {
  const sum = ZERO_SUM();
  for (const u of usage ?? []) addUsage(sum, u);
  return sum;
}

export type UsageKey = 'worker' | 'target' | 'group';
type Keyed = UsageKey;

/** What a row with usage contributes: its attempts, each under its worker and target, all under its group. */
interface Contribution {
  usage?: readonly AttemptUsage[] | undefined;
  group?: string | undefined;
}

export class UsageIndex {
  private readonly plan = ZERO_SUM();
  private readonly keyed: Record<Keyed, Map<string, UsageSum>> = { worker: new Map(), target: new Map(), group: new Map() };
  /** Tasks with any usage, for the per-task listing. */
  private readonly tasks = new Set<string>();

  /** A task row replaced `before` with `after` (either may be absent); returns the undo. */
  replace(id: string, before: Contribution | undefined, after: Contribution | undefined): Undo {
    const was = before?.usage?.length ? before : undefined;
    const is = after?.usage?.length ? after : undefined;
    if (!was && !is) return () => {};
    if (was && is && was.usage === is.usage && was.group === is.group) return () => {};
    this.move(id, was, is);
    return () => this.move(id, is, was);
  }

  private move(id: string, from: Contribution | undefined, to: Contribution | undefined): void {
    if (from) this.apply(from, -1);
    if (to) this.apply(to, 1);
    if (to) this.tasks.add(id);
    else this.tasks.delete(id);
  }

  private apply(c: Contribution, sign: 1 | -1): void {
    for (const u of c.usage ?? []) {
      addUsage(this.plan, u, sign);
      this.add('worker', u.worker_id, u, sign);
      if (u.target !== null) this.add('target', u.target, u, sign);
      if (c.group !== undefined) this.add('group', c.group, u, sign);
    }
  }

  private add(by: Keyed, key: string, u: AttemptUsage, sign: 1 | -1): void {
    const map = this.keyed[by];
    let sum = map.get(key);
    if (!sum) map.set(key, (sum = ZERO_SUM()));
    addUsage(sum, u, sign);
    if (sum.attempts === 0) map.delete(key);
  }

  total(): UsageSum {
    return { ...this.plan };
  }

  /** Totals by worker, target or group (only keys with usage): a copy, the reader's to keep. */
  by(by: Keyed): Map<string, UsageSum> {
    return new Map([...this.keyed[by]].map(([key, sum]) => [key, { ...sum }]));
  }

  /** One key's totals (zero when it has none). */
  of(by: Keyed, key: string): UsageSum {
    const sum = this.keyed[by].get(key);
    return sum ? { ...sum } : ZERO_SUM();
  }

  /** Ids of the tasks with usage. */
  taskIds(): ReadonlySet<string> {
    return this.tasks;
  }
}
