// Commands on tasks: adding them (one, or a plan), the lease cycle (claim, heartbeat, progress,
// complete, fail, release), a person's actions (retry, cancel), reads (get, list pages, status),
// and task groups (status, checkpoints).
import { z } from 'zod';
import { command } from './command';
import { Checkpoint, GroupStatus } from './groups';
import {
  Capability,
  FencingToken,
  Id,
  JsonValue,
  PlanPools,
  StatusCounts,
  Task,
  TaskId,
  TaskInput,
  TaskStatus,
  WorkerId,
} from './model';

const TaskReply = z.object({ task: Task });

const { id: _id, ...taskFields } = TaskInput.shape;

/**
 * `task_add` takes the task's fields at the top level, its id as `task_id` (a request's own `id`
 * is the request id, echoed in the reply), or the whole task as `{"task": {...}}`.
 */
export const TaskAddParams = z
  .strictObject({
    task: TaskInput.optional().describe('The whole task as one object (instead of the fields at the top level)'),
    task_id: TaskInput.shape.id,
    ...taskFields,
  })
  .superRefine((p, ctx) => {
    if (p.task === undefined) return;
    const flat = Object.keys(p).filter((k) => k !== 'task');
    if (flat.length > 0) ctx.addIssue({ code: 'custom', path: [flat[0]!], message: 'give the task either as "task" or as top-level fields, not both' });
  })
  .transform(({ task, task_id, ...flat }): TaskInput => task ?? { ...flat, ...(task_id !== undefined ? { id: task_id } : {}) });

export const TaskAdd = command({
  name: 'task_add',
  kind: 'mutation',
  summary: 'Add one task (it runs once its dependencies completed).',
  params: TaskAddParams,
  result: TaskReply,
});

/** At most this many tasks in one plan (or one `plan_import`). */
export const MAX_PLAN_TASKS = 100_000;

/** A plan: what a plan file holds and `plan_import` takes. Unknown fields at any level are errors. */
export const Plan = z.strictObject({
  tasks: z.array(TaskInput).max(MAX_PLAN_TASKS).describe('The tasks, imported all or none'),
  resources: PlanPools.optional(),
});
export type Plan = z.output<typeof Plan>;

export const StageId = z.string().min(1).max(100).describe('The staging id plan_stage returned');

export const PlanImport = command({
  name: 'plan_import',
  kind: 'mutation',
  summary: 'Import a plan: all of its tasks (and resource pools) in one transaction, or none.',
  params: z
    .strictObject({
      tasks: Plan.shape.tasks.optional(),
      resources: Plan.shape.resources,
      stage_id: StageId.optional().describe('Import the plan staged under this id (plan_stage) instead of tasks/resources'),
    })
    .superRefine((p, ctx) => {
      if (p.stage_id !== undefined && (p.tasks !== undefined || p.resources !== undefined)) {
        ctx.addIssue({ code: 'custom', path: ['stage_id'], message: 'give either stage_id or the plan (tasks, resources), not both' });
      } else if (p.stage_id === undefined && p.tasks === undefined) {
        ctx.addIssue({ code: 'custom', path: ['tasks'], message: 'give the plan\'s tasks (or the stage_id of a staged plan)' });
      }
    }),
  result: z.object({ count: z.number(), task_ids: z.array(z.string()) }),
});

export const PlanStage = command({
  name: 'plan_stage',
  kind: 'mutation',
  summary: 'Stage a piece of a plan too big for one request line; plan_import {stage_id} then imports it whole.',
  params: z.strictObject({
    stage_id: StageId.optional().describe('Append to this staged plan; left out, a new one is started'),
    data: z.string().describe("The next piece of the plan's JSON text"),
  }),
  result: z.object({ stage_id: z.string(), bytes: z.number() }),
});

const Lease = {
  worker_id: WorkerId,
  task_id: TaskId,
  fencing_token: FencingToken.optional(),
};
const leaseFills = { worker: 'worker_id', fencingToken: 'fencing_token', task: 'task_id' } as const;

export const ClaimResult = z.object({
  task: Task.nullable().describe('The task to work on, or null when none is ready for this worker'),
  is_retry: z.boolean().describe('The worker already held it (its lease was renewed)'),
  is_reclaim: z.boolean().describe("It was taken over from a worker whose lease ran out"),
});
export type ClaimResult = z.output<typeof ClaimResult>;

const claimCapabilities = z.array(Capability).max(100).optional().describe('What this worker can do; default: what it registered with');

export const TaskClaim = command({
  name: 'task_claim',
  kind: 'mutation',
  summary: 'Claim the next ready task this worker can do (or get back the one it holds). Keep its fencing_token.',
  params: z.strictObject({ worker_id: WorkerId, capabilities: claimCapabilities }),
  result: ClaimResult,
  fills: { worker: 'worker_id' },
});

export const TaskHeartbeat = command({
  name: 'task_heartbeat',
  kind: 'mutation',
  summary: 'Renew the lease of a task this worker holds.',
  params: z.strictObject(Lease),
  result: TaskReply,
  fills: leaseFills,
});

export const TaskProgressCommand = command({
  name: 'task_progress',
  kind: 'mutation',
  summary: 'Report progress on a task this worker holds (also renews its lease).',
  params: z.strictObject({
    ...Lease,
    percent: z.number().min(0).max(100).describe('How far along, 0 to 100'),
    message: z.string().max(1000).optional().describe('What is happening now'),
  }),
  result: TaskReply,
  fills: leaseFills,
});

