import * as path from 'node:path';
import { systemClock, type Clock } from '../core/clock';
import { Coordinator, DEFAULT_CONFIG, type CoordinatorConfig } from '../core/coordinator';
import { describeError } from '../core/errors';
import type { FileOps } from '../core/files';
import type { Logger } from '../core/log';
import { FileStore } from '../core/file-store';
import { Webhooks, type ListenOptions } from '../webhooks';
import type { ClusterSettings } from '../cluster/settings';
import { startClusterService } from './cluster-service';
import { watchForRecovery } from './recovery';
import { RunRegistry } from './runs';
import { HarnessServer } from './server';
import { defaultSocketPath } from './socket-path';

export interface ServiceOptions {
  worktree: string;
  socketPath?: string;
  /** Defaults to `<worktree>/.harness`. */
  stateDir?: string;
  config?: Partial<CoordinatorConfig>;
  /** How often stale instances and expired leases are looked for. */
  sweepIntervalMs?: number;
  log: Logger;
  clock?: Clock;
  /** The store's file layer; tests inject faults (disk full, write errors) through it. */
  files?: FileOps;
  /** Listen for webhooks (off when absent); the rules are in `.harness/config.json`. */
  webhooks?: ListenOptions;
  /** Run as one coordinator of a cluster on NATS JetStream (cluster-service.ts) instead of on the state directory. */
  cluster?: ClusterSettings;
}

export interface CoordinatorService {
  coordinator: Coordinator;
  runs: RunRegistry;
  server: HarnessServer;
  worktree: string;
  socketPath: string;
  stateDir: string;
  /** The webhook listener (when asked for) and the completion hook. */
  webhooks: Webhooks;
  close(): Promise<void>;
}

/**
 * The coordinator of one workspace on its socket: what `harness serve` runs, and what the
 * extension runs in-process. Opening the store takes the state directory's lock, so a second
 * service on the same workspace fails with a clear error instead of corrupting it.
 */
export async function startService(options: ServiceOptions): Promise<CoordinatorService> {
  if (options.cluster) return startClusterService(options, options.cluster);
  const worktree = path.resolve(options.worktree);
  const stateDir = path.resolve(worktree, options.stateDir ?? '.harness');
  const socketPath = options.socketPath ?? defaultSocketPath(worktree);
  const { log } = options;
  const store = await FileStore.open({
    dir: stateDir,
    log: (level, message) => log[level](message),
    ...(options.files ? { files: options.files } : {}),
  });
  log.info(
    `opened ${stateDir} in ${store.stats.open_ms.toFixed(1)} ms (snapshot ${store.stats.snapshot_bytes} bytes, ` +
      `${store.stats.journal_records} journal records replayed)`,
  );
  const coordinator = new Coordinator(store, { ...DEFAULT_CONFIG, ...options.config }, options.clock ?? systemClock, (e) =>
    log.error(`event listener failed: ${describeError(e)}`),
  );
  const runs = new RunRegistry(path.join(stateDir, 'runs'), log);
  const server = new HarnessServer({ socketPath, worktree, coordinator, runs, log });
  try {
    await server.listen();
  } catch (e) {
    await coordinator.close();
    throw e;
  }
  const webhooks = new Webhooks({ coordinator, worktree, log, ...(options.clock ? { clock: options.clock } : {}) });
  try {
    await webhooks.listen(options.webhooks);
  } catch (e) {
    await webhooks.close();
    await server.close();
    await coordinator.close();
    throw e;
  }
  const recovery = watchForRecovery(coordinator, worktree, log);
  const interval = options.sweepIntervalMs ?? Math.min(5000, coordinator.settings.staleInstanceMs / 4);
  let sweeping = false;
  const timer = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    coordinator
      .sweep()
      .then((r) => r.stale.length > 0 && log.warn(`instances gone stale, leases freed: ${r.stale.join(', ')}`))
      .catch((e) => log.error(`sweep failed: ${describeError(e)}`))
      .finally(() => (sweeping = false));
  }, interval);
  timer.unref();
  let closing: Promise<void> | undefined;
  return {
    coordinator,
    runs,
    server,
    worktree,
    socketPath,
    stateDir,
    webhooks,
    close: () =>
      (closing ??= (async () => {
        clearInterval(timer);
        recovery.dispose();
        await webhooks.close();
        await server.close();
        await coordinator.close();
      })()),
  };
}
