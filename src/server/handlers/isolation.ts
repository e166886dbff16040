// Handlers of per-worker isolation: each reads the `isolation` section of the state directory's
// config.json at the call, so an edit applies to the next command.
import type { HandlersOf } from '../../protocol/command';
import { ISOLATION_COMMANDS } from '../../protocol/isolation';
import { cleanup, isolate, listIsolated, merge, type IsolationPlace } from '../../isolation';
import { readHarnessConfig } from '../../config/harness';
import type { ServerContext } from '../context';

function place(ctx: ServerContext): IsolationPlace {
  const config = readHarnessConfig(ctx.stateDir).isolation;
  return { stateDir: ctx.stateDir, ...(config ? { config } : {}) };
}

/** Workers by `worker_ids` (a list) or `worker_id` (one); neither means all. */
function workers(p: { worker_ids?: string[] | undefined; worker_id?: string | undefined }): string[] | undefined {
  const ids = [...(p.worker_ids ?? []), ...(p.worker_id !== undefined ? [p.worker_id] : [])];
  return ids.length ? ids : undefined;
}

export const ISOLATION_HANDLERS: HandlersOf<typeof ISOLATION_COMMANDS, ServerContext> = {
  isolate: ({ worker_id, base }, ctx) => isolate(ctx.workspace, worker_id, { base, ...place(ctx) }),
  isolate_list: (_p, ctx) => listIsolated(ctx.workspace, place(ctx)),
  isolate_cleanup: (p, ctx) => cleanup(ctx.workspace, { workers: workers(p), force: p.force, into: p.into, ...place(ctx) }),
  merge: (p, ctx) => merge(ctx.workspace, { workers: workers(p), into: p.into, ...place(ctx) }),
};
