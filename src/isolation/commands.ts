import { z } from 'zod';
import { parse } from '../core/validate';
import { cleanup, isolate, listIsolated, merge } from './worktrees';

/** What an isolation command needs of the socket server's context. */
export interface IsolationCommandContext {
  /** The coordinator's workspace. */
  worktree: string;
}

type Handler = (params: Record<string, unknown>, ctx: IsolationCommandContext) => unknown;

const IsolateParams = z.looseObject({ worker_id: z.string().min(1), base: z.string().min(1).optional() });
/** Workers by `worker_ids` (a list) or `worker_id` (one); neither means all. */
const Selection = {
  worker_ids: z.array(z.string().min(1)).optional(),
  worker_id: z.string().min(1).optional(),
};
const MergeParams = z.looseObject({ ...Selection, into: z.string().min(1).optional() });
const CleanupParams = z.looseObject({ ...Selection, into: z.string().min(1).optional(), force: z.boolean().optional() });

function workers(p: { worker_ids?: string[] | undefined; worker_id?: string | undefined }): string[] | undefined {
  const ids = [...(p.worker_ids ?? []), ...(p.worker_id !== undefined ? [p.worker_id] : [])];
  return ids.length ? ids : undefined;
}

/**
 * The socket commands of per-worker isolation (registered in src/server/commands.ts):
 * - `isolate` {worker_id, base?} → {path, branch, created, env, ports, ...}
 * - `isolate_list` {} → {mode, directory, target, workers: [...]}
 * - `isolate_cleanup` {worker_ids?|worker_id?, force?, into?} → {target, removed: [...]}
 * - `merge` {worker_ids?|worker_id?, into?} → {git: true, target, merged, ...} or, outside git, {git: false, outputs}
 */
export const ISOLATION_COMMANDS: Record<string, Handler> = {
  isolate: (p, ctx) => {
    const { worker_id, base } = parse(IsolateParams, p, 'isolate');
    return isolate(ctx.worktree, worker_id, { base });
  },
  isolate_list: (_p, ctx) => listIsolated(ctx.worktree),
  isolate_cleanup: (p, ctx) => {
    const params = parse(CleanupParams, p, 'isolate_cleanup');
    return cleanup(ctx.worktree, { workers: workers(params), force: params.force, into: params.into });
  },
  merge: (p, ctx) => {
    const params = parse(MergeParams, p, 'merge');
    return merge(ctx.worktree, { workers: workers(params), into: params.into });
  },
};
