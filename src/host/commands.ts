import * as vscode from 'vscode';
import { listAllTasks } from '../client/paging';
import { importPlan, readPlanFile } from '../client/plan';
import type { HarnessApi } from '../protocol/api';
import { atMostSeconds, MAX_DURATION_SECONDS } from '../protocol/durations';
import { explainThrown } from '../protocol/error-words';
import type { Task, TaskInput } from '../protocol/model';
import { TaskAdd, TaskCancel, TaskClaim, TaskComplete, TaskFail, TaskGet, TaskRelease, TaskRetry } from '../protocol/tasks';
import { CommandId } from '../ui/ids';
import type { Settings } from '../ui/settings';
import type { Connection } from './connection';
import { describeResult, runExecWithTimeout } from './exec';
import { spawnWorkers } from './terminals';
import type { TaskNode, TasksTree } from './trees';

export interface CommandDeps {
  context: vscode.ExtensionContext;
  connection: Connection;
  tasks: TasksTree;
  settings: () => Settings;
  log: vscode.LogOutputChannel;
  /** The id this editor claims tasks under; kept per workspace so a reload keeps its leases. */
  workerId: string;
  binDir: () => string;
  openPanel: (api: HarnessApi) => void;
  isolation?: (workerId: string) => Promise<{ cwd: string; env: Record<string, string> }>;
}

/** Every command goes through here: logged by id, errors shown as one clear message. */
export function register(id: CommandId, log: vscode.LogOutputChannel, handler: (...args: any[]) => Promise<unknown>): vscode.Disposable {
  return vscode.commands.registerCommand(id, async (...args: unknown[]) => {
    log.debug(`command ${id}`);
    try {
      return await handler(...args);
    } catch (e) {
      const message = explainThrown(e);
      log.error(`${id}: ${message}`);
      void vscode.window.showErrorMessage(`Agent Harness: ${message}`, 'Show Log').then((pick) => pick && log.show());
      return undefined;
    }
  });
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'task';
}

/** A task from a tree row, or picked from those in `statuses`. */
async function pickTask(api: HarnessApi, arg: unknown, statuses: Task['status'][], title: string): Promise<Task | undefined> {
  const node = arg as TaskNode | undefined;
  if (node?.kind === 'task') return node.task;
  if (typeof arg === 'string') return (await api.call(TaskGet, { task_id: arg })).task;
  const candidates = (await Promise.all(statuses.map((status) => listAllTasks(api, { status })))).flat();
  if (candidates.length === 0) {
    void vscode.window.showInformationMessage(`No ${statuses.join(' or ')} task to ${title.toLowerCase()}.`);
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    candidates.map((t) => ({ label: t.id, description: t.description, detail: t.claimed_by ? `held by ${t.claimed_by}` : undefined, task: t })),
    { title },
  );
  return pick?.task;
}

/** The lease of a task as its holder: a person acting from the editor acts for the holder. */
function lease(task: Task): { worker_id: string; task_id: string; fencing_token: number } {
  return { worker_id: task.claimed_by ?? '', task_id: task.id, fencing_token: task.fencing_token };
}

