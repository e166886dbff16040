// Sending one request line to the leader, from a coordinator that does not lead (node.ts) or from
// a client's gateway (gateway.ts): lock paths resolved where the client runs first, and NATS failing
// under the request answered as what it is, an outcome nobody knows.
import { ErrorCode, HarnessError, isHarnessError } from '../protocol/errors';
import type { EventLine, Reply, RequestId } from '../protocol/messages';
import { resolveLockPath } from '../server/paths';
import { describeNatsError } from './connection';
import type { RpcClient } from './rpc';

/**
 * Commands whose lock path names a file on the host the client runs on: resolved there (symlinks
 * included) to its workspace-relative name, which is the same on every host, before forwarding.
 */
const LOCK_PATH_COMMANDS = new Set(['lock_acquire', 'lock_release', 'lock_list']);

/** The command and id of a request line, if it has them (else the receiver says what is wrong). */
export function peek(line: string): { command: string; id: RequestId } | undefined {
  try {
    const m = JSON.parse(line) as { command?: unknown; id?: unknown };
    if (!m || typeof m !== 'object' || typeof m.command !== 'string') return undefined;
    return { command: m.command, id: typeof m.id === 'string' || typeof m.id === 'number' ? m.id : undefined };
  } catch {
    return undefined;
  }
}

export function errorReply(e: unknown, id: RequestId): Reply {
  const { code, message, details } = isHarnessError(e) ? e : new HarnessError(ErrorCode.Internal, String((e as Error)?.message ?? e));
  return { status: 'error', code, message, ...(details ? { details } : {}), ...(id === undefined ? {} : { id }) };
}

function withRelativeLockPath(line: string, workspace: string): string {
  const request = JSON.parse(line) as Record<string, unknown>;
  if (typeof request.path !== 'string' || request.path === '') return line;
  return JSON.stringify({ ...request, path: resolveLockPath(workspace, request.path) });
}

/** The leader's answer to `line`, sent from a host whose workspace is `workspace`. Never throws. */
export async function forwardLine(rpc: RpcClient, line: string, workspace: string, signal?: AbortSignal): Promise<Reply | EventLine | undefined> {
  const head = peek(line);
  try {
    if (head && LOCK_PATH_COMMANDS.has(head.command)) line = withRelativeLockPath(line, workspace);
  } catch (e) {
    return errorReply(e, head?.id);
  }
  try {
    return await rpc.request(line, { id: head?.id, ...(signal ? { signal } : {}) });
  } catch (e) {
    // NATS itself failed under the request (the connection closed): where it got to is unknown.
    return errorReply(
      new HarnessError(ErrorCode.Unavailable, `the cluster could not be reached (${describeNatsError(e)}): the request may or may not have been applied`, {
        outcome: 'unknown',
      }),
      head?.id,
    );
  }
}
