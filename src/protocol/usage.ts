// What an attempt of a task cost: the usage a worker reports with `task_complete` / `task_fail`
// (from the CLI's --usage, the MCP complete tool, or parsed from the agent's own JSON by
// `harness work --usage claude|codex`), the totals per task, worker, target, group and plan, and
// budgets in USD that stop new claims once spent.
import { z } from 'zod';
import { command } from './command';
import { Id } from './model';
import { ModelName, UsageTotals, Usd } from './usage-record';

export * from './usage-record';

export const BUDGET_SCOPES = ['plan', 'group', 'target'] as const;
export const BudgetScope = z.enum(BUDGET_SCOPES).describe('plan: every task; group: the tasks of a group; target: the workers of a target');
export type BudgetScope = z.output<typeof BudgetScope>;

export const Budget = z.object({
  scope: BudgetScope,
  name: z.string().nullable().describe('The group or target; null for the plan'),
  limit_usd: z.number(),
  spent_usd: z.number(),
  remaining_usd: z.number(),
  spent: z.boolean().describe('Spent: no new claims for its tasks (or its workers)'),
  spent_at: z.string().nullable().describe('When it was first found spent'),
  source: z.enum(['config', 'cli']),
});
export type Budget = z.output<typeof Budget>;

/** "group docs", "target claude", "the plan": how a budget is named in messages. */
export function budgetLabel(b: { scope: BudgetScope; name: string | null }): string {
  return b.scope === 'plan' ? 'the plan' : `${b.scope} ${b.name}`;
}

export const USAGE_GROUPINGS = ['task', 'worker', 'target', 'group', 'plan'] as const;
export const UsageGrouping = z.enum(USAGE_GROUPINGS);
export type UsageGrouping = z.output<typeof UsageGrouping>;

export const UsageRow = UsageTotals.extend({ key: z.string().describe('The task, worker, target or group') });
export type UsageRow = z.output<typeof UsageRow>;

export const UsageSummary = command({
  name: 'usage_summary',
  kind: 'query',
  summary: 'What the work cost: totals for the plan, or per task, worker, target or group (most expensive first), and the budgets.',
  params: z.strictObject({
    by: UsageGrouping.optional().describe('Rows per task, worker, target or group (default plan: the total alone)'),
    limit: z.number().int().min(1).max(10_000).optional().describe('At most this many rows (default 1000)'),
  }),
  result: z.object({
    by: UsageGrouping,
    total: UsageTotals,
    rows: z.array(UsageRow),
    truncated: z.boolean().describe('More rows than limit: only the most expensive are listed'),
    budgets: z.array(Budget),
  }),
});

const BudgetKey = {
  scope: BudgetScope,
  name: Id.optional().describe('The group or target (not for the plan)'),
};

function needsName(p: { scope: BudgetScope; name?: string | undefined }, ctx: z.RefinementCtx): void {
  if (p.scope === 'plan' && p.name !== undefined) ctx.addIssue({ code: 'custom', path: ['name'], message: 'a plan budget has no name' });
  if (p.scope !== 'plan' && p.name === undefined) ctx.addIssue({ code: 'custom', path: ['name'], message: `a ${p.scope} budget needs the ${p.scope}'s name` });
}

export const BudgetSet = command({
  name: 'budget_set',
  kind: 'mutation',
  summary: 'Set a budget in USD on the plan, a group or a target: once spent, no new claims for it.',
  params: z.strictObject({ ...BudgetKey, limit_usd: Usd.describe('The budget in USD') }).superRefine(needsName),
  result: z.object({ budget: Budget }),
});

export const BudgetRemove = command({
  name: 'budget_remove',
  kind: 'mutation',
  summary: 'Remove a budget (its tasks may be claimed again).',
  params: z.strictObject(BudgetKey).superRefine(needsName),
  result: z.object({ removed: z.boolean() }),
});

export const BudgetList = command({
  name: 'budget_list',
  kind: 'query',
  summary: 'Every budget: its limit, what was spent, whether it is spent.',
  params: z.strictObject({}),
  result: z.object({ budgets: z.array(Budget) }),
});

/** `budgets` in `.harness/config.json`: the plan's budget and the groups' (targets carry their own). */
export const BudgetSettings = z.strictObject({
  plan: Usd.optional().describe('USD for every task'),
  groups: z.record(Id, Usd).optional().describe('USD per task group'),
});
export type BudgetSettings = z.output<typeof BudgetSettings>;

const PerMillion = z.number().min(0).max(100_000);

/** `usage` in `.harness/config.json`: prices (USD per million tokens) over the bundled table, by model. */
export const UsageSettings = z.strictObject({
  prices: z
    .record(
      ModelName,
      z.strictObject({
        input: PerMillion.describe('USD per million input tokens'),
        output: PerMillion.describe('USD per million output tokens'),
        cached_input: PerMillion.optional().describe('USD per million input tokens read from a cache (default: input)'),
        cache_write: PerMillion.optional().describe('USD per million input tokens written to a cache (default: input)'),
      }),
    )
    .optional(),
});
export type UsageSettings = z.output<typeof UsageSettings>;

export const USAGE_COMMANDS = [UsageSummary, BudgetSet, BudgetRemove, BudgetList] as const;
