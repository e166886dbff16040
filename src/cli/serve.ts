import * as path from 'node:path';
import { describeError } from '../protocol/errors';
import { stderrLogger } from '../protocol/log';
import { EVENT_NAMES, isEventName, type EventName } from '../protocol/events';
import type { EventLine } from '../protocol/messages';
import { startClusterService, type ClusterService } from '../cluster/service';
import { startService, stateDirOf, type CoordinatorService, type ServiceOptions } from '../server/service';
import { DURATIONS, list, secondsOf } from './args';
import type { CliCommand } from './commands';
import { reconnectingClient, UsageError, workspaceOption } from './context';
import { clusterSettingsOf } from './direct';
import { takeEarlySignal } from './early-signals';
import { isText, printError } from './output';

const SERVE =
  'harness serve [--workspace DIR] [--socket PATH] [--state-dir DIR] [--instance-limit N] [--stale-timeout S] [--webhook-port P [--webhook-host H]] [--nats URL --cluster NAME] [--verbose]';

/** `--webhook-port P` (0: any free port, printed in the ready line) and `--webhook-host H`. */
function webhookOptions(v: Record<string, unknown>): { port: number; host?: string } | undefined {
  const port = v['webhook-port'] as string | undefined;
  const host = v['webhook-host'] as string | undefined;
  if (port === undefined) {
    if (host !== undefined) throw new UsageError('--webhook-host needs --webhook-port', SERVE);
    return undefined;
  }
  if (!/^\d+$/.test(port) || Number(port) > 65535) throw new UsageError(`--webhook-port must be a port number (0-65535), got ${JSON.stringify(port)}`, SERVE);
  if (host !== undefined && host.trim() === '') throw new UsageError('--webhook-host must not be empty', SERVE);
  return { port: Number(port), ...(host !== undefined ? { host } : {}) };
}

export const SERVE_COMMAND: CliCommand = {
  name: 'serve',
  usage: SERVE,
  summary: 'run the coordinator of a workspace on its socket (headless)',
  options: {
    workspace: { type: 'string' },
    /** Deprecated name of --workspace, kept because scripts use it. */
    worktree: { type: 'string' },
    'state-dir': { type: 'string' },
    'instance-limit': { type: 'string' },
    'webhook-port': { type: 'string' },
    'webhook-host': { type: 'string' },
    nats: { type: 'string' },
    cluster: { type: 'string' },
    verbose: { type: 'boolean' },
  },
  durations: { 'stale-timeout': DURATIONS.staleTimeout },
  async run(v, _p, o, io) {
    const workspace = workspaceOption(v, io, SERVE);
    const log = stderrLogger('harness serve', v.verbose === true);
    const config: Record<string, number> = {};
    const limit = v['instance-limit'] as string | undefined;
    if (limit !== undefined) {
      if (!/^\d+$/.test(limit)) throw new UsageError(`--instance-limit must be a whole number, got ${JSON.stringify(limit)}`, SERVE);
      config.instanceLimit = Number(limit);
    }
    const stale = secondsOf(v, 'stale-timeout');
    if (stale !== undefined) config.staleInstanceMs = stale * 1000;
    const webhooks = webhookOptions(v);
    // --nats/--cluster (or HARNESS_NATS_URL/HARNESS_CLUSTER, or config.json's cluster section): one coordinator of a cluster.
    const cluster = clusterSettingsOf(
      { nats: v.nats as string | undefined, cluster: v.cluster as string | undefined },
      io.env,
      stateDirOf(workspace, v['state-dir'] as string | undefined),
      workspace,
    );
    // Listening for the signals before anything else: one that comes while the state is being
    // opened, or between the ready line and the wait below, is a clean stop too, never a death.
    let stopping: string | undefined;
    let wake = () => {};
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) return log.info(`${signal}: already stopping`);
      stopping = signal;
      log.info(`${signal}: finishing in-flight requests and shutting down`);
      wake();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // A signal that came while the CLI was loading: nothing is open yet, and nothing is left to close.
    const early = (await takeEarlySignal()) ?? stopping;
    if (early) {
      log.info(`${early}: stopped before opening the state of ${workspace}`);
      return 0;
    }
    log.info(`opening the state of ${workspace}`);
    let service: CoordinatorService;
    try {
      const options: ServiceOptions = {
        workspace,
        ...(o.socket || io.env.HARNESS_SOCKET ? { socketPath: o.socket || io.env.HARNESS_SOCKET } : {}),
        ...(v['state-dir'] ? { stateDir: v['state-dir'] as string } : {}),
        // This process serves nothing else: flushing on the event loop blocks no one (files.ts).
        blockingFlush: true,
        // Worker targets: each worker is this same CLI's `harness work`.
        fleet: { harness: { argv: [process.execPath, require.main?.filename ?? process.argv[1]!] } },
        config,
        log,
        ...(webhooks ? { webhooks } : {}),
      };
      service = cluster ? await startClusterService(options, cluster) : await startService(options);
    } catch (e) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      return printError(e, io, o);
    }
    // Opening runs without a turn of the event loop; give a signal that came meanwhile one.
    await new Promise(setImmediate);
    if (!stopping) {
      const listener = service.webhooks.listener?.address;
      // `worktree` repeats `workspace` under its old name for scripts that read it.
      const node = (service as Partial<ClusterService>).cluster;
      const cluster = node ? { cluster: node.names.cluster, node: node.id } : {};
      const ready = { ready: true, socket: service.socketPath, pid: process.pid, workspace, worktree: workspace, ...cluster, ...(listener ? { webhook: listener } : {}) };
      io.stdout(isText(o) ? `serving ${workspace} on ${service.socketPath} (pid ${process.pid})\n` : JSON.stringify({ status: 'ok', data: ready }) + '\n');
      log.info(`serving ${workspace} on ${service.socketPath}`);
      await new Promise<void>((resolve) => (wake = resolve));
    }
    await service.close();
    log.info('stopped');
    // The listeners stay until the process is gone (they do not keep it alive): a signal during
    // the last steps of exiting changes nothing.
    return 0;
  },
};

