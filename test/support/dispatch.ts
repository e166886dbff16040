// Requests through the real dispatcher, in-process: what the socket does after framing a line.
import type { Coordinator } from '../../src/core/coordinator';
import { silentLogger, type Logger } from '../../src/core/log';
import type { AnyCommand, ParamsOf, ResultOf } from '../../src/protocol/command';
import { dataOf, type Reply } from '../../src/protocol/messages';
import type { ServerContext } from '../../src/server/context';
import { dispatch } from '../../src/server/dispatch';
import { PlanStaging } from '../../src/server/plan-staging';
import { RunRegistry } from '../../src/server/runs';

export interface Dispatcher {
  ctx: ServerContext;
  /** The reply, as the socket would send it. */
  send(command: string, params?: Record<string, unknown>): Promise<Reply>;
  /** A typed call: the result, or the error reply thrown as a HarnessError. */
  call<D extends AnyCommand>(command: D, params: ParamsOf<D>): Promise<ResultOf<D>>;
  /** Like `call`, with parameters the types would refuse (to test the edge's validation). */
  raw(command: AnyCommand | string, params: Record<string, unknown>): Promise<unknown>;
}

export function dispatcher(
  coordinator: Coordinator,
  options: { workspace?: string; stateDir?: string; runsDir?: string; log?: Logger } = {},
): Dispatcher {
  const log = options.log ?? silentLogger;
  const workspace = options.workspace ?? '/work/space';
  const ctx: ServerContext = {
    coordinator,
    runs: options.runsDir ? new RunRegistry(options.runsDir, log) : (undefined as unknown as RunRegistry),
    workspace,
    stateDir: options.stateDir ?? `${workspace}/.harness`,
    staging: new PlanStaging(),
    log,
  };
  const send = (command: string, params: Record<string, unknown> = {}) => dispatch(command, params, ctx);
  return {
    ctx,
    send,
    call: async (command, params) => dataOf(await send(command.name, params as Record<string, unknown>)) as never,
    raw: async (command, params) => dataOf(await send(typeof command === 'string' ? command : command.name, params)),
  };
}