export function registerCommands(d: CommandDeps): vscode.Disposable[] {
  const { log } = d;
  const api = () => d.connection.ensure();
  const folder = d.connection.folder;
  return [
    register(CommandId.addTask, log, async (input?: TaskInput) => {
      const a = await api();
      let task = input;
      if (!task) {
        const description = await vscode.window.showInputBox({ title: 'Add Task (1/4)', prompt: 'What should be done?', ignoreFocusOut: true });
        if (!description) return undefined;
        const id = await vscode.window.showInputBox({ title: 'Add Task (2/4)', prompt: 'Task id', value: slug(description) });
        if (!id) return undefined;
        const tasks = await listAllTasks(a);
        const deps = tasks.length
          ? await vscode.window.showQuickPick(
              tasks.map((t) => ({ label: t.id, description: `${t.status} · ${t.description}` })),
              { title: 'Add Task (3/4): dependencies (none is fine)', canPickMany: true },
            )
          : [];
        if (!deps) return undefined;
        const priority = await vscode.window.showInputBox({
          title: 'Add Task (4/4)',
          prompt: 'Priority (higher runs first)',
          value: '0',
          validateInput: (v) => (/^-?\d+$/.test(v.trim()) ? undefined : 'A whole number, e.g. 0 or 10'),
        });
        if (priority === undefined) return undefined;
        task = { description, id, dependencies: deps.map((x) => x.label), priority: Number(priority) };
      }
      const { task: added } = await a.call(TaskAdd, { task });
      void vscode.window.showInformationMessage(`Added task ${added.id}.`);
      return added;
    }),

    register(CommandId.importPlan, log, async (uri?: vscode.Uri) => {
      const a = await api();
      const file =
        uri ??
        (
          await vscode.window.showOpenDialog({
            title: 'Import Plan',
            canSelectMany: false,
            filters: { 'Plan (JSON or YAML)': ['json', 'yaml', 'yml'] },
            defaultUri: vscode.Uri.file(folder),
          })
        )?.[0];
      if (!file) return undefined;
      // The CLI's plan module: the same checks and words, and a big plan staged in pieces.
      const result = await importPlan(a, readPlanFile(file.fsPath));
      void vscode.window.showInformationMessage(`Imported ${result.count} tasks from ${vscode.workspace.asRelativePath(file)}.`);
      return result;
    }),

    register(CommandId.claimNext, log, async () => {
      const claim = await (await api()).call(TaskClaim, { worker_id: d.workerId });
      if (!claim.task) void vscode.window.showInformationMessage('No task is ready for you right now.');
      else void vscode.window.showInformationMessage(`${claim.is_retry ? 'You still hold' : 'Claimed'} ${claim.task.id}: ${claim.task.description}`);
      return claim;
    }),

    register(CommandId.completeTask, log, async (arg?: unknown) => {
      const a = await api();
      const task = await pickTask(a, arg, ['running'], 'Complete Task');
      return task && (await a.call(TaskComplete, lease(task))).task;
    }),
    register(CommandId.failTask, log, async (arg?: unknown, reason?: string) => {
      const a = await api();
      const task = await pickTask(a, arg, ['running'], 'Fail Task');
      if (!task) return undefined;
      const error = reason ?? (await vscode.window.showInputBox({ title: `Fail ${task.id}`, prompt: 'Why did it fail?' }));
      if (error === undefined) return undefined;
      return (await a.call(TaskFail, { ...lease(task), error: error || 'failed from the editor' })).task;
    }),
    register(CommandId.releaseTask, log, async (arg?: unknown) => {
      const a = await api();
      const task = await pickTask(a, arg, ['running'], 'Release Task');
      return task && (await a.call(TaskRelease, lease(task))).task;
    }),
    register(CommandId.retryTask, log, async (arg?: unknown) => {
      const a = await api();
      const task = await pickTask(a, arg, ['dead_letter'], 'Retry Dead-Lettered Task');
      return task && (await a.call(TaskRetry, { task_id: task.id })).task;
    }),
    register(CommandId.cancelTask, log, async (arg?: unknown) => {
      const a = await api();
      const task = await pickTask(a, arg, ['pending', 'running', 'dead_letter'], 'Cancel Task');
      return task && (await a.call(TaskCancel, { task_id: task.id })).task;
    }),

    register(CommandId.spawnWorkers, log, async (input?: { count: number; command?: string; isolated?: boolean }) => {
      if (!vscode.workspace.isTrusted) throw new Error('spawning workers runs commands: trust this workspace first');
      const a = await api();
      let options = input;
      if (!options) {
        const count = await vscode.window.showInputBox({
          title: 'Spawn Workers',
          prompt: 'How many worker terminals?',
          value: '3',
          validateInput: (v) => (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 32 ? undefined : 'A number from 1 to 32'),
        });
        if (!count) return undefined;
        let isolated = false;
        if (d.isolation) {
          const where = await vscode.window.showQuickPick(
            [
              { label: 'Shared folder', description: 'every worker in the workspace folder' },
              { label: 'Isolated', description: 'each worker in its own git worktree and branch', isolated: true },
            ],
            { title: 'Where should the workers work?' },
          );
          if (!where) return undefined;
          isolated = 'isolated' in where;
        }
        options = { count: Number(count), isolated };
      }
      const terminals = await spawnWorkers(options.count, {
        folder,
        socketPath: a.socketPath,
        binDir: d.binDir(),
        workerCommand: options.command ?? d.settings().workerCommand,
        ...(options.isolated && d.isolation ? { prepare: d.isolation } : {}),
      });
      log.info(`spawned ${terminals.length} worker terminal(s)`);
      return terminals.map((t) => t.name);
    }),

    register(CommandId.runExec, log, async (input?: { command: string; timeoutSeconds: number }) => {
      if (!vscode.workspace.isTrusted) throw new Error('exec runs commands: trust this workspace first');
      const a = await api();
      let commandLine = input?.command;
      let timeout = input?.timeoutSeconds;
      if (!commandLine) {
        const editor = vscode.window.activeTextEditor;
        const selected = editor && (editor.selection.isEmpty ? editor.document.lineAt(editor.selection.active.line).text : editor.document.getText(editor.selection));
        commandLine = selected?.trim() || (await vscode.window.showInputBox({ title: 'Run Exec with Timeout', prompt: 'Command line' }));
        if (!commandLine) return undefined;
      }
      if (timeout === undefined) {
        const remembered = d.context.workspaceState.get<number>('execTimeoutSeconds', 60);
        const answer = await vscode.window.showInputBox({
          title: `Timeout for: ${commandLine}`,
          prompt: 'Seconds before it is ended (SIGTERM, then SIGKILL)',
          value: String(remembered),
          validateInput: (v) =>
            Number(v) > 0 && Number(v) <= MAX_DURATION_SECONDS ? undefined : `A number of seconds, more than 0 and ${atMostSeconds(MAX_DURATION_SECONDS)}`,
        });
        if (!answer) return undefined;
        timeout = Number(answer);
        await d.context.workspaceState.update('execTimeoutSeconds', timeout);
      }
      d.openPanel(a);
      const outcome = await runExecWithTimeout(a, commandLine, timeout, folder, d.settings().execKillGraceSeconds, d.workerId, log);
      const r = outcome.result;
      const summary = `"${commandLine}" ${describeResult(r, timeout)}`;
      if (r.returncode === 0) void vscode.window.showInformationMessage(summary);
      else void vscode.window.showWarningMessage(summary);
      return outcome;
    }),

    register(CommandId.openPanel, log, async () => {
      d.openPanel(await api());
    }),
    register(CommandId.showLog, log, async () => log.show()),
  ];
}
