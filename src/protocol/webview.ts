/**
 * Every message between the extension host and the task graph panel's webview, as zod schemas
 * both sides check on arrival (a webview is another trust domain and another build). Imports only
 * zod, so the webview bundle can share it: zod/mini, because the classic API's chaining object
 * pulls the whole library (~450 kB minified) into the webview bundle, where mini costs ~20 kB.
 *
 * Records are `z.object`, not strict: the host may pass the coordinator's Task, InstanceView and
 * RunInfo as they are, and unknown fields are dropped on parsing rather than failing a message
 * when the core grows a field. Sizes are bounded so a bad peer cannot make the other side render
 * without limit.
 */
import en from 'zod/v4/locales/en.js';
import * as z from 'zod/mini';
import { RunChunk, Stream } from './output';

export { Stream };

// English issue messages (mini ships none by default); the same setting classic zod makes.
z.config(en());

const Text = (max: number) => z.string().check(z.maxLength(max));
const Name = Text(200);
const Count = z.int().check(z.minimum(0));
const Bytes = z.number().check(z.minimum(0));

export const PANEL_TASK_STATUSES = ['pending', 'running', 'completed', 'dead_letter', 'cancelled'] as const;

/**
 * A task as the panel shows it: `pending` split into ready (every dependency completed) and
 * blocked. The host derives it for the summary of a big plan, the webview for a whole one.
 */
export const DISPLAY_STATUSES = ['ready', 'blocked', 'running', 'completed', 'dead_letter', 'cancelled'] as const;
export type DisplayStatus = (typeof DISPLAY_STATUSES)[number];
/** Text the host keeps of a task's result for the panel (the rest is in `harness task show`). */
export const MAX_RESULT_PREVIEW = 2000;

const Time = z.nullable(Text(100));

