import * as path from 'node:path';
import type { Coordinator } from '../core/coordinator';
import type { Disposable } from '../core/events';
import { prepareStateDirectory } from '../core/state-dir';
import { acquireStateLock } from '../core/state-lock';
import type { ClusterSettings } from '../cluster/settings';
import { ClusterNode } from '../cluster/node';
import { ErrorCode, HarnessError } from '../core/errors';
import { Webhooks } from '../webhooks';
import { watchForRecovery } from './recovery';
import { RunRegistry } from './runs';
import { HarnessServer } from './server';
import type { CoordinatorService, ServiceOptions } from './service';
import { defaultSocketPath } from './socket-path';

export interface ClusterService extends CoordinatorService {
  cluster: ClusterNode;
}

/**
 * A coordinator that is one node of a cluster (cluster/node.ts): its state comes from the
 * cluster's JetStream log, not the state directory, which keeps this host's own things (the lock
 * that makes it the workspace's only coordinator, exec run logs). The socket is the same; what it
 * receives is answered by the cluster's leader.
 */
export async function startClusterService(options: ServiceOptions, settings: ClusterSettings): Promise<ClusterService> {
  const worktree = path.resolve(options.worktree);
  const stateDir = path.resolve(worktree, options.stateDir ?? '.harness');
  const socketPath = options.socketPath ?? defaultSocketPath(worktree);
  const { log } = options;
  if (options.webhooks) {
    // The intake adds tasks through the coordinator in this process, which leads only some of the time.
    throw new HarnessError(ErrorCode.InvalidArgument, 'webhooks (--webhook-port) are not available in cluster mode yet: take them on a coordinator of its own');
  }
  prepareStateDirectory(stateDir);
  const lock = acquireStateLock(stateDir);
  const runs = new RunRegistry(path.join(stateDir, 'runs'), log);
  let recovery: Disposable | undefined;
  let webhooks: Webhooks | undefined;
  let node: ClusterNode;
  try {
    node = await ClusterNode.start({
      settings,
      worktree,
      runs,
      log,
      ...(options.config ? { config: options.config } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.sweepIntervalMs ? { sweepIntervalMs: options.sweepIntervalMs } : {}),
      // The recovery hook runs where the coordinator that saw the worker go stale runs: the leader.
      // So does the completion hook: both follow the events of this node's coordinator, which only leading makes.
      onCoordinator: (coordinator) => {
        recovery?.dispose();
        recovery = watchForRecovery(coordinator, worktree, log);
        void webhooks?.close();
        webhooks = new Webhooks({ coordinator, worktree, log, ...(options.clock ? { clock: options.clock } : {}) });
      },
    });
  } catch (e) {
    lock.release();
    throw e;
  }
  // Exec runs stay on the host that runs them; their events go to viewers anywhere.
  const runEvents = runs.events.onAny((name, data) => node.events.publish(name, data));
  const server = new HarnessServer({
    socketPath,
    worktree,
    coordinator: node.coordinator,
    runs,
    log,
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
    worktree,
    socketPath,
    stateDir,
    cluster: node,
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
