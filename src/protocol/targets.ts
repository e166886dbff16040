// Worker targets: "keep N workers of this kind running". A target names an agent command (run per
// task through `harness work`), the capabilities its workers claim with, a count between min and
// max, isolation, environment and an idle timeout. The coordinator holds targets and their slots
// durably; its host (harness serve, or the VS Code window that runs it) starts, restarts,
// adopts and stops the workers.
import { z } from 'zod';
import { command } from './command';
import { MAX_DURATION_SECONDS, seconds } from './durations';
import { Capability, WorkerId } from './model';
import { Budget } from './usage';
import { ModelName, Usd } from './usage-record';

/** Goes into worker ids, terminal names and branch names: short, plain. */
export const TargetName = z
  .string()
  .min(1)
  .max(40)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, 'must start with a letter or digit and hold only letters, digits, _ and -')
  .describe('The target name');

const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');
const MAX_COUNT = 100;

export const ISOLATIONS = ['shared', 'worktree'] as const;
export const USAGE_PARSERS = ['claude', 'codex'] as const;

/** A target's fields: in config.json (`targets.<name>`) and in `target_add`. */
const targetFields = {
  command: z
    .array(z.string().min(1).max(10_000))
    .min(1)
    .max(1000)
    .describe('The agent command (argv) each worker runs per task; {id} and {description} become the task\'s, each inside its one argument'),
  shell: z.boolean().optional().describe('Run the command through the shell (placeholders become ${HARNESS_TASK_ID} / ${HARNESS_TASK_DESCRIPTION})'),
  capabilities: z.array(Capability).max(100).optional().describe('What its workers claim with: tasks needing other capabilities are not theirs'),
  min: z.number().int().min(0).max(MAX_COUNT).optional().describe('Workers kept running even when idle (default 1)'),
  max: z.number().int().min(0).max(MAX_COUNT).optional().describe('At most this many, while ready tasks wait (default: min)'),
  isolation: z.enum(ISOLATIONS).optional().describe('worktree: each worker its own git worktree (harness isolate); shared: the workspace (default)'),
  env: z.record(EnvName, z.string().max(10_000)).optional().describe('Extra environment of its workers'),
  idle_timeout_seconds: seconds(MAX_DURATION_SECONDS).optional().describe('A worker above min idle this long is stopped (default 300)'),
  usage: z.enum(USAGE_PARSERS).optional().describe("Read the usage and cost of each run from the agent's JSON output (harness work --usage)"),
  usage_model: ModelName.optional().describe('The model to price Codex tokens with (default: the -m/--model in the command)'),
  budget_usd: Usd.optional().describe('A budget for the work of its workers: once spent, they claim nothing more'),
};

function checkCounts(t: { min?: number | undefined; max?: number | undefined }, ctx: z.RefinementCtx): void {
  if (t.min !== undefined && t.max !== undefined && t.max < t.min) {
    ctx.addIssue({ code: 'custom', path: ['max'], message: `must be at least min (${t.min})` });
  }
}

/** A target as configured. */
export const TargetSpec = z.strictObject(targetFields).superRefine(checkCounts);
export type TargetSpec = z.output<typeof TargetSpec>;

/** `targets` in `.harness/config.json`: targets by name. */
export const TargetSettings = z.record(TargetName, TargetSpec).superRefine((targets, ctx) => {
  if (Object.keys(targets).length > 100) ctx.addIssue({ code: 'custom', path: [], message: 'at most 100 targets' });
});
export type TargetSettings = z.output<typeof TargetSettings>;

export const DEFAULT_IDLE_TIMEOUT_SECONDS = 300;

export const TARGET_STATES = ['ok', 'failing'] as const;
export const SLOT_STATES = ['starting', 'running', 'backoff', 'stopping'] as const;
export type SlotState = (typeof SLOT_STATES)[number];

