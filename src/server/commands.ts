import { z } from 'zod';
import type { Coordinator } from '../core/coordinator';
import { ErrorCode, HarnessError } from '../core/errors';
import { TaskStatus } from '../core/model';
import { PROTOCOL_VERSION } from '../protocol/messages';
import { ISOLATION_COMMANDS } from '../isolation/commands';
import { PRIMITIVE_COMMANDS } from './commands-primitives';
import { PlanStaging } from './plan-staging';
import { RunFinishParams, RunOutputParams, RunStartParams, type RunRegistry } from './runs';

/** What a command handler may use besides its parameters. */
export interface CommandContext {
  coordinator: Coordinator;
  runs: RunRegistry;
  worktree: string;
  /** Aborted when the requester went away (its connection closed): waits end early. */
  signal?: AbortSignal;
  /** Turns this connection into an event stream (only the socket server can). */
  subscribe?(events: readonly string[] | undefined): void;
}

type Handler = (params: Record<string, unknown>, ctx: CommandContext) => unknown;

const ENVELOPE_KEYS = new Set(['command', 'id']);

function withoutEnvelope(params: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(params).filter(([k]) => !ENVELOPE_KEYS.has(k)));
}

/**
 * `task_add` takes `{"task": {...}}`, or the task's fields at the top level with its id as
 * `task_id` (a request's own `id` is the request id, echoed in the reply).
 */
function taskFromAdd(params: Record<string, unknown>): unknown {
  if (params.task !== undefined) return params.task;
  const { task_id, ...rest } = withoutEnvelope(params);
  return task_id === undefined ? rest : { id: task_id, ...rest };
}

const ListParams = z.object({ status: TaskStatus.optional() });
const SubscribeParams = z.object({ events: z.array(z.string()).optional() });
const PlanParams = z.object({ tasks: z.array(z.unknown()), resources: z.unknown().optional() });
const StageParams = z.object({ stage_id: z.string().max(100).optional(), data: z.string() });

/** Plans sent in pieces, per process (see plan-staging.ts). */
const staging = new PlanStaging();

function stagedPlan(stageId: string): unknown {
  const text = staging.take(stageId);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HarnessError(ErrorCode.InvalidArgument, `staged plan ${stageId} is not valid JSON: ${(e as Error).message}`);
  }
}

function parseParams<S extends z.ZodType>(schema: S, params: unknown, command: string): z.output<S> {
  const result = schema.safeParse(params);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  throw new HarnessError(ErrorCode.InvalidArgument, `invalid ${command}: ${issue.path.join('.') || 'parameters'}: ${issue.message}`);
}

/**
 * Every command of the wire protocol, mapped 1:1 onto the coordinator. The socket server and
 * (later) the MCP server both dispatch through this table, so the protocol is the one API.
 */
export const COMMANDS: Record<string, Handler> = {
  ping: (_p, ctx) => ({ pong: true, protocol: PROTOCOL_VERSION, pid: process.pid, worktree: ctx.worktree }),
  task_add: async (p, ctx) => ({ task: (await ctx.coordinator.addTasks([taskFromAdd(p)]))[0] }),
  plan_stage: (p) => {
    const { stage_id, data } = parseParams(StageParams, p, 'plan_stage');
    return staging.append(stage_id, data);
  },
  plan_import: async (p, ctx) => {
    const { tasks, resources } = parseParams(PlanParams, typeof p.stage_id === 'string' ? stagedPlan(p.stage_id) : p, 'plan_import');
    const added = await ctx.coordinator.addTasks(tasks, { resources });
    return { count: added.length, task_ids: added.map((t) => t.id) };
  },
  task_claim: (p, ctx) => ctx.coordinator.claim(withoutEnvelope(p) as never),
  task_heartbeat: async (p, ctx) => ({ task: await ctx.coordinator.heartbeat(withoutEnvelope(p) as never) }),
  task_complete: async (p, ctx) => ({ task: await ctx.coordinator.complete(withoutEnvelope(p) as never) }),
  task_fail: async (p, ctx) => ({ task: await ctx.coordinator.fail(withoutEnvelope(p) as never) }),
  task_release: async (p, ctx) => ({ task: await ctx.coordinator.release(withoutEnvelope(p) as never) }),
  task_retry: async (p, ctx) => ({ task: await ctx.coordinator.retry(withoutEnvelope(p) as never) }),
  task_cancel: async (p, ctx) => ({ task: await ctx.coordinator.cancel(withoutEnvelope(p) as never) }),
  task_progress: async (p, ctx) => ({ task: await ctx.coordinator.progress(withoutEnvelope(p) as never) }),
  group_status: (p, ctx) => ctx.coordinator.groupStatus(p.group as string),
  checkpoint_record: async (p, ctx) => ({ checkpoint: await ctx.coordinator.recordCheckpoint(p.group as string) }),
  checkpoint_list: (p, ctx) => ({ checkpoints: ctx.coordinator.listCheckpoints(p.group as string) }),
  task_get: (p, ctx) => {
    if (typeof p.task_id !== 'string') throw new HarnessError(ErrorCode.InvalidArgument, 'invalid task_get: task_id: expected a string');
    return { task: ctx.coordinator.getTask(p.task_id) };
  },
  task_list: (p, ctx) => ({ tasks: ctx.coordinator.listTasks(parseParams(ListParams, p, 'task_list').status) }),
  status: (_p, ctx) => ({
    counts: ctx.coordinator.countTasks(),
    ready: ctx.coordinator.listTasks('pending').filter((t) => ctx.coordinator.isReady(t)).length,
    instances: ctx.coordinator.listInstances().filter((i) => i.status === 'live').length,
  }),
  instance_register: async (p, ctx) => ({ instance: await ctx.coordinator.registerInstance(withoutEnvelope(p) as never) }),
  instance_heartbeat: async (p, ctx) => ({ instance: await ctx.coordinator.heartbeatInstance(withoutEnvelope(p) as never) }),
  instance_deregister: (p, ctx) => ctx.coordinator.deregisterInstance(withoutEnvelope(p) as never),
  instance_list: (_p, ctx) => ({ instances: ctx.coordinator.listInstances() }),
  run_start: (p, ctx) => ({ run: ctx.runs.start(parseParams(RunStartParams, p, 'run_start')) }),
  run_output: (p, ctx) => {
    const { run_id, stream, data } = parseParams(RunOutputParams, p, 'run_output');
    ctx.runs.output(run_id, stream, data);
    return {};
  },
  run_finish: (p, ctx) => {
    const { run_id, result } = parseParams(RunFinishParams, p, 'run_finish');
    return { run: ctx.runs.finish(run_id, result) };
  },
  run_list: (_p, ctx) => ({ runs: ctx.runs.list() }),
  run_log: (p, ctx) => {
    if (typeof p.run_id !== 'string') throw new HarnessError(ErrorCode.InvalidArgument, 'invalid run_log: run_id: expected a string');
    return ctx.runs.output_log(p.run_id);
  },
  subscribe: (p, ctx) => {
    const { events } = parseParams(SubscribeParams, p, 'subscribe');
    if (!ctx.subscribe) throw new HarnessError(ErrorCode.InvalidArgument, 'subscribe needs a socket connection');
    ctx.subscribe(events);
    return { subscribed: true };
  },
  ...PRIMITIVE_COMMANDS,
  ...ISOLATION_COMMANDS,
};

export function commandNames(): string[] {
  return Object.keys(COMMANDS).sort();
}
