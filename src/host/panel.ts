import * as vscode from 'vscode';
import type { Disposable, HarnessApi } from '../protocol/api';
import { describeError } from '../protocol/errors';
import { InstanceList } from '../protocol/instances';
import type { Logger } from '../protocol/log';
import { RunList, RunLog } from '../protocol/runs';
import { type RunLogMessage, type Scope, type StateMessage, type TaskAction, type TaskActionMessage, parseWebviewMessage } from '../protocol/webview';
import { CommandId } from '../ui/ids';
import { PanelOutbox, type StateTimings } from '../ui/outbox';
import { makeNonce, renderPanelHtml } from '../ui/panel-html';
import { taskState, toRunLogMessage, toStateMessage } from '../ui/panel-state';
import type { TaskCache } from '../ui/task-cache';

/** Webview log lines taken from one panel; a webview failing in a loop must not flood the log. */
const MAX_WEBVIEW_LOGS = 200;
/** The webview ticks heartbeat ages itself; this corrects them now and then, while visible. */
const PERIODIC_REFRESH_MS = 5000;
/** The panel's actions are the commands the tree rows run: one implementation, one error path. */
const ACTION_COMMANDS: Record<TaskAction, string> = {
  complete: CommandId.completeTask,
  fail: CommandId.failTask,
  release: CommandId.releaseTask,
  retry: CommandId.retryTask,
  cancel: CommandId.cancelTask,
};
export const PANEL_TITLE = 'Task Graph';

/**
 * The task graph panel: the graph (or the summary of a big plan), the selected task's details,
 * workers, runs and live run output in one webview. One per window. The host logic (what to
 * post, when) lives in PanelOutbox; this class wires it to VS Code, the HarnessApi and the
 * TaskCache the tasks come from.
 */
export class CoordinationPanel implements vscode.Disposable {
  static readonly viewType = 'agentHarness.panel';
  /** The open panel, if any. */
  static current: CoordinationPanel | undefined;

  private api: HarnessApi | undefined;
  private eventSub: Disposable | undefined;
  private readonly outbox: PanelOutbox;
  private readonly subscriptions: vscode.Disposable[] = [];
  private webviewLogs = 0;
  private disposed = false;
  /** The part of a big plan the webview asked to see. */
  private scope: Scope | null = null;
  private readonly cacheSub: { dispose(): void };

  /** Opens the panel, or reveals it (and takes `api`) when it is open already. */
  static show(context: vscode.ExtensionContext, api: HarnessApi | undefined, cache: TaskCache, log: Logger): CoordinationPanel {
    const open = CoordinationPanel.current;
    if (open) {
      open.setApi(api);
      open.panel.reveal();
      return open;
    }
    const panel = vscode.window.createWebviewPanel(CoordinationPanel.viewType, PANEL_TITLE, vscode.ViewColumn.Active, {
      ...webviewOptions(context.extensionUri),
      // The webview is rebuilt from the host's state when shown again (ready → replay), which
      // costs less than keeping a hidden DOM of thousands of output lines alive.
      retainContextWhenHidden: false,
    });
    CoordinationPanel.current = new CoordinationPanel(panel, context.extensionUri, api, cache, log);
    return CoordinationPanel.current;
  }