const WATCH = 'harness watch [--event NAME]... [--format json]';

export const WATCH_COMMAND: CliCommand = {
  name: 'watch',
  usage: WATCH,
  summary: 'follow coordinator events as they happen',
  options: { event: { type: 'string', multiple: true } },
  async run(v, _p, o, io) {
    const events = list(v, 'event');
    const unknown = events?.find((e) => !isEventName(e));
    if (unknown !== undefined) throw new UsageError(`unknown event ${JSON.stringify(unknown)}; events are ${EVENT_NAMES.join(', ')}`, WATCH);
    const json = o.format === 'json';
    const say = (line: string) => io.stderr(`harness: ${line}\n`);
    // Subscribed again on every connection: a coordinator that restarts is followed on.
    let watching = false;
    // Quiet until watching: no coordinator at the start is one error below, not a reconnect.
    const client = reconnectingClient(o, io, (line) => watching && say(line), {
      onConnect: (c) => c.subscribe(events as EventName[] | undefined, (e) => io.stdout(json ? JSON.stringify(e) + '\n' : describeEvent(e))),
    });
    let stopped = false;
    const stop = () => {
      stopped = true;
      client.stopReconnecting();
      client.close();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      // No coordinator at the start is an error (a wrong socket), not something to wait out.
      let connection = await client.current(2000);
      say(`watching ${client.socketPath} (Ctrl+C to stop)`);
      watching = true;
      for (;;) {
        const c = connection;
        await new Promise<void>((resolve) => {
          c.onClose(() => resolve());
          if (c.closed) resolve();
        });
        if (stopped) return 0;
        say('the coordinator went away; reconnecting (events until then are missed)…');
        connection = await client.current();
        say(`watching ${client.socketPath} again`);
      }
    } catch (e) {
      if (stopped) return 0;
      say(describeError(e));
      return 1;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      client.close();
    }
  },
};

/** One line a person can read for an event. */
export function describeEvent(e: EventLine): string {
  const d = e.data as Record<string, any>;
  const time = e.ts.slice(11, 23);
  const t = d.task as { id: string; claimed_by: string | null; attempts: number; max_attempts: number; error: string | null } | undefined;
  switch (e.event) {
    case 'task:added':
      return `${time} added     ${(d.tasks as Array<{ id: string }>).map((x) => x.id).join(', ')}\n`;
    case 'task:claimed':
      return `${time} claimed   ${t!.id} by ${d.worker_id}${d.is_reclaim ? ' (reclaimed)' : d.is_retry ? ' (again)' : ''} attempt ${t!.attempts}/${t!.max_attempts}\n`;
    case 'task:completed':
      return `${time} completed ${t!.id} by ${t!.claimed_by}\n`;
    case 'task:failed':
      return `${time} failed    ${t!.id}: ${t!.error}${d.will_retry ? ' (will retry)' : ''}\n`;
    case 'task:dead_letter':
      return `${time} dead      ${t!.id}: ${t!.error}\n`;
    case 'instance:registered':
      return `${time} worker    ${d.instance.worker_id} registered\n`;
    case 'instance:stale':
      return `${time} stale     ${d.instance.worker_id}${d.freed_tasks.length ? `, freed ${d.freed_tasks.join(', ')}` : ''}\n`;
    case 'cluster:leader':
      return `${time} leader    ${d.leader.host} (pid ${d.leader.pid}) leads cluster ${d.cluster}\n`;
    default:
      return `${time} ${e.event.padEnd(9)} ${t ? t.id : JSON.stringify(d).slice(0, 200)}\n`;
  }
}
