// The one dispatcher: every request, from the socket, the extension's in-process API or the MCP
// server, is looked up in the catalog, its parameters parsed once against the command's schema,
// and handed typed to its handler. Errors become replies here and nowhere else.
import { CATALOG, findCommand } from '../protocol/catalog';
import type { HandlersOf } from '../protocol/command';
import { ErrorCode, HarnessError } from '../protocol/errors';
import { toErrorReply, type EventLine, type ErrorReply, type Reply } from '../protocol/messages';
import { parse } from '../protocol/validate';
import type { Logger } from '../core/log';
import { ISOLATION_HANDLERS } from './handlers/isolation';
import type { ServerContext } from './context';
import { PRIMITIVE_HANDLERS } from './handlers/primitives';
import { META_HANDLERS, RUN_HANDLERS } from './handlers/runs';
import { INSTANCE_HANDLERS, TASK_HANDLERS } from './handlers/tasks';

const HANDLERS: HandlersOf<typeof CATALOG, ServerContext> = {
  ...META_HANDLERS,
  ...TASK_HANDLERS,
  ...INSTANCE_HANDLERS,
  ...RUN_HANDLERS,
  ...PRIMITIVE_HANDLERS,
  ...ISOLATION_HANDLERS,
};

/** An error as a reply (one mapping, `toErrorReply`); a bug's stack goes to the coordinator's log. */
export function errorReply(e: unknown, log: Logger): ErrorReply {
  if (!(e instanceof HarnessError)) log.error(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  return toErrorReply(e);
}

/** Runs a command by name with its parameters (the request without `command` and `id`); never throws. */
export async function dispatch(name: string, params: Record<string, unknown>, ctx: ServerContext): Promise<Reply> {
  try {
    const command = findCommand(name);
    if (!command) throw new HarnessError(ErrorCode.InvalidArgument, `unknown command ${JSON.stringify(name.slice(0, 100))}`);
    const parsed = parse(command.params, params, name);
    const handler = HANDLERS[command.name] as (params: unknown, ctx: ServerContext) => unknown;
    return { status: 'ok', data: await handler(parsed, ctx) };
  } catch (e) {
    return errorReply(e, ctx.log);
  }
}

export function isNotification(name: string): boolean {
  return findCommand(name)?.kind === 'notification';
}

/** A notification gets no reply; its failure is told as a `notification:failed` event line instead. */
export function notificationFailure(command: string, reply: Reply): EventLine | undefined {
  if (reply.status === 'ok') return undefined;
  const { code, message, details } = reply;
  return { event: 'notification:failed', data: { command, code, message, ...(details ? { details } : {}) }, ts: new Date().toISOString() };
}