export const TaskView = z.object({
  id: Name,
  description: z._default(Text(10_000), ''),
  dependencies: z.array(Name).check(z.maxLength(1000)),
  status: z.enum(PANEL_TASK_STATUSES),
  claimed_by: z.nullable(Name),
  attempts: z._default(Count, 0),
  max_attempts: z._default(Count, 0),
  priority: z._default(z.number(), 0),
  error: z._default(z.nullable(Text(100_000)), null),
  group: z._default(z.nullable(Name), null),
  capabilities: z._default(z.array(Text(100)).check(z.maxLength(100)), []),
  started_at: z._default(Time, null),
  lease_expires_at: z._default(Time, null),
  completed_at: z._default(Time, null),
  progress: z._default(z.nullable(z.object({ percent: z.number(), message: z.nullable(Text(1000)), at: Text(100) })), null),
  /** The result as JSON text, cut at MAX_RESULT_PREVIEW characters; null when there is none. */
  result_preview: z._default(z.nullable(Text(MAX_RESULT_PREVIEW + 1)), null),
  /** Ready or blocked, as the host knows it (a scoped part of a big plan lacks the dependencies). */
  display_status: z._default(z.nullable(z.enum(DISPLAY_STATUSES)), null),
  /** Where the task came from; the URL only http(s), as the core accepts it. */
  source: z.optional(
    z.object({
      kind: Text(50),
      url: z.optional(Text(2000).check(z.regex(/^https?:\/\//i))),
      title: z.optional(Text(500)),
    }),
  ),
});
export type TaskView = z.infer<typeof TaskView>;

export const InstanceView = z.object({
  worker_id: Name,
  name: Name,
  status: z.enum(['live', 'stale']),
  current_task: z.nullable(Name),
  /** Age of the last heartbeat when the state was read; the webview adds the time since. */
  last_seen_age_ms: Bytes,
});
export type InstanceView = z.infer<typeof InstanceView>;

export const RunView = z.object({
  run_id: Name,
  worker_id: z.nullable(Name),
  task_id: z.nullable(Name),
  argv: z.array(Text(100_000)).check(z.maxLength(10_000)),
  started_at: Text(100),
  status: z.enum(['running', 'finished']),
  result: z.nullable(z.record(z.string(), z.unknown())),
  output_bytes: Bytes,
});
export type RunView = z.infer<typeof RunView>;

/** Bounds of one `output` batch; the host splits or falls back to a `runLog` past them. */
export const MAX_BATCH_CHUNKS = 500;
export const MAX_BATCH_CHARS = 1_000_000;
const MAX_LOG_CHARS = 64 * 1024 * 1024;

/** The one chunk type of run output (src/protocol/output.ts), bounded for the panel. */
export const OutputChunk = z.extend(RunChunk, { run_id: Name, data: Text(MAX_BATCH_CHARS) });
export type OutputChunk = z.infer<typeof OutputChunk>;

// --- host → webview ---------------------------------------------------------------------------

/**
 * Past this many tasks the host sends a summary instead of every task, and the graph shows a
 * group or a filter of at most this many: the layout of 1,500 nodes takes seconds already.
 */
export const SUMMARY_ABOVE = 1500;
/** Tasks listed in the summary's ready frontier and running list (the rest are counted). */
export const SUMMARY_LIST_MAX = 100;
/** Groups the summary lists, those with work left first; `group_count` says how many there are. */
export const SUMMARY_GROUPS_MAX = 200;

const StatusCounts = z.object(Object.fromEntries(DISPLAY_STATUSES.map((s) => [s, Count])) as Record<DisplayStatus, typeof Count>);
export type StatusCounts = z.infer<typeof StatusCounts>;

/** What part of a big plan the graph shows: a group, or tasks matching a filter. */
export const Scope = z.object({
  statuses: z._default(z.array(z.enum(DISPLAY_STATUSES)).check(z.maxLength(DISPLAY_STATUSES.length)), []),
  group: z._default(z.nullable(Name), null),
  holder: z._default(z.nullable(Name), null),
  /** Matches the id or the description, case-insensitively. */
  text: z._default(Text(200), ''),
});
export type Scope = z.infer<typeof Scope>;

/** A plan too big to send whole: counts, and the tasks a person acts on next. */
export const Summary = z.object({
  total: Count,
  counts: StatusCounts,
  groups: z.array(z.object({ group: Name, total: Count, counts: StatusCounts })).check(z.maxLength(SUMMARY_GROUPS_MAX)),
  group_count: Count,
  /** Ready tasks, highest priority first (at most SUMMARY_LIST_MAX). */
  frontier: z.array(TaskView).check(z.maxLength(SUMMARY_LIST_MAX)),
  running: z.array(TaskView).check(z.maxLength(SUMMARY_LIST_MAX)),
  /** The scope the state's `tasks` answer, and how many tasks match it (more than sent: none sent). */
  scope: z.nullable(Scope),
  matched: Count,
});
export type Summary = z.infer<typeof Summary>;

export const StateMessage = z.object({
  type: z.literal('state'),
  /** Numbers the states; the webview says `rendered` with it, and the host sends the next after. */
  seq: z._default(Count, 0),
  /** Every task, or with a summary the tasks of its scope. */
  tasks: z.array(TaskView).check(z.maxLength(100_000)),
  summary: z._default(z.nullable(Summary), null),
  /** The host's clock (ms since the epoch) when it sent this: lease countdowns correct for skew. */
  host_now: z._default(z.number(), 0),
  instances: z.array(InstanceView).check(z.maxLength(10_000)),
  runs: z.array(RunView).check(z.maxLength(10_000)),
});
export type StateMessage = z.infer<typeof StateMessage>;

/** Appended output, in arrival order; only for the run the webview selected. */
export const OutputMessage = z.object({
  type: z.literal('output'),
  chunks: z.array(OutputChunk).check(z.minLength(1), z.maxLength(MAX_BATCH_CHUNKS)),
});
export type OutputMessage = z.infer<typeof OutputMessage>;

/** The whole kept log of one run: replaces what the webview shows for it; appends follow. */
export const RunLogMessage = z.object({
  type: z.literal('runLog'),
  run_id: Name,
  output: z.array(z.object({ stream: Stream, data: Text(MAX_LOG_CHARS) })).check(z.maxLength(10_000_000)),
  /** Bytes the host's bounded log did not keep (the webview says so above the output). */
  dropped_bytes: Bytes,
});
export type RunLogMessage = z.infer<typeof RunLogMessage>;

/** The host selects a run (a command such as "Show Run Output"); the webview follows. */
export const SelectMessage = z.object({ type: z.literal('select'), run_id: z.nullable(Name) });
export type SelectMessage = z.infer<typeof SelectMessage>;

export const ErrorMessage = z.object({ type: z.literal('error'), message: Text(10_000) });
export type ErrorMessage = z.infer<typeof ErrorMessage>;

export const HostMessage = z.discriminatedUnion('type', [
  StateMessage,
  OutputMessage,
  RunLogMessage,
  SelectMessage,
  ErrorMessage,
]);
export type HostMessage = z.infer<typeof HostMessage>;

// --- webview → host ---------------------------------------------------------------------------

/** Sent once the script runs (and again after every reload), with the run it remembers. */
export const ReadyMessage = z.object({ type: z.literal('ready'), selected_run_id: z.nullable(Name) });
export const SelectRunMessage = z.object({ type: z.literal('selectRun'), run_id: z.nullable(Name) });
export const TASK_ACTIONS = ['complete', 'fail', 'release', 'retry', 'cancel'] as const;
export type TaskAction = (typeof TASK_ACTIONS)[number];
export const TaskActionMessage = z.object({
  type: z.literal('taskAction'),
  action: z.enum(TASK_ACTIONS),
  task_id: Name,
});
export const LogMessage = z.object({
  type: z.literal('log'),
  level: z.enum(['info', 'warn', 'error']),
  message: Text(10_000),
});

/** The webview has shown the state numbered `seq`: the host may send the next one. */
export const RenderedMessage = z.object({
  type: z.literal('rendered'),
  seq: Count,
  /** How long the webview took to check and render it, in ms (for the host's figures). */
  render_ms: z._default(z.number().check(z.minimum(0)), 0),
});
/** The part of a big plan the graph should show (null: the summary alone). */
export const ScopeMessage = z.object({ type: z.literal('scope'), scope: z.nullable(Scope) });

export const WebviewMessage = z.discriminatedUnion('type', [
  ReadyMessage,
  SelectRunMessage,
  TaskActionMessage,
  LogMessage,
  RenderedMessage,
  ScopeMessage,
]);
export type WebviewMessage = z.infer<typeof WebviewMessage>;
export type ReadyMessage = z.infer<typeof ReadyMessage>;
export type TaskActionMessage = z.infer<typeof TaskActionMessage>;

export type Parsed<T> = { ok: true; message: T } | { ok: false; error: string };

/** One line naming where and why a message failed its schema: for logs and error replies. */
function describe(error: { issues: readonly { path: PropertyKey[]; message: string }[] }): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.map(String).join('.') || 'message'}: ${issue.message}`)
    .join('; ');
}

function parseWith<T>(schema: z.ZodMiniType<T>, raw: unknown): Parsed<T> {
  const result = schema.safeParse(raw);
  if (result.success) return { ok: true, message: result.data };
  const type = typeof raw === 'object' && raw !== null && 'type' in raw ? String(raw.type).slice(0, 50) : '?';
  return { ok: false, error: `invalid message (type ${type}): ${describe(result.error)}` };
}

export const parseHostMessage = (raw: unknown): Parsed<HostMessage> => parseWith(HostMessage, raw);
export const parseWebviewMessage = (raw: unknown): Parsed<WebviewMessage> => parseWith(WebviewMessage, raw);