export const SlotView = z.object({
  slot: z.number().describe('1, 2, ...: the worker id is <target>-<slot>'),
  worker_id: z.string(),
  state: z.enum(SLOT_STATES).describe('starting, running, backoff (waiting to restart after a crash), stopping'),
  generation: z.number().describe('Grows with every start of a worker (one counter for all slots)'),
  pid: z.number().nullable(),
  started_at: z.string().nullable(),
  restart_at: z.string().nullable().describe('In backoff: when it restarts (null: not while the target is failing)'),
  last_exit: z.string().nullable().describe('How its last process ended'),
  /** From the instance registry: live or stale, or null when it is not registered (yet). */
  instance: z.enum(['live', 'stale']).nullable(),
  current_task: z.string().nullable(),
  cost_usd: z.number().describe('What the attempts of this worker cost'),
});
export type SlotView = z.output<typeof SlotView>;

export const TargetView = z.object({
  name: z.string(),
  command: z.array(z.string()),
  shell: z.boolean(),
  capabilities: z.array(z.string()),
  min: z.number(),
  max: z.number(),
  isolation: z.enum(ISOLATIONS),
  env_keys: z.array(z.string()).describe('Names of its extra environment variables (values are not shown)'),
  idle_timeout_seconds: z.number(),
  usage: z.enum(USAGE_PARSERS).nullable(),
  usage_model: z.string().nullable(),
  source: z.enum(['config', 'cli']).describe('config: defined in .harness/config.json; cli: added with target_add'),
  state: z.enum(TARGET_STATES).describe('failing: its workers crashed too often; it starts none until reset'),
  failing_since: z.string().nullable(),
  crashes: z.number().describe('Abnormal exits within the breaker window'),
  last_exit: z.string().nullable(),
  last_output: z.string().nullable().describe('The end of the output of the last worker that crashed'),
  workers: z.array(SlotView),
  cost_usd: z.number(),
  budget: Budget.nullable(),
});
export type TargetView = z.output<typeof TargetView>;

const TargetReply = z.object({ target: TargetView });
const NameParams = z.strictObject({ name: TargetName });

const { command: agentCommand, ...otherFields } = targetFields;

/**
 * `target_add` takes the command as `argv`: on the wire `command` names the request. Its
 * parameters come out as the target's definition, `command` included.
 */
export const TargetAdd = command({
  name: 'target_add',
  kind: 'mutation',
  summary: 'Add a worker target (or replace one added before): the host keeps between min and max of its workers running.',
  params: z
    .strictObject({
      name: TargetName,
      argv: agentCommand,
      ...otherFields,
      replace: z.boolean().optional().describe('Replace a target of this name added with target_add'),
    })
    .superRefine(checkCounts)
    .transform(({ argv, ...rest }) => ({ ...rest, command: argv })),
  result: TargetReply,
});

export const TargetList = command({
  name: 'target_list',
  kind: 'query',
  summary: 'Every worker target with its workers (slots), state, count and cost.',
  params: z.strictObject({}),
  result: z.object({ targets: z.array(TargetView) }),
});

export const TargetRemove = command({
  name: 'target_remove',
  kind: 'mutation',
  summary: 'Remove a target added with target_add; its workers are stopped (their tasks released).',
  params: NameParams,
  result: z.object({ name: z.string(), stopping: z.array(z.string()).describe('Workers being stopped') }),
});

export const TargetScale = command({
  name: 'target_scale',
  kind: 'mutation',
  summary: 'Change how many workers a target keeps: min and max (a fixed count: both the same).',
  params: z
    .strictObject({
      name: TargetName,
      min: targetFields.min.unwrap().optional().describe('Workers kept running even when idle'),
      max: targetFields.max.unwrap().optional().describe('At most this many, while ready tasks wait'),
    })
    .superRefine((p, ctx) => {
      if (p.min === undefined && p.max === undefined) ctx.addIssue({ code: 'custom', path: ['min'], message: 'give min, max or both' });
      checkCounts(p, ctx);
    }),
  result: TargetReply,
});

export const TargetReset = command({
  name: 'target_reset',
  kind: 'mutation',
  summary: 'Clear a failing target (its crash history too): its workers are started again.',
  params: NameParams,
  result: TargetReply,
});

export const WorkerRestart = command({
  name: 'worker_restart',
  kind: 'mutation',
  summary: "Restart one worker of a target: its process is stopped (its task released) and started again at once.",
  params: z.strictObject({ worker_id: WorkerId.describe('The worker, <target>-<slot>') }),
  result: TargetReply,
});

export const TARGET_COMMANDS = [TargetAdd, TargetList, TargetRemove, TargetScale, TargetReset, WorkerRestart] as const;
