import type { HandlersOf } from '../../protocol/command';
import { META_COMMANDS, PROTOCOL_VERSION } from '../../protocol/meta';
import { RUN_COMMANDS } from '../../protocol/runs';
import { ErrorCode, HarnessError } from '../../protocol/errors';
import type { ServerContext } from '../context';

export const RUN_HANDLERS: HandlersOf<typeof RUN_COMMANDS, ServerContext> = {
  run_start: (p, ctx) => ({ run: ctx.runs.start(p) }),
  run_output: ({ run_id, stream, data }, ctx) => {
    ctx.runs.output(run_id, stream, data);
    return {};
  },
  run_finish: ({ run_id, result }, ctx) => ({ run: ctx.runs.finish(run_id, result) }),
  run_list: (_p, ctx) => ({ runs: ctx.runs.list() }),
  run_log: ({ run_id }, ctx) => ctx.runs.output_log(run_id),
};

export const META_HANDLERS: HandlersOf<typeof META_COMMANDS, ServerContext> = {
  ping: (_p, ctx) => ({ pong: true, protocol: PROTOCOL_VERSION, pid: process.pid, workspace: ctx.workspace, state_dir: ctx.stateDir, worktree: ctx.workspace }),
  subscribe: ({ events }, ctx) => {
    if (!ctx.subscribe) throw new HarnessError(ErrorCode.InvalidArgument, 'subscribe needs a socket connection');
    ctx.subscribe(events);
    return { subscribed: true };
  },
};
