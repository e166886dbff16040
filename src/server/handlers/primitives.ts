// Handlers of the coordination primitives: file locks, shared state, resource pools, mailboxes.
// Lock paths are resolved here, where file-system access is allowed (symlinks), then handed to
// the core relative to the workspace root.
import type { HandlersOf } from '../../protocol/command';
import { LOCK_COMMANDS } from '../../protocol/locks';
import { MESSAGE_COMMANDS } from '../../protocol/mailbox';
import { POOL_COMMANDS } from '../../protocol/pools';
import { STATE_COMMANDS } from '../../protocol/shared-state';
import type { ServerContext } from '../context';
import { resolveLockPath } from '../paths';
import { withinBudget } from './budget';

/** The request with its lock path resolved against the workspace (symlinks included). */
function withLockPath<P extends { path?: string | undefined }>(p: P, ctx: ServerContext): P {
  return p.path !== undefined && p.path !== '' ? { ...p, path: resolveLockPath(ctx.workspace, p.path) } : p;
}

const prims = (ctx: ServerContext) => ctx.coordinator.primitives;

export const PRIMITIVE_HANDLERS: HandlersOf<
  [...typeof LOCK_COMMANDS, ...typeof STATE_COMMANDS, ...typeof POOL_COMMANDS, ...typeof MESSAGE_COMMANDS],
  ServerContext
> = {
  lock_acquire: (p, ctx) => prims(ctx).locks.acquire(withLockPath(p, ctx), ctx.workspace, ctx.signal),
  lock_release: (p, ctx) => prims(ctx).locks.release(withLockPath(p, ctx), ctx.workspace),
  lock_renew: (p, ctx) => prims(ctx).locks.renew(p),
  lock_list: (p, ctx) => prims(ctx).locks.list(withLockPath(p, ctx), ctx.workspace),

  state_get: (p, ctx) => prims(ctx).state.get(p),
  state_put: (p, ctx) => prims(ctx).state.put(p),
  state_delete: (p, ctx) => prims(ctx).state.delete(p),
  state_history: (p, ctx) => prims(ctx).state.history(p),
  state_list: (p, ctx) => {
    const { rows: entries, truncated } = withinBudget(prims(ctx).state.list(p).entries);
    return { entries, truncated };
  },

  pool_set: (p, ctx) => prims(ctx).pools.set(p),
  pool_list: (_p, ctx) => prims(ctx).pools.list(),
  resource_acquire: (p, ctx) => prims(ctx).pools.acquire(p, ctx.signal),
  resource_release: (p, ctx) => prims(ctx).pools.release(p),
  resource_renew: (p, ctx) => prims(ctx).pools.renew(p),

  message_send: (p, ctx) => prims(ctx).mail.send(p),
  // The ones left out stay unacknowledged, so the next receive brings them: as if `max` were lower.
  message_receive: async (p, ctx) => ({ messages: withinBudget((await prims(ctx).mail.receive(p, ctx.signal)).messages).rows }),
  message_ack: (p, ctx) => prims(ctx).mail.ack(p),
  message_list: (p, ctx) => {
    const { messages, topics } = prims(ctx).mail.list(p);
    const { rows, truncated } = withinBudget(messages);
    return { messages: rows, topics, truncated };
  },
  message_drop: (p, ctx) => prims(ctx).mail.drop(p),
  topic_subscribe: (p, ctx) => prims(ctx).mail.subscribe(p),
  topic_unsubscribe: (p, ctx) => prims(ctx).mail.unsubscribe(p),
};
