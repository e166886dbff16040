// Talking to a cluster without a coordinator on this host (`harness --nats URL --cluster NAME ...`,
// or HARNESS_NATS_URL and HARNESS_CLUSTER): a gateway in the client's own process, on a private
// socket, forwards each request line to whichever coordinator leads and delivers the cluster's
// events to subscribers. The CLI's commands (and `harness work`, `harness watch`) then run as
// they do against a local coordinator, through that socket. No state is kept here.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Coordinator } from '../core/coordinator';
import type { Logger } from '../core/log';
import { ErrorCode, HarnessError } from '../protocol/errors';
import { ISOLATION_COMMANDS } from '../protocol/isolation';
import { paramsOf, type EventLine, type Reply, type RequestId } from '../protocol/messages';
import { Subscribe } from '../protocol/meta';
import { parse } from '../protocol/validate';
import type { ServerContext } from '../server/context';
import { PlanStaging } from '../server/plan-staging';
import { RunRegistry } from '../server/runs';
import { HarnessServer } from '../server/server';
import { connectNats, describeNatsError, payloadLimit } from './connection';
import { ClusterEvents } from './events';
import { LeaderWatch } from './leader-watch';
import { clusterNames, type ClusterNames } from './names';
import { forwardLine } from './forward';
import { nats } from './nats-loader';
import { RpcClient } from './rpc';
import { describeSettings, type ClusterSettings } from './settings';

/** Per host: a worktree lives where it was made, so these go through that host's coordinator. */
const HOST_ONLY = new Set<string>(ISOLATION_COMMANDS.map((c) => c.name));

export interface Gateway {
  socketPath: string;
  close(): Promise<void>;
}

function refusal(id: RequestId, code: string, message: string): Reply {
  return { status: 'error', code, message, ...(id === undefined ? {} : { id }) };
}

/** Opens the cluster's leader bucket (read only): missing means no coordinator of it ever started. */
async function leaderWatch(nc: NatsConnection, names: ClusterNames, settings: ClusterSettings) {
  let kv;
  try {
    kv = await new (nats().Kvm)(nc).open(names.leaderBucket);
    await kv.status();
  } catch (e) {
    throw new HarnessError(
      ErrorCode.Closed,
      `no coordinator of ${describeSettings(settings)} has started (${describeNatsError(e)}): start one with \`harness serve --nats URL --cluster ${names.cluster}\``,
      { cluster: names.cluster },
    );
  }
  return new LeaderWatch(kv, Math.max(100, settings.leaderTtlMs / 10));
}

export async function startGateway(settings: ClusterSettings, options: { workspace: string; log: Logger }): Promise<Gateway> {
  const names = clusterNames(settings.cluster);
  const nc = await connectNats(settings, `harness client ${os.hostname()} ${process.pid}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'harness-gw-'));
  let server: HarnessServer | undefined;
  let watch: LeaderWatch | undefined;
  const close = async () => {
    await server?.close();
    watch?.close();
    await nc.drain().catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    watch = await leaderWatch(nc, names, settings);
    await watch.start();
    const limit = payloadLimit(nc);
    const rpc = new RpcClient(nc, names, limit, watch);
    const events = new ClusterEvents(nc, names, limit);
    // What the server needs for lines it answers itself; this gateway answers none with a coordinator.
    const context: Omit<ServerContext, 'signal' | 'subscribe'> = {
      coordinator: undefined as unknown as Coordinator,
      runs: new RunRegistry(path.join(dir, 'runs'), options.log),
      workspace: options.workspace,
      stateDir: dir,
      staging: new PlanStaging(),
      log: options.log,
    };
    const dispatch = async (line: string, ctx: ServerContext): Promise<Reply | EventLine | undefined> => {
      let head: { command?: unknown; id?: unknown } | undefined;
      try {
        head = JSON.parse(line) as { command?: unknown; id?: unknown };
      } catch {
        head = undefined;
      }
      const id = typeof head?.id === 'string' || typeof head?.id === 'number' ? head.id : undefined;
      if (head?.command === 'subscribe') {
        const { events: wanted } = parse(Subscribe.params, paramsOf(head as Record<string, unknown>), 'subscribe');
        ctx.subscribe!(wanted);
        return { status: 'ok', data: { subscribed: true }, ...(id === undefined ? {} : { id }) };
      }
      if (typeof head?.command === 'string' && HOST_ONLY.has(head.command)) {
        return refusal(id, ErrorCode.InvalidArgument, `${head.command} works on one host's repository: run it through that host's coordinator (its socket), not through --nats`);
      }
      return forwardLine(rpc, line, options.workspace, ctx.signal);
    };
    server = new HarnessServer({ socketPath: path.join(dir, 'gw.sock'), context, dispatch, events: (forward) => events.onAny(forward) });
    await server.listen();
    return { socketPath: path.join(dir, 'gw.sock'), close };
  } catch (e) {
    await close();
    throw e;
  }
}
