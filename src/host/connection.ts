import * as vscode from 'vscode';
import { SocketApi } from '../client/api';
import { defaultSocketPath } from '../protocol/address';
import type { HarnessApi } from '../protocol/api';
import { describeError, ErrorCode, HarnessError } from '../protocol/errors';
import { InProcessApi } from '../server/in-process-api';
import { startClusterService } from '../cluster/service';
import { clusterSettings } from '../cluster/settings';
import { startService, stateDirOf, type CoordinatorService, type ServiceOptions } from '../server/service';
import type { Settings } from '../ui/settings';

/**
 * The coordinator of the workspace folder, started on first need: in this process on the
 * folder's default socket, or, when another coordinator already serves the folder (a second
 * window, a `harness serve`), as a client of it. When that other coordinator goes away, the
 * next use takes over.
 */
export class Connection implements vscode.Disposable {
  private api: HarnessApi | undefined;
  private starting: Promise<HarnessApi> | undefined;
  private disposed = false;
  private readonly changed = new vscode.EventEmitter<HarnessApi | undefined>();
  readonly onDidChange = this.changed.event;

  constructor(
    readonly folder: string,
    private readonly settings: () => Settings,
    private readonly log: vscode.LogOutputChannel,
    /** Worker targets: the coordinator this window runs supervises them, as terminals. */
    private readonly fleet?: ServiceOptions['fleet'],
  ) {}

  get socketPath(): string {
    return defaultSocketPath(this.folder);
  }

  get current(): HarnessApi | undefined {
    return this.api;
  }

  /** The coordinator, starting or joining it if needed. */
  ensure(): Promise<HarnessApi> {
    if (this.api) return Promise.resolve(this.api);
    if (!vscode.workspace.isTrusted) {
      return Promise.reject(
        new HarnessError(ErrorCode.InvalidArgument, 'Agent Harness does not run in Restricted Mode: trust this workspace to start the coordinator.'),
      );
    }
    this.starting ??= this.start().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async start(): Promise<HarnessApi> {
    const started = performance.now();
    let api: HarnessApi;
    try {
      api = await SocketApi.connect(this.socketPath);
      this.log.info(`joined the coordinator already serving ${this.folder} on ${this.socketPath} (client mode)`);
    } catch {
      api = await this.startInProcess();
    }
    if (this.disposed) {
      await api.dispose();
      throw new HarnessError(ErrorCode.Closed, 'the extension is shutting down');
    }
    this.api = api;
    api.onClose(() => {
      if (this.api !== api) return;
      this.log.warn('the coordinator this window was a client of went away; taking over on next use');
      this.api = undefined;
      this.changed.fire(undefined);
      setTimeout(() => !this.disposed && this.ensure().catch((e) => this.log.error(describeError(e))), 250);
    });
    this.log.info(`coordinator ready (${api.mode}) in ${(performance.now() - started).toFixed(0)} ms`);
    this.changed.fire(api);
    return api;
  }

  private async startInProcess(): Promise<HarnessApi> {
    const s = this.settings();
    try {
      const options: ServiceOptions = {
        workspace: this.folder,
        stateDir: s.stateDirectory,
        config: {
          defaultTimeoutSeconds: s.leaseTimeoutSeconds,
          defaultMaxAttempts: s.maxAttempts,
          staleInstanceMs: s.staleInstanceSeconds * 1000,
          instanceLimit: s.instanceLimit,
        },
        log: this.log,
        ...(this.fleet ? { fleet: this.fleet } : {}),
      };
      // The cluster settings (or HARNESS_NATS_URL / HARNESS_CLUSTER, or config.json): this window's
      // coordinator is one of a cluster on NATS JetStream (docs/cluster.md).
      const cluster = clusterSettings(
        { ...(s.natsUrl ? { nats: s.natsUrl } : {}), ...(s.clusterName ? { cluster: s.clusterName } : {}) },
        process.env,
        stateDirOf(this.folder, s.stateDirectory),
        this.folder,
      );
      const service = cluster ? await startClusterService(options, cluster) : await startService(options);
      // A webhook problem (port taken, rules invalid) is reported, but costs the window nothing else.
      if (s.webhookPort > 0 && !cluster) await this.listenForWebhooks(service.webhooks, s.webhookPort);
      return new InProcessApi(service);
    } catch (e) {
      // Another process holds the state (it may be starting its socket right now): join it.
      if (e instanceof HarnessError && e.code === ErrorCode.StateLocked) {
        this.log.info(`${describeError(e)}; connecting to it as a client`);
        return SocketApi.connect(this.socketPath);
      }
      throw e;
    }
  }

  private async listenForWebhooks(webhooks: CoordinatorService['webhooks'], port: number): Promise<void> {
    try {
      await webhooks.listen(port > 0 ? { port } : undefined);
    } catch (e) {
      this.log.error(`webhooks: ${describeError(e)}`);
      void vscode.window.showWarningMessage(`Agent Harness: no webhook listener: ${describeError(e)}`);
    }
  }

  /** Applies changed settings to a coordinator running in this process. */
  reconfigure(): void {
    if (this.api instanceof InProcessApi) {
      const s = this.settings();
      const webhooks = this.api.service.webhooks;
      if ((webhooks.listener?.address.port ?? 0) !== s.webhookPort) void this.listenForWebhooks(webhooks, s.webhookPort);
      this.api.service.coordinator.configure({
        defaultTimeoutSeconds: s.leaseTimeoutSeconds,
        defaultMaxAttempts: s.maxAttempts,
        staleInstanceMs: s.staleInstanceSeconds * 1000,
        instanceLimit: s.instanceLimit,
      });
    }
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const api = this.api ?? (await this.starting?.catch(() => undefined));
    this.api = undefined;
    this.changed.dispose();
    await api?.dispose();
  }
}
