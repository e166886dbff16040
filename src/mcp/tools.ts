// The MCP tools, generated from the command catalog: one tool per command an agent may use, named
// as the command, described by its summary, its input schema the command's parameters as JSON
// Schema less the ones the MCP process fills itself (worker id, fencing token). Only `exec` is
// not a coordinator command: it runs here, beside the agent (exec-tool.ts).
import { z } from 'zod';
import { CATALOG } from '../protocol/catalog';
import type { AnyCommand, CommandKind } from '../protocol/command';
import type { Json } from '../protocol/model';
import { ErrorCode, HarnessError } from '../protocol/errors';
import { EXEC_TOOL_NAME, ExecParams, EXEC_SUMMARY } from './exec-tool';

/** A JSON Schema object, as MCP's `inputSchema` takes it. */
export type JsonSchemaObject = { type: 'object'; properties?: Record<string, Json>; required?: string[] } & Record<string, unknown>;

export interface McpTool {
  name: string;
  description: string;
  inputSchema: JsonSchemaObject;
  /** The coordinator command it forwards to; undefined for the local `exec`. */
  command?: AnyCommand;
  /** Parameters the MCP process fills itself; an agent that passes one is told so. */
  filled: readonly string[];
}

/**
 * The commands no agent calls through MCP: the MCP process is the worker, so it registers,
 * heartbeats and renews leases itself; runs are recorded by exec; staging exists only for the
 * socket's line limit; a stream or a notification has no tool-shaped reply.
 */
const NOT_TOOLS: ReadonlySet<string> = new Set([
  'instance_register',
  'instance_heartbeat',
  'instance_deregister',
  'task_heartbeat',
  'run_start',
  'run_finish',
  'plan_stage',
]);
const NOT_TOOL_KINDS: ReadonlySet<CommandKind> = new Set(['stream', 'notification']);

/**
 * Parameters a tool leaves out although the command takes them. `task_add` takes a task either
 * flat or as `{"task": {...}}`; the tool offers the flat form only (half the schema), and neither
 * `source` (the link to an issue or webhook that made the task: for importers) nor
 * `retry_backoff` (a queue's policy, for whoever runs it: the coordinator's default applies).
 * `task_complete` leaves out `next`: an agent claims its next task when it is ready for one, and
 * the MCP server keeps alive only the leases it saw claimed.
 */
const HIDDEN: Readonly<Record<string, readonly string[]>> = { task_add: ['task', 'source', 'retry_backoff'], task_complete: ['next'] };

/**
 * The default tools: what an agent working through a task queue needs, and no more, since every
 * tool's schema costs the agent context on every turn. `--tools all` (or a list) adds the rest.
 */
export const DEFAULT_TOOLS = [
  'task_claim',
  'task_progress',
  'task_complete',
  'task_fail',
  'task_add',
  'task_list',
  'task_get',
  'lock_acquire',
  'lock_release',
  'message_send',
  'message_receive',
  'message_ack',
  EXEC_TOOL_NAME,
] as const;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * The JSON Schema of a zod schema, without what costs an agent context on every turn and tells it
 * little: the `$schema` line (MCP assumes 2020-12), the safe-integer bounds zod puts on every
 * integer, regex patterns (ids: no spaces or control characters), and the recursive definition of
 * "any JSON value" (an empty schema says the same). The coordinator checks all of it anyway and
 * names the field it refuses.
 */
export function toolSchema(schema: z.ZodType, hidden: readonly string[] = []): JsonSchemaObject {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaObject;
  delete json.$schema;
  const defs = (json.$defs ?? {}) as Record<string, unknown>;
  const anyJson = new Set(Object.keys(defs).filter((k) => isAnyJson(defs[k])).map((k) => `#/$defs/${k}`));
  for (const ref of anyJson) delete defs[ref.slice('#/$defs/'.length)];
  if (Object.keys(defs).length === 0) delete json.$defs;
  strip(json, anyJson);
  for (const name of hidden) {
    if (json.properties) delete json.properties[name];
    if (json.required) json.required = json.required.filter((r) => r !== name);
  }
  if (json.required?.length === 0) delete json.required;
  return json;
}

/** zod's schema of z.json(): any of the six JSON types, arrays and objects of itself. */
function isAnyJson(def: unknown): boolean {
  const anyOf = (def as { anyOf?: Array<{ type?: string }> } | undefined)?.anyOf;
  const types = new Set(anyOf?.map((s) => s.type));
  return anyOf?.length === 6 && ['string', 'number', 'boolean', 'null', 'array', 'object'].every((t) => types.has(t));
}

function strip(node: unknown, anyJson: ReadonlySet<string>): void {
  if (Array.isArray(node)) return node.forEach((n) => strip(n, anyJson));
  if (!node || typeof node !== 'object') return;
  const o = node as Record<string, unknown>;
  if (o.maximum === MAX_SAFE) delete o.maximum;
  if (o.minimum === -MAX_SAFE) delete o.minimum;
  if (typeof o.pattern === 'string') delete o.pattern;
  if (typeof o.$ref === 'string' && anyJson.has(o.$ref)) delete o.$ref;
  for (const value of Object.values(o)) strip(value, anyJson);
}

/** The parameters a command says a worker-side wrapper fills (its `fills`), by role. */
export function fillsOf(command: AnyCommand): { worker?: string; fencingToken?: string; task?: string } {
  return (command.fills ?? {}) as { worker?: string; fencingToken?: string; task?: string };
}

function filledBy(command: AnyCommand): string[] {
  const { worker, fencingToken } = fillsOf(command);
  return [worker, fencingToken].filter((f): f is string => f !== undefined);
}

function commandTool(command: AnyCommand): McpTool {
  const filled = filledBy(command);
  return {
    name: command.name,
    description: command.summary,
    inputSchema: toolSchema(command.params, [...filled, ...(HIDDEN[command.name] ?? [])]),
    command,
    filled,
  };
}

/** Every tool there is, in catalog order, exec last. */
export function allTools(): McpTool[] {
  const commands = CATALOG.filter((d) => !NOT_TOOLS.has(d.name) && !NOT_TOOL_KINDS.has(d.kind));
  return [
    ...commands.map((d) => commandTool(d as AnyCommand)),
    { name: EXEC_TOOL_NAME, description: EXEC_SUMMARY, inputSchema: toolSchema(ExecParams), filled: [] },
  ];
}

/**
 * The tools `--tools` selects: `default` (or nothing), `all`, or a comma list of tool names
 * (`default` may stand in it, e.g. `default,state_get`). An unknown name is an error listing the
 * names there are.
 */
export function selectTools(spec: string | undefined): McpTool[] {
  const tools = allTools();
  const names = new Set<string>();
  for (const word of (spec ?? 'default').split(',').map((w) => w.trim()).filter(Boolean)) {
    if (word === 'all') tools.forEach((t) => names.add(t.name));
    else if (word === 'default') DEFAULT_TOOLS.forEach((n) => names.add(n));
    else if (tools.some((t) => t.name === word)) names.add(word);
    else {
      throw new HarnessError(
        ErrorCode.InvalidArgument,
        `--tools: no tool named ${JSON.stringify(word)}; there are: default, all, ${tools.map((t) => t.name).join(', ')}`,
        { field: 'tools' },
      );
    }
  }
  return tools.filter((t) => names.has(t.name));
}

/** The tool list as MCP's `tools/list` answers it. */
export function listed(tools: readonly McpTool[]): Array<{ name: string; description: string; inputSchema: JsonSchemaObject }> {
  return tools.map(({ name, description, inputSchema }) => ({ name, description, inputSchema }));
}
