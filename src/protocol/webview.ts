/**
 * Every message between the extension host and the coordination panel's webview, as zod schemas
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

// English issue messages (mini ships none by default); the same setting classic zod makes.
z.config(en());

const Text = (max: number) => z.string().check(z.maxLength(max));
const Name = Text(200);
const Count = z.int().check(z.minimum(0));
const Bytes = z.number().check(z.minimum(0));

export const PANEL_TASK_STATUSES = ['pending', 'running', 'completed', 'dead_letter', 'cancelled'] as const;

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

export const Stream = z.enum(['stdout', 'stderr']);
export type Stream = z.infer<typeof Stream>;

/** Bounds of one `output` batch; the host splits or falls back to a `runLog` past them. */
export const MAX_BATCH_CHUNKS = 500;
export const MAX_BATCH_CHARS = 1_000_000;
const MAX_LOG_CHARS = 64 * 1024 * 1024;

export const OutputChunk = z.object({ run_id: Name, stream: Stream, data: Text(MAX_BATCH_CHARS) });
export type OutputChunk = z.infer<typeof OutputChunk>;

// --- host → webview ---------------------------------------------------------------------------

export const StateMessage = z.object({
  type: z.literal('state'),
  tasks: z.array(TaskView).check(z.maxLength(100_000)),
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
export const TASK_ACTIONS = ['retry', 'cancel'] as const;
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

export const WebviewMessage = z.discriminatedUnion('type', [
  ReadyMessage,
  SelectRunMessage,
  TaskActionMessage,
  LogMessage,
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
