// Handlers of worker targets, usage and budgets. Targets and budgets are state (the core's
// rules, durable); restarting a worker is an action of the host's supervisor.
import type { HandlersOf } from '../../protocol/command';
import { ErrorCode, HarnessError } from '../../protocol/errors';
import { TARGET_COMMANDS } from '../../protocol/targets';
import { USAGE_COMMANDS } from '../../protocol/usage';
import type { ServerContext } from '../context';

export const TARGET_HANDLERS: HandlersOf<typeof TARGET_COMMANDS, ServerContext> = {
  target_add: ({ replace, ...input }, ctx) => ctx.coordinator.fleet.add(input, { source: 'cli', replace }).then((target) => ({ target })),
  target_list: (_p, ctx) => ({ targets: ctx.coordinator.fleet.list() }),
  target_remove: ({ name }, ctx) => ctx.coordinator.fleet.remove(name),
  target_scale: ({ name, min, max }, ctx) => ctx.coordinator.fleet.scale(name, { min, max }).then((target) => ({ target })),
  target_reset: ({ name }, ctx) => ctx.coordinator.fleet.reset(name).then((target) => ({ target })),
  worker_restart: async ({ worker_id }, ctx) => {
    if (!ctx.supervisor) {
      throw new HarnessError(ErrorCode.InvalidArgument, 'this coordinator supervises no workers (it was started without a supervisor)');
    }
    return { target: await ctx.supervisor.restart(worker_id) };
  },
};

export const USAGE_HANDLERS: HandlersOf<typeof USAGE_COMMANDS, ServerContext> = {
  usage_summary: (p, ctx) => ctx.coordinator.usageSummary(p),
  budget_set: async ({ scope, name, limit_usd }, ctx) => ({ budget: await ctx.coordinator.budgets.set(scope, name ?? null, limit_usd) }),
  budget_remove: async ({ scope, name }, ctx) => ({ removed: await ctx.coordinator.budgets.remove(scope, name ?? null) }),
  budget_list: (_p, ctx) => ({ budgets: ctx.coordinator.budgets.list() }),
};
