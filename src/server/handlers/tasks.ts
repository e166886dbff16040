import type { HandlersOf } from '../../protocol/command';
import { INSTANCE_COMMANDS } from '../../protocol/instances';
import { Plan, TASK_COMMANDS } from '../../protocol/tasks';
import { ErrorCode, HarnessError } from '../../protocol/errors';
import { parse } from '../../protocol/validate';
import type { ServerContext } from '../context';

/** The plan staged under `stageId`, taken out of staging, parsed and checked like an inline one. */
function stagedPlan(ctx: ServerContext, stageId: string): Plan {
  const text = ctx.staging.take(stageId);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new HarnessError(ErrorCode.InvalidArgument, `staged plan ${stageId} is not valid JSON: ${(e as Error).message}`);
  }
  return parse(Plan, json, 'plan');
}

export const TASK_HANDLERS: HandlersOf<typeof TASK_COMMANDS, ServerContext> = {
  task_add: async (task, ctx) => ({ task: (await ctx.coordinator.addTasks([task]))[0]! }),
  plan_stage: ({ stage_id, data }, ctx) => ctx.staging.append(stage_id, data),
  plan_import: async (p, ctx) => {
    const { tasks = [], resources } = p.stage_id !== undefined ? stagedPlan(ctx, p.stage_id) : p;
    const added = await ctx.coordinator.addTasks(tasks, { resources });
    return { count: added.length, task_ids: added.map((t) => t.id) };
  },
  task_claim: (p, ctx) => ctx.coordinator.claim(p),
  task_heartbeat: async (p, ctx) => ({ task: await ctx.coordinator.heartbeat(p) }),
  task_progress: async (p, ctx) => ({ task: await ctx.coordinator.progress(p) }),
  task_complete: async ({ next, ...p }, ctx) => (next ? ctx.coordinator.completeAndClaim(p, next) : { task: await ctx.coordinator.complete(p) }),
  task_fail: async (p, ctx) => ({ task: await ctx.coordinator.fail(p) }),
  task_release: async (p, ctx) => ({ task: await ctx.coordinator.release(p) }),
  task_retry: async (p, ctx) => ({ task: await ctx.coordinator.retry(p) }),
  task_cancel: async (p, ctx) => ({ task: await ctx.coordinator.cancel(p) }),
  task_get: ({ task_id }, ctx) => ({ task: ctx.coordinator.getTask(task_id) }),
  task_list: (p, ctx) => ctx.coordinator.listTaskPage(p),
  status: (_p, ctx) => ctx.coordinator.summary(),
  group_status: ({ group }, ctx) => ctx.coordinator.groupStatus(group),
  checkpoint_record: async ({ group }, ctx) => ({ checkpoint: await ctx.coordinator.recordCheckpoint(group) }),
  checkpoint_list: ({ group }, ctx) => ({ checkpoints: ctx.coordinator.listCheckpoints(group) }),
};

export const INSTANCE_HANDLERS: HandlersOf<typeof INSTANCE_COMMANDS, ServerContext> = {
  instance_register: async (p, ctx) => ({ instance: await ctx.coordinator.registerInstance(p) }),
  instance_heartbeat: async (p, ctx) => ({ instance: await ctx.coordinator.heartbeatInstance(p) }),
  instance_deregister: (p, ctx) => ctx.coordinator.deregisterInstance(p),
  instance_list: (_p, ctx) => ({ instances: ctx.coordinator.listInstances() }),
};
