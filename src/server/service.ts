import * as path from 'node:path';
import { systemClock, type Clock } from '../core/clock';
import { Coordinator, DEFAULT_CONFIG, type CoordinatorConfig } from '../core/coordinator';
import { describeError } from '../core/errors';
import { blockingFileOps, type FileOps } from '../core/files';
import type { Logger } from '../core/log';
import { FileStore } from '../core/file-store';
import { readHarnessConfig } from '../config/harness';
import type { Disposable } from '../core/events';
import { defaultSocketPath } from '../protocol/address';
import { isolate } from '../isolation';
import type { Reply } from '../protocol/messages';
import { Webhooks, type ListenOptions } from '../webhooks';
import { ProcessLauncher, type WorkerLauncher } from './fleet/launcher';
import { Supervisor } from './fleet/supervisor';
import type { ServerContext } from './context';
import { PlanStaging } from './plan-staging';
import { watchForRecovery } from './recovery';
import { RunRegistry } from './runs';
import { HarnessServer } from './server';

/** The state directory when none is configured, relative to the workspace. */
export const DEFAULT_STATE_DIR = '.harness';

export interface ServiceOptions {
  /** The workspace folder to coordinate. */
  workspace: string;
  socketPath?: string;
  /** Defaults to `<workspace>/.harness`; a relative path is taken from the workspace. */
  stateDir?: string;
  config?: Partial<CoordinatorConfig>;
  /** How often stale instances and expired leases are looked for. */
  sweepIntervalMs?: number;
  log: Logger;
  clock?: Clock;
  /** The store's file layer; tests inject faults (disk full, write errors) through it. */
  files?: FileOps;
  /**
   * Flush the journal on the event loop (files.ts blockingFileOps): faster, and right for a process
   * that serves nothing else (`harness serve`); never in the VS Code extension host.
   */
  blockingFlush?: boolean;
  /** Listen for webhooks (off when absent); the rules are in `.harness/config.json`. */
  webhooks?: ListenOptions;
  /**
   * Supervise worker targets (off when absent): how to run the harness CLI for a worker, and how
   * to start one (default: child processes, their output in the run logs).
   */
  fleet?: { harness: { argv: string[]; env?: Record<string, string> }; launcher?: WorkerLauncher; tickMs?: number };
}

export interface CoordinatorService {
  coordinator: Coordinator;
  runs: RunRegistry;
  server: HarnessServer;
  /** What every request runs with: the socket server's and the in-process API's. */
  context: Omit<ServerContext, 'signal' | 'subscribe'>;
  workspace: string;
  socketPath: string;
  stateDir: string;
  /** The webhook listener (when asked for) and the completion hook. */
  webhooks: Webhooks;
  /** The supervisor of worker targets, when asked for. */
  supervisor: Supervisor | undefined;
  /**
   * A coordinator that answers through something else than its own dispatcher (one of a cluster:
   * the leader answers): how a command is answered and where its events come from. Absent: here.
   */
  route?: {
    send(command: string, params: Record<string, unknown>): Promise<Reply>;
    onEvent(listener: (name: string, data: unknown) => void): Disposable;
  };
  close(): Promise<void>;
}

/** The state directory of a workspace, from the setting or flag (relative to the workspace). */
export function stateDirOf(workspace: string, stateDir = DEFAULT_STATE_DIR): string {
  return path.resolve(workspace, stateDir);
}

/**
 * The coordinator of one workspace on its socket: what `harness serve` runs, and what the
 * extension runs in-process. Opening the store takes the state directory's lock, so a second
 * service on the same workspace fails with a clear error instead of corrupting it.
 */
export async function startService(options: ServiceOptions): Promise<CoordinatorService> {
  const workspace = path.resolve(options.workspace);
  const stateDir = stateDirOf(workspace, options.stateDir);
  const socketPath = options.socketPath ?? defaultSocketPath(workspace);
  const { log } = options;
  // A bad config.json is a clear error now, not a surprise at the first stale worker or isolate.
  readHarnessConfig(stateDir);
  const store = await FileStore.open({
    dir: stateDir,
    log: (level, message) => log[level](message),
    ...(options.files ? { files: options.files } : options.blockingFlush ? { files: blockingFileOps } : {}),
  });
  log.info(
    `opened ${stateDir} in ${store.stats.open_ms.toFixed(1)} ms (snapshot ${store.stats.snapshot_bytes} bytes, ` +
      `${store.stats.journal_records} journal records replayed)`,
  );
  const coordinator = new Coordinator(store, { ...DEFAULT_CONFIG, ...options.config }, options.clock ?? systemClock, (e) =>
    log.error(`event listener failed: ${describeError(e)}`),
  );
  const runs = new RunRegistry(path.join(stateDir, 'runs'), log);
  const supervisor = options.fleet
    ? new Supervisor({
        coordinator,
        launcher: options.fleet.launcher ?? new ProcessLauncher(runs),
        harness: options.fleet.harness,
        socketPath,
        workspace,
        log,
        ...(options.clock ? { clock: options.clock } : {}),
        ...(options.fleet.tickMs ? { tickMs: options.fleet.tickMs } : {}),
        isolate: async (workerId) => {
          const config = readHarnessConfig(stateDir).isolation;
          const { cwd, env } = await isolate(workspace, workerId, { stateDir, ...(config ? { config } : {}) });
          return { cwd, env };
        },
        readConfig: () => {
          const c = readHarnessConfig(stateDir);
          return { targets: c.targets ?? {}, budgets: c.budgets ?? {}, prices: c.usage?.prices ?? {} };
        },
      })
    : undefined;
  const context = { coordinator, runs, workspace, stateDir, staging: new PlanStaging(), log, supervisor };
  const server = new HarnessServer({ socketPath, context });
  try {
    await server.listen();
  } catch (e) {
    await coordinator.close();
    throw e;
  }
  const webhooks = new Webhooks({
    coordinator,
    workspace,
    settings: () => readHarnessConfig(stateDir).webhooks,
    log,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  try {
    await webhooks.listen(options.webhooks);
  } catch (e) {
    await webhooks.close();
    await server.close();
    await coordinator.close();
    throw e;
  }
  const recovery = watchForRecovery(coordinator, { workspace, stateDir }, log);
  // After the socket listens: workers it starts (or adopts) connect at once.
  supervisor?.start();
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
    context,
    workspace,
    socketPath,
    stateDir,
    webhooks,
    supervisor,
    close: () =>
      (closing ??= (async () => {
        clearInterval(timer);
        recovery.dispose();
        // While the socket still listens: stopped workers release their tasks and deregister.
        await supervisor?.close().catch((e) => log.error(`stopping the workers: ${describeError(e)}`));
        await webhooks.close();
        await server.close();
        await coordinator.close();
      })()),
  };
}
