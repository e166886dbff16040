import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { HarnessApi } from '../protocol/api';
import { describeError } from '../protocol/errors';
import { QUIET_EVENTS, type EventData } from '../protocol/events';
import type { ClusterStatus } from '../protocol/cluster';
import { Isolate } from '../protocol/isolation';
import { Ping } from '../protocol/meta';
import type { EventLine } from '../protocol/messages';
import { CommandId, CONFIG_SECTION, ContextKey, ViewId } from '../ui/ids';
import { readSettings, type Settings } from '../ui/settings';
import { MAX_GROUPS } from '../ui/coordination-view-models';
import type { StateTimings } from '../ui/outbox';
import { BudgetCache } from '../ui/fleet-view-models';
import { TaskCache } from '../ui/task-cache';
import { statusBarText } from '../ui/view-models';
import { registerCommands } from './commands';
import { registerCoordinationCommands } from './coordination-commands';
import { registerFleetCommands } from './fleet-commands';
import { CoordinationTree } from './coordination-tree';
import { Connection } from './connection';
import { CoordinationPanel } from './panel';
import { terminalLauncher } from './fleet-terminals';
import { registerMcpProvider, type McpServerOffer } from './mcp-provider';
import { installCliEnvironment } from './terminals';
import { InstancesTree, TasksTree } from './trees';
import type { TaskGroup } from '../ui/view-models';

/** What the extension hands to its tests (and to other extensions) through `exports`. */
export interface HarnessExtensionApi {
  connection: Connection | undefined;
  /** Every task, kept current from coordinator events: what the trees and the panel show. */
  cache: TaskCache;
  tasks: TasksTree;
  instances: InstancesTree;
  /** Locks, pools, pending messages and task groups. */
  coordination: CoordinationTree;
  workerId: string;
  activationMs: number;
  /** Milliseconds from the last coordinator event that changed tasks to the Tasks tree redrawn. */
  lastEventToRefreshMs: number | undefined;
  /** Milliseconds from the last coordinator event to the panel's webview having rendered it. */
  panelEventToRenderedMs(): number | undefined;
  /** Of the panel's last state: waiting, reading, the trip to the webview and back, its rendering (ms). */
  panelStateTimings(): StateTimings | undefined;
  /** The output of a run the panel has been sent so far. */
  panelOutput(runId: string): string | undefined;
  /** What this window offers agents as its MCP server; undefined where VS Code has no MCP API (or refused the provider). */
  mcpServers: (() => McpServerOffer[]) | undefined;
}

/** Task changes are drawn this soon after the first of a burst: a plan import is one redraw. */
const TASKS_COALESCE_MS = 20;
/** The views that read the coordinator (workers, coordination) coalesce a little longer. */
const OTHERS_COALESCE_MS = 30;

