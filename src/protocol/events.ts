// Every event a subscribed connection receives (`{"event", "data", "ts"}` lines), with the shape of
// its data and the views it changes. Views refresh on what `affects` says, so no view keeps its
// own list of events to ignore.
import { z } from 'zod';
import { ClusterLeader } from './cluster';
import { Lock } from './locks';
import { Instance, Task } from './model';
import { RunChunk } from './output';
import { Hold } from './pools';
import { RunInfo } from './runs';
import { TargetView } from './targets';
import { Budget, BudgetScope } from './usage';

/** What a person sees that an event may change: the task list, the workers, the coordination primitives, the runs. */
export type View = 'tasks' | 'instances' | 'coordination' | 'runs';

export interface EventDescriptor<Data extends z.ZodType = z.ZodType> {
  readonly data: Data;
  /** The views showing something this event changes; none: views need not refresh (e.g. a heartbeat). */
  readonly affects: readonly View[];
  readonly summary: string;
}

function event<Data extends z.ZodType>(data: Data, affects: readonly View[], summary: string): EventDescriptor<Data> {
  return Object.freeze({ data, affects, summary });
}

function taskEvent<Extra extends z.ZodRawShape = {}>(summary: string, extra?: Extra) {
  return event(z.object({ task: Task, ...(extra as Extra) }), ['tasks', 'instances', 'coordination'], summary);
}

export const EVENTS = {
  'task:added': event(z.object({ tasks: z.array(Task) }), ['tasks', 'coordination'], 'tasks were added'),
  'task:claimed': taskEvent('a worker claimed a task', { worker_id: z.string(), is_retry: z.boolean(), is_reclaim: z.boolean() }),
  'task:heartbeat': event(z.object({ task: Task }), [], "a holder renewed a task's lease"),
  'task:progress': event(z.object({ task: Task }), ['tasks', 'coordination'], 'a holder reported progress'),
  'task:completed': taskEvent('a task completed'),
  'task:failed': taskEvent('a task failed', { will_retry: z.boolean() }),
  'task:dead_letter': taskEvent('a task was dead-lettered'),
  'task:released': taskEvent('a holder gave a task back'),
  'task:retried': taskEvent('a dead-lettered task was put back in the queue'),
  'task:cancelled': taskEvent('a task was cancelled'),
  'lease:expired': taskEvent("a task's lease ran out or was freed"),
  'instance:registered': event(z.object({ instance: Instance }), ['instances', 'coordination'], 'a worker registered'),
  'instance:stale': event(z.object({ instance: Instance, freed_tasks: z.array(z.string()) }), ['instances', 'coordination'], 'a worker stopped heartbeating'),
  'instance:deregistered': event(z.object({ worker_id: z.string(), freed_tasks: z.array(z.string()) }), ['instances', 'coordination'], 'a worker left'),
  'target:changed': event(z.object({ target: TargetView, reason: z.string() }), ['instances'], 'a worker target or one of its workers changed'),
  'target:removed': event(z.object({ name: z.string(), stopping: z.array(z.string()) }), ['instances'], 'a worker target was removed'),
  'target:failing': event(z.object({ target: TargetView }), ['instances'], "a target's workers crashed too often: it starts none until reset"),
  'worker:exited': event(
    z.object({
      target: z.string(),
      slot: z.number(),
      worker_id: z.string(),
      exit: z.string().describe('How the process ended, e.g. exit code 3, killed by SIGSEGV'),
      abnormal: z.boolean(),
      restart_at: z.string().nullable().describe('When it is started again after a crash (null: not, or not until reset)'),
    }),
    ['instances'],
    "a target's worker process ended",
  ),
  'budget:changed': event(z.object({ budget: Budget }), ['tasks', 'instances'], 'a budget was set or changed'),
  'budget:removed': event(z.object({ scope: BudgetScope, name: z.string().nullable() }), ['tasks', 'instances'], 'a budget was removed'),
  'budget:spent': event(z.object({ budget: Budget }), ['tasks', 'instances'], 'a budget is spent: its tasks (or workers) get no new claims'),
  'coordinator:error': event(z.object({ message: z.string() }), [], 'the coordinator hit an error worth showing'),
  'lock:acquired': event(z.object({ lock: Lock }), ['coordination'], 'a lock was granted'),
  'lock:renewed': event(z.object({ lock: Lock }), [], 'a holder renewed a lock'),
  'lock:released': event(
    z.object({ lock: Lock, reason: z.enum(['released', 'expired', 'holder_gone', 'abandoned']) }),
    ['coordination'],
    'a lock ended',
  ),
  'state:changed': event(
    z.object({ key: z.string(), version: z.number(), deleted: z.boolean(), updated_by: z.string().nullable() }),
    ['coordination'],
    'a shared value was written or deleted',
  ),
  'pool:changed': event(
    z.object({ pools: z.array(z.string()), reason: z.string(), hold: Hold.optional() }),
    ['coordination'],
    'capacity or use of resource pools changed',
  ),
  'message:sent': event(
    z.object({ message_id: z.string(), to: z.string(), from: z.string().nullable(), recipients: z.array(z.string()) }),
    ['coordination'],
    'a message was sent',
  ),
  'message:acked': event(z.object({ message_id: z.string(), worker_id: z.string() }), ['coordination'], 'a recipient acknowledged a message'),
  'message:dropped': event(z.object({ message_id: z.string(), recipients: z.array(z.string()) }), ['coordination'], 'a message was dropped'),
  'topic:changed': event(
    z.object({ topic: z.string(), worker_id: z.string(), subscribed: z.boolean() }),
    ['coordination'],
    'a worker subscribed to or left a topic',
  ),
  'run:started': event(z.object({ run: RunInfo }), ['runs'], 'a run started'),
  'run:output': event(z.object({ ...RunChunk.shape, task_id: z.string().nullable() }), [], 'a run printed output (sent live, not a refresh)'),
  'run:finished': event(z.object({ run: RunInfo }), ['runs'], 'a run finished'),
  'events:dropped': event(
    z.object({ count: z.number(), reason: z.literal('output_backlog') }),
    [],
    'live output was skipped because this connection fell behind (run_log has it all)',
  ),
  'cluster:leader': event(
    z.object({ cluster: z.string(), leader: ClusterLeader }),
    ['tasks', 'instances', 'coordination', 'runs'],
    'another coordinator of the cluster leads now (events during the take-over are not replayed: views read again)',
  ),
  'notification:failed': event(
    z.object({ command: z.string(), code: z.string(), message: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
    [],
    'a notification (a command without reply, e.g. run_output) was refused',
  ),
} as const;

export type EventName = keyof typeof EVENTS;
export type EventData<N extends EventName> = z.output<(typeof EVENTS)[N]['data']>;
export const EVENT_NAMES = Object.keys(EVENTS) as EventName[];

export function isEventName(name: string): name is EventName {
  return Object.hasOwn(EVENTS, name);
}

/** Whether a view showing any of `views` should refresh after the event; unknown events (a newer coordinator) do. */
export function affectsAny(name: string, views: readonly View[]): boolean {
  return isEventName(name) ? EVENTS[name].affects.some((v) => views.includes(v)) : true;
}

/** Events that change nothing any view shows: derived from `affects`, never listed by hand. */
export const QUIET_EVENTS: ReadonlySet<string> = new Set(EVENT_NAMES.filter((n) => EVENTS[n].affects.length === 0));
