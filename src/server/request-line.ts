// One request line in, what to write back out: the framing's job ends at the line, the
// dispatcher's starts at a command name and its parameters.
import { describeError, ErrorCode, HarnessError } from '../protocol/errors';
import { paramsOf, RequestEnvelope, type EventLine, type Reply, type RequestId } from '../protocol/messages';
import { formatIssues } from '../protocol/validate';
import type { ServerContext } from './context';
import { dispatch, errorReply, isNotification, notificationFailure } from './dispatch';

/** Arrays and objects inside one request, at most (a request itself is level 1). */
export const MAX_NESTING = 256;

/** Whether `value` nests arrays/objects more than `max` levels deep; iterative, so any depth is safe. */
function nestedDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<[object, number]> = value !== null && typeof value === 'object' ? [[value, 1]] : [];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > max) return true;
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push([child as object, depth + 1]);
    }
  }
  return false;
}

function withId<R extends Reply>(reply: R, id: RequestId): R {
  return id === undefined ? reply : { ...reply, id };
}

/** The id of a message that failed the envelope check, if it has a usable one. */
function rawId(message: unknown): RequestId {
  if (!message || typeof message !== 'object' || Array.isArray(message)) return undefined;
  const raw = (message as { id?: unknown }).id;
  return typeof raw === 'string' || typeof raw === 'number' ? raw : undefined;
}

/**
 * What answers one request line: its reply; for a notification nothing, or a `notification:failed`
 * event line when it was refused. Never throws.
 */
export async function handleLine(line: string, ctx: ServerContext): Promise<Reply | EventLine | undefined> {
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch (e) {
    return errorReply(new HarnessError(ErrorCode.InvalidArgument, `malformed JSON: ${describeError(e)}`), ctx.log);
  }
  const envelope = RequestEnvelope.safeParse(message);
  if (!envelope.success) {
    return withId(errorReply(new HarnessError(ErrorCode.InvalidArgument, `invalid request: ${formatIssues(envelope.error)}`), ctx.log), rawId(message));
  }
  const { command, id } = envelope.data;
  const reply = nestedDeeperThan(message, MAX_NESTING)
    ? // Validation and JSON.stringify recurse: past a few thousand levels they overflow the stack.
      errorReply(new HarnessError(ErrorCode.InvalidArgument, `invalid request: nested more than ${MAX_NESTING} levels deep`), ctx.log)
    : await dispatch(command, paramsOf(envelope.data), ctx);
  if (isNotification(command)) return notificationFailure(command, reply);
  return withId(reply, id);
}