export function activate(context: vscode.ExtensionContext): HarnessExtensionApi {
  const started = performance.now();
  const log = vscode.window.createOutputChannel('Agent Harness', { log: true });
  context.subscriptions.push(log);

  let settings = loadSettings(log);
  const cache = new TaskCache();
  const budgets = new BudgetCache();
  const tasks = new TasksTree(cache, budgets);
  const instances = new InstancesTree();
  const coordination = new CoordinationTree();
  const exported: HarnessExtensionApi = {
    connection: undefined,
    cache,
    tasks,
    instances,
    coordination,
    workerId: workerIdFor(context),
    activationMs: 0,
    lastEventToRefreshMs: undefined,
    panelEventToRenderedMs: () => CoordinationPanel.current?.lastEventToRenderedMs,
    panelStateTimings: () => CoordinationPanel.current?.lastStateTimings,
    panelOutput: (runId) => CoordinationPanel.current?.postedOutputFor(runId),
    mcpServers: undefined,
  };
  const tasksView = vscode.window.createTreeView(ViewId.tasks, { treeDataProvider: tasks, showCollapseAll: true });
  const instancesView = vscode.window.createTreeView(ViewId.instances, { treeDataProvider: instances });
  const coordinationView = vscode.window.createTreeView(ViewId.coordination, { treeDataProvider: coordination, showCollapseAll: true });
  const status = vscode.window.createStatusBarItem('agentHarness.status', vscode.StatusBarAlignment.Left, 50);
  status.name = 'Agent Harness';
  status.command = CommandId.openPanel;
  context.subscriptions.push(tasksView, instancesView, coordinationView, status);

  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (!folder) {
    log.info('no folder is open: Agent Harness waits for one');
    exported.activationMs = performance.now() - started;
    return exported;
  }
  // One coordinator per window, for its first folder (see the README on multi-root workspaces).
  // Each worker of a target is `harness work` in a terminal: this extension's own CLI, run by the
  // extension host's Node (Electron's, as Node).
  const connection = new Connection(folder, () => settings, log, {
    harness: { argv: [process.execPath, path.join(context.extensionPath, 'dist', 'cli.js')], env: { ELECTRON_RUN_AS_NODE: '1' } },
    launcher: terminalLauncher(),
  });
  exported.connection = connection;
  activeConnection = connection;
  context.subscriptions.push(connection);

  const mcp = registerMcpProvider({
    context,
    folder,
    socketPath: connection.socketPath,
    workerId: exported.workerId.replace(/^editor-/, 'agent-'),
    ensureCoordinator: () => connection.ensure(),
    log,
  });
  if (mcp) context.subscriptions.push(mcp.disposable);
  exported.mcpServers = mcp?.offers;

  const start = () => void connection.ensure().catch((e) => log.error(`could not start the coordinator: ${describeError(e)}`));
  let binDir: string | undefined;
  const ensureCli = () => (binDir ??= installCliEnvironment(context, folder, connection.socketPath));

  // Views refresh on short timers, so a burst of events is one redraw. The Tasks tree and the
  // status bar read the TaskCache, which applies each event itself: no request, even with
  // 100,000 tasks. The Instances and Coordination trees read the coordinator; the Coordination
  // tree only while it is visible (it asks for every listed group's checkpoint).
  let tasksPending: NodeJS.Timeout | undefined;
  let othersPending: NodeJS.Timeout | undefined;
  let coordinationStale = true;
  let firstEventAt: number | undefined;
  let eventSub: vscode.Disposable | undefined;
  const tasksSoon = () => (tasksPending ??= setTimeout(refreshTasks, TASKS_COALESCE_MS));
  const othersSoon = () => (othersPending ??= setTimeout(() => void refreshOthers(), OTHERS_COALESCE_MS));
  const refreshTasks = () => {
    tasksPending = undefined;
    tasks.refresh();
    updateStatus();
    if (firstEventAt !== undefined) exported.lastEventToRefreshMs = performance.now() - firstEventAt;
    firstEventAt = undefined;
    coordinationStale = true; // its groups come from the tasks
    if (coordinationView.visible) othersSoon();
  };
  const refreshOthers = async () => {
    othersPending = undefined;
    const api = connection.current;
    try {
      const jobs = [instances.refresh(api)];
      if (coordinationView.visible) {
        coordinationStale = false;
        // Only the listed groups' tasks are read: with thousands of groups a refresh stays small.
        const { groups, count } = cache.groupsToList(MAX_GROUPS);
        jobs.push(coordination.refresh(api, groups, count));
      }
      await Promise.all(jobs);
      updateStatus();
    } catch (e) {
      log.warn(`refresh failed: ${describeError(e)}`);
    }
  };
  const refreshAll = () => {
    coordinationStale = true;
    refreshTasks();
    return refreshOthers();
  };
  // In cluster mode the status bar names the host that leads: read at connection and when it changes.
  let cluster: ClusterStatus | undefined;
  const readCluster = (api: HarnessApi) =>
    void api
      .call(Ping)
      .then((ping) => {
        cluster = ping.cluster;
        updateStatus();
      })
      .catch((e: unknown) => log.warn(`could not ask who leads the cluster: ${describeError(e)}`));
  const updateStatus = () => {
    if (!connection.current) {
      status.hide();
      return;
    }
    const counts = cache.countsByDisplay();
    const s = statusBarText({
      counts: { pending: counts.ready + counts.blocked, running: counts.running, completed: counts.completed, dead_letter: counts.dead_letter, cancelled: counts.cancelled },
      ready: counts.ready,
      instances: instances.snapshot.filter((i) => i.status === 'live').length,
      ...(cluster ? { cluster } : {}),
    });
    status.text = s.text;
    status.tooltip = s.tooltip;
    status.show();
  };
  context.subscriptions.push(
    cache.onDidChange((change) => change.quiet || tasksSoon()),
    coordinationView.onDidChangeVisibility((e) => e.visible && coordinationStale && othersSoon()),
  );
  context.subscriptions.push(
    connection.onDidChange((api) => {
      eventSub?.dispose();
      eventSub = api?.onEvent((e: EventLine) => {
        const arrived = performance.now();
        const quiet = QUIET_EVENTS.has(e.event);
        if (cache.applyEvent(e) && !quiet) firstEventAt ??= arrived;
        if (budgets.applyEvent(e)) tasksSoon();
        if (e.event === 'target:failing') notifyFailing(e.data as EventData<'target:failing'>);
        // Task events redraw the Tasks tree alone; one that reports usage changes the workers' cost too.
        if (!quiet && (!/^(task|lease):/.test(e.event) || (e.data as { task?: { usage?: unknown } } | null)?.task?.usage)) othersSoon();
        if (e.event === 'instance:stale') notifyStale(e.data as EventData<'instance:stale'>);
        if (e.event === 'cluster:leader' && api) {
          // Events during the take-over are not replayed: read the tasks again, and who leads.
          readCluster(api);
          void cache.reload(api).catch((err: unknown) => log.error(`could not list the tasks: ${describeError(err)}`));
        }
      });
      void budgets.reload(api).then(tasksSoon, (err: unknown) => log.warn(`could not list the budgets: ${describeError(err)}`));
      cluster = undefined;
      if (api) readCluster(api);
      void cache.reload(api).catch((err: unknown) => {
        log.error(`could not list the tasks: ${describeError(err)}`);
        tasksSoon();
      });
      tasksSoon(); // "Reading the tasks…" while a big plan is listed
      void vscode.commands.executeCommand('setContext', ContextKey.connected, api !== undefined);
      void vscode.commands.executeCommand('setContext', ContextKey.mode, api?.mode);
      if (api) ensureCli();
      CoordinationPanel.current?.setApi(api);
      othersSoon();
    }),
    { dispose: () => eventSub?.dispose() },
    // The lease timers in the tree tick even when nothing happens.
    (() => {
      const timer = setInterval(() => {
        if (!connection.current) return;
        if (tasksView.visible) tasks.refresh();
        if (coordinationView.visible) othersSoon();
      }, 5000);
      return { dispose: () => clearInterval(timer) };
    })(),
    ...registerCommands({
      context,
      connection,
      tasks,
      settings: () => settings,
      log,
      workerId: exported.workerId,
      binDir: ensureCli,
      openPanel: (api) => CoordinationPanel.show(context, api, cache, log),
      // Through the coordinator, wherever it runs: it reads the isolation settings of its state directory.
      isolation: async (workerId) => {
        const { cwd, env } = await (await connection.ensure()).call(Isolate, { worker_id: workerId });
        return { cwd, env };
      },
    }),
    ...registerCoordinationCommands(log, () => connection.ensure()),
    ...registerFleetCommands(log, () => connection.ensure()),
    vscode.commands.registerCommand(CommandId.refresh, async () => {
      await cache.reload(connection.current);
      await refreshAll();
    }),
    vscode.commands.registerCommand(CommandId.showMore, (group: TaskGroup) => tasks.showMore(group)),
    // A panel left open comes back after a window reload, and catches up from the coordinator.
    vscode.window.registerWebviewPanelSerializer('agentHarness.panel', {
      deserializeWebviewPanel: async (panel) => {
        CoordinationPanel.revive(panel, context, connection.current, cache, log);
        start();
      },
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration(CONFIG_SECTION)) return;
      settings = loadSettings(log);
      connection.reconfigure();
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => void connection.ensure().catch((e) => log.error(describeError(e)))),
  );

  // Start the coordinator when someone looks, or at once when the workspace already has state
  // (so workers that outlived a reload find their coordinator again) — after activation returns.
  context.subscriptions.push(
    tasksView.onDidChangeVisibility((e) => e.visible && start()),
    instancesView.onDidChangeVisibility((e) => e.visible && start()),
    coordinationView.onDidChangeVisibility((e) => e.visible && start()),
  );
  if (vscode.workspace.isTrusted && (tasksView.visible || fs.existsSync(path.join(folder, settings.stateDirectory)))) {
    setTimeout(start, 0);
  }
  exported.activationMs = performance.now() - started;
  log.info(`activated in ${exported.activationMs.toFixed(1)} ms (workspace ${folder}${vscode.workspace.isTrusted ? '' : ', Restricted Mode'})`);
  return exported;
}

