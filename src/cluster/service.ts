import * as path from 'node:path';
import { readHarnessConfig } from '../config/harness';
import type { Coordinator } from '../core/coordinator';
import type { Disposable } from '../core/events';
import { prepareStateDirectory } from '../core/state-dir';
import { acquireStateLock } from '../core/state-lock';
import { defaultSocketPath } from '../protocol/address';
import { ErrorCode, HarnessError } from '../protocol/errors';
import type { ServerContext } from '../server/context';
import { PlanStaging } from '../server/plan-staging';
import { watchForRecovery } from '../server/recovery';
import { RunRegistry } from '../server/runs';
import { HarnessServer } from '../server/server';
import { stateDirOf, type CoordinatorService, type ServiceOptions } from '../server/service';
import { Webhooks } from '../webhooks';
import { ClusterNode } from './node';
import type { ClusterSettings } from './settings';

export interface ClusterService extends CoordinatorService {
  cluster: ClusterNode;
}

/**
 * A coordinator that is one node of a cluster (cluster/node.ts): its state comes from the
 * cluster's JetStream log, not the state directory, which keeps this host's own things (the lock
 * that makes it the workspace's only coordinator, config.json, exec run logs). The socket is the
 * same; what it receives is answered by the cluster's leader.
 */
export async function startClusterService(options: ServiceOptions, settings: ClusterSettings): Promise<ClusterService> {
  const workspace = path.resolve(options.workspace);
  const stateDir = stateDirOf(workspace, options.stateDir);
  const socketPath = options.socketPath ?? defaultSocketPath(workspace);
  const { log } = options;
  if (options.webhooks) {
    // The intake adds tasks through the coordinator in this process, which leads only some of the time.
    throw new HarnessError(ErrorCode.InvalidArgument, 'webhooks (--webhook-port) are not available in cluster mode yet: take them on a coordinator of its own');
  }
  prepareStateDirectory(stateDir);
  const targets = Object.keys(readHarnessConfig(stateDir).targets ?? {});
  if (targets.length > 0) log.warn(`worker targets are not run in cluster mode yet (${targets.join(', ')} in config.json): run them on a coordinator of its own`);
  const lock = acquireStateLock(stateDir);
  const runs = new RunRegistry(path.join(stateDir, 'runs'), log);
  let recovery: Disposable | undefined;
  let webhooks: Webhooks | undefined;
  let node: ClusterNode;
  try {
    node = await ClusterNode.start({
      settings,
      workspace,
      stateDir,
      runs,
      log,
      ...(options.config ? { config: options.config } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.sweepIntervalMs ? { sweepIntervalMs: options.sweepIntervalMs } : {}),
      // The recovery hook and the completion hook run where the coordinator that saw the event
      // runs: both follow this node's coordinator, whose events only leading makes.
      onCoordinator: (coordinator) => {
        recovery?.dispose();
        recovery = watchForRecovery(coordinator, { workspace, stateDir }, log);
        void webhooks?.close();
        webhooks = new Webhooks({
          coordinator,
          workspace,
          settings: () => readHarnessConfig(stateDir).webhooks,
          log,
          ...(options.clock ? { clock: options.clock } : {}),
        });
      },
    });
  } catch (e) {
    lock.release();
    throw e;
  }
  // Exec runs stay on the host that runs them; their events go to viewers anywhere.
  const runEvents = runs.events.onAny((name, data) => node.events.publish(name, data));
  const context: Omit<ServerContext, 'signal' | 'subscribe'> = {
    get coordinator(): Coordinator {
      return node.coordinator;
    },
    runs,
    workspace,
    stateDir,
    staging: new PlanStaging(),
    log,
  };
  const server = new HarnessServer({
    socketPath,
    context,
    dispatch: (line, ctx) => node.dispatch(line, ctx),
    events: (forward) => node.onEvent(forward),
  });
  const stop = async () => {
    runEvents.dispose();
    recovery?.dispose();
    await webhooks?.close();
    await node.close();
    lock.release();
  };
  try {
    await server.listen();
  } catch (e) {
    await stop();
    throw e;
  }
  let closing: Promise<void> | undefined;
  return {
    get coordinator(): Coordinator {
      return node.coordinator;
    },
    runs,
    server,
    context,
    workspace,
    socketPath,
    stateDir,
    // Worker targets are run by a coordinator of its own, not yet by a cluster's (docs/cluster.md).
    supervisor: undefined,
    cluster: node,
    // The window's own API (in-process) goes where the socket's requests go: to the leader.
    route: {
      async send(command, params) {
        const answer = await node.dispatch(JSON.stringify({ ...params, command }), { ...context });
        if (answer && 'status' in answer) return answer;
        // A notification answered nothing (ok) or an event telling its refusal.
        const failed = answer?.data as { code?: string; message?: string } | undefined;
        return failed ? { status: 'error', code: failed.code ?? 'INTERNAL', message: failed.message ?? 'refused' } : { status: 'ok', data: {} };
      },
      onEvent: (listener) => node.onEvent(listener),
    },
    get webhooks(): Webhooks {
      return webhooks!;
    },
    close: () =>
      (closing ??= (async () => {
        await server.close();
        await stop();
      })()),
  };
}