export const TaskComplete = command({
  name: 'task_complete',
  kind: 'mutation',
  summary: 'Complete a task this worker holds; tasks depending on it may then run.',
  params: z.strictObject({
    ...Lease,
    result: JsonValue.optional().describe('Any JSON result, kept with the task'),
    next: z
      .strictObject({ capabilities: claimCapabilities })
      .optional()
      .describe('Also claim this worker\'s next task, as task_claim does, in the same request and the same durable write; the reply carries it as `next`'),
  }),
  result: TaskReply.extend({ next: ClaimResult.optional().describe('The claim asked for with `next`') }),
  fills: leaseFills,
});

export const DEFAULT_FAIL_RETRY = true;

export const TaskFail = command({
  name: 'task_fail',
  kind: 'mutation',
  summary: 'Fail a task this worker holds: retried while attempts last, then dead-lettered.',
  params: z.strictObject({
    ...Lease,
    error: z.string().max(100_000).describe('What went wrong'),
    retry: z.boolean().optional().describe('false: dead-letter it now instead of retrying (default true)'),
  }),
  result: TaskReply,
  fills: leaseFills,
});

export const TaskRelease = command({
  name: 'task_release',
  kind: 'mutation',
  summary: 'Give back a task this worker holds without using up an attempt.',
  params: z.strictObject(Lease),
  result: TaskReply,
  fills: leaseFills,
});

const TaskIdParams = z.strictObject({ task_id: TaskId });

export const TaskRetry = command({
  name: 'task_retry',
  kind: 'mutation',
  summary: 'Put a dead-lettered task back in the queue with its attempts reset.',
  params: TaskIdParams,
  result: TaskReply,
});

export const TaskCancel = command({
  name: 'task_cancel',
  kind: 'mutation',
  summary: 'Cancel a task that has not finished.',
  params: TaskIdParams,
  result: TaskReply,
});

export const TaskGet = command({
  name: 'task_get',
  kind: 'query',
  summary: 'One task, with its status, holder, attempts, result and error.',
  params: TaskIdParams,
  result: TaskReply,
});

/** Tasks per `task_list` page when the caller gives no limit, and at most. */
export const TASK_PAGE_DEFAULT = 1000;
export const TASK_PAGE_MAX = 10_000;

export const TaskList = command({
  name: 'task_list',
  kind: 'query',
  summary: 'List tasks, oldest first, one page at a time; pass next_cursor back for the next page.',
  params: z.strictObject({
    status: TaskStatus.optional().describe('Only tasks in this status'),
    group: Id.optional().describe('Only tasks of this group'),
    limit: z.number().int().min(1).max(TASK_PAGE_MAX).optional().describe(`Tasks per page (default ${TASK_PAGE_DEFAULT})`),
    cursor: z.string().regex(/^[0-9]{1,15}$/, 'must be a next_cursor that task_list returned').optional().describe('The next_cursor of the previous page'),
  }),
  result: z.object({
    tasks: z.array(Task),
    next_cursor: z.string().nullable().describe('Pass as cursor for the next page; null on the last page'),
  }),
});

/** Per-group task counts in `status`, at most this many groups (the rest: `groups_truncated`). */
export const STATUS_MAX_GROUPS = 1000;

export const Status = command({
  name: 'status',
  kind: 'query',
  summary: 'Task counts by status, how many are ready, live workers, and counts per task group.',
  params: z.strictObject({}),
  result: z.object({
    counts: StatusCounts,
    ready: z.number().describe('Pending tasks whose dependencies all completed'),
    instances: z.number().describe('Live workers'),
    groups: z.record(z.string(), StatusCounts.extend({ ready: z.number() })).describe('Counts per task group, by group name'),
    groups_truncated: z.boolean().describe(`More than ${STATUS_MAX_GROUPS} groups: only the first by name are listed`),
  }),
});

const GroupParams = z.strictObject({ group: Id.describe('The group name (a task\'s "group" field)') });

export const GroupStatusCommand = command({
  name: 'group_status',
  kind: 'query',
  summary: 'Where every task of a group stands, and whether the group is done.',
  params: GroupParams,
  result: GroupStatus,
});

export const CheckpointRecord = command({
  name: 'checkpoint_record',
  kind: 'mutation',
  summary: "Record a checkpoint of a group: every stream's status and latest progress, kept durably.",
  params: GroupParams,
  result: z.object({ checkpoint: Checkpoint }),
});

export const CheckpointList = command({
  name: 'checkpoint_list',
  kind: 'query',
  summary: 'The recorded checkpoints of a group, oldest first.',
  params: GroupParams,
  result: z.object({ checkpoints: z.array(Checkpoint) }),
});

export const TASK_COMMANDS = [
  TaskAdd,
  PlanImport,
  PlanStage,
  TaskClaim,
  TaskHeartbeat,
  TaskProgressCommand,
  TaskComplete,
  TaskFail,
  TaskRelease,
  TaskRetry,
  TaskCancel,
  TaskGet,
  TaskList,
  Status,
  GroupStatusCommand,
  CheckpointRecord,
  CheckpointList,
] as const;