/** A target that keeps crashing needs a person: it starts no worker until reset. */
function notifyFailing({ target }: EventData<'target:failing'>): void {
  const last = target.last_output?.trim().split('\n').at(-1);
  void vscode.window
    .showErrorMessage(`Agent Harness: target ${target.name} is failing (${target.crashes} crashes in 10 minutes)${last ? `: ${last}` : ''}. Its workers stay stopped until you reset it.`, 'Reset Target')
    .then((pick) => pick && vscode.commands.executeCommand(CommandId.resetTarget, target.name));
}

/** A worker that stopped heartbeating is worth a person's attention: its work moved on. */
function notifyStale({ instance, freed_tasks }: EventData<'instance:stale'>): void {
  const freed = freed_tasks.length ? ` Its task${freed_tasks.length > 1 ? 's' : ''} ${freed_tasks.join(', ')} went back to the queue.` : '';
  void vscode.window.showWarningMessage(`Agent Harness: worker ${instance.worker_id} stopped heartbeating.${freed}`);
}

function loadSettings(log: vscode.LogOutputChannel): Settings {
  const config = vscode.workspace.getConfiguration(CONFIG_SECTION);
  const { settings, warnings } = readSettings((key) => config.get(key), CONFIG_SECTION);
  for (const w of warnings) {
    log.warn(w);
    void vscode.window.showWarningMessage(`Agent Harness: ${w}`);
  }
  return settings;
}

function workerIdFor(context: vscode.ExtensionContext): string {
  let id = context.workspaceState.get<string>('workerId');
  if (!id) {
    id = `editor-${randomUUID().slice(0, 8)}`;
    void context.workspaceState.update('workerId', id);
  }
  return id;
}

let activeConnection: Connection | undefined;

/** Waits for the coordinator to flush and release its state, so the next window starts fast. */
export async function deactivate(): Promise<void> {
  await activeConnection?.dispose();
  activeConnection = undefined;
}