  /**
   * Takes over a panel VS Code restored after a window reload: for a WebviewPanelSerializer
   * registered under `viewType` (with `onWebviewPanel:agentHarness.panel` activation). The
   * webview keeps its own state (the selected run) through vscode.setState.
   */
  static revive(panel: vscode.WebviewPanel, context: vscode.ExtensionContext, api: HarnessApi | undefined, cache: TaskCache, log: Logger): CoordinationPanel {
    CoordinationPanel.current?.dispose();
    panel.webview.options = webviewOptions(context.extensionUri);
    panel.title = PANEL_TITLE;
    CoordinationPanel.current = new CoordinationPanel(panel, context.extensionUri, api, cache, log);
    return CoordinationPanel.current;
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    api: HarnessApi | undefined,
    private readonly cache: TaskCache,
    private readonly log: Logger,
  ) {
    const webview = panel.webview;
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'harness.svg');
    webview.html = renderPanelHtml({
      cspSource: webview.cspSource,
      nonce: makeNonce(),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'panel.css')).toString(),
      layoutWorkerUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'elk-worker.js')).toString(),
      title: PANEL_TITLE,
    });
    this.outbox = new PanelOutbox({
      fetchState: () => this.fetchState(),
      fetchLog: (runId) => this.fetchLog(runId),
      post: (message) => {
        webview.postMessage(message).then(
          (delivered) => delivered || this.log.debug(`panel: ${message.type} not delivered (webview gone or hidden)`),
          (e: unknown) => this.log.warn(`panel: posting ${message.type} failed: ${describeError(e)}`),
        );
      },
      log,
    });
    this.outbox.setVisible(panel.visible);
    const timer = setInterval(() => panel.visible && this.api && this.outbox.scheduleState(), PERIODIC_REFRESH_MS);
    this.subscriptions.push(
      panel.onDidDispose(() => this.dispose()),
      panel.onDidChangeViewState((e) => this.outbox.setVisible(e.webviewPanel.visible)),
      webview.onDidReceiveMessage((raw: unknown) => this.onMessage(raw)),
      { dispose: () => clearInterval(timer) },
    );
    // Task changes come through the cache (which applies the events first, and reads the tasks
    // a stale worker freed); other changes (workers, runs) through the events themselves.
    this.cacheSub = cache.onDidChange((change) => change.quiet || this.outbox.scheduleState());
    this.setApi(api);
  }

  /** The API to read from and act through; the extension swaps it on reconnect (undefined: none). */
  setApi(api: HarnessApi | undefined): void {
    if (api === this.api || this.disposed) return;
    this.eventSub?.dispose();
    this.eventSub = undefined;
    this.api = api;
    if (api) {
      this.eventSub = api.onEvent((line) => this.outbox.onEvent(line));
      this.outbox.reset();
    } else {
      this.outbox.error('Not connected to the coordinator: showing what was last read.');
    }
  }

  /** Shows a run's output (a "show output" command): the webview follows the selection. */
  selectRun(runId: string): void {
    this.outbox.selectRun(runId, true);
    this.panel.reveal(undefined, true);
  }

  /** The output text posted to the webview for a run so far (what it shows): for tests. */
  postedOutputFor(runId: string): string | undefined {
    return this.outbox.posted.get(runId);
  }

  /** Whether the webview has said `ready` (its script runs and takes messages). */
  get webviewReady(): boolean {
    return this.outbox.webviewReady;
  }

  /** The run whose output the webview shows, as the host knows it. */
  get selectedRunId(): string | null {
    return this.outbox.selectedRunId;
  }

  /** Milliseconds from the last coordinator event to the webview having rendered it. */
  get lastEventToRenderedMs(): number | undefined {
    return this.outbox.lastEventToRenderedMs;
  }

  /** Of the last state rendered: reading it and the webview's checking and rendering, in ms. */
  get lastStateTimings(): StateTimings | undefined {
    return this.outbox.lastStateTimings;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (CoordinationPanel.current === this) CoordinationPanel.current = undefined;
    this.outbox.dispose();
    this.eventSub?.dispose();
    this.cacheSub.dispose();
    for (const s of this.subscriptions.splice(0)) s.dispose();
    this.panel.dispose();
  }

  private requireApi(): HarnessApi {
    if (!this.api) throw new Error('not connected to the coordinator');
    return this.api;
  }

  /** Tasks from the cache (no request, whatever their number); workers and runs from the coordinator. */
  private async fetchState(): Promise<StateMessage> {
    const api = this.requireApi();
    const [i, r] = await Promise.all([api.call(InstanceList), api.call(RunList)]);
    return toStateMessage(taskState(this.cache, this.scope), i.instances, r.runs);
  }

  private async fetchLog(runId: string): Promise<RunLogMessage> {
    return toRunLogMessage(runId, await this.requireApi().call(RunLog, { run_id: runId }));
  }

  private onMessage(raw: unknown): void {
    const parsed = parseWebviewMessage(raw);
    if (!parsed.ok) {
      this.log.warn(`panel: ${parsed.error}`);
      this.outbox.error(`The extension ignored a message from this panel: ${parsed.error}`);
      return;
    }
    const message = parsed.message;
    switch (message.type) {
      case 'ready':
        this.log.debug(`panel: webview ready (run ${message.selected_run_id ?? 'none'})`);
        this.outbox.onReady(message.selected_run_id);
        break;
      case 'selectRun':
        this.outbox.selectRun(message.run_id);
        break;
      case 'taskAction':
        void this.taskAction(message);
        break;
      case 'rendered':
        this.outbox.onRendered(message.seq, message.render_ms);
        break;
      case 'scope':
        this.scope = message.scope;
        this.outbox.scheduleState();
        break;
      case 'log':
        if (++this.webviewLogs <= MAX_WEBVIEW_LOGS) this.log[message.level](`panel webview: ${message.message}`);
        if (this.webviewLogs === MAX_WEBVIEW_LOGS) this.log.warn('panel webview: further log lines are dropped');
        break;
    }
  }

  /** Runs the command a tree row would (it reports its own errors); the state follows by events. */
  private async taskAction({ action, task_id }: TaskActionMessage): Promise<void> {
    this.log.info(`panel: ${action} task ${task_id}`);
    try {
      await vscode.commands.executeCommand(ACTION_COMMANDS[action], task_id);
    } catch (e) {
      this.log.warn(`panel: ${action} task ${task_id} failed: ${describeError(e)}`);
    }
    this.outbox.scheduleState();
  }
}

function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}
