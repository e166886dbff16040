// The completion hook: a command (argv, no shell) run once for each task that completes or is
// dead-lettered, with the task as JSON in its environment, so results can go back to where the
// task came from (`gh issue comment`). "Once" holds across a coordinator crash: a task is
// marked as owed a hook when it is claimed, before it can finish, and the mark is cleared only
// after the hook ran; a restart runs the hooks still owed. A crash while a hook runs means it
// runs again after the restart (at least once, never lost).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Coordinator } from '../core/coordinator';
import { describeError } from '../core/errors';
import type { Disposable } from '../core/events';
import type { Logger } from '../core/log';
import type { Task } from '../core/model';
import { runProcess } from '../exec';
import type { HookSettings, WebhookSettings, WebhookSettingsSource } from './config';
import { StateMap } from './state-map';
import { fill } from './template';

export const HOOKS_OWED_PREFIX = 'webhooks/hooks-owed';
/** Hooks running at once; the rest wait their turn. */
const CONCURRENCY = 4;
/** Past this, HARNESS_TASK would risk the per-variable limit of exec (128 KiB on Linux): use a file. */
const MAX_ENV_BYTES = 100_000;

const SHELLS = new Set(['sh', 'bash', 'zsh', 'dash', 'ksh', 'fish', 'cmd', 'cmd.exe', 'powershell', 'powershell.exe', 'pwsh']);

/** Hook argv problems: a placeholder inside a shell's script would run issue text as code. */
export function checkHookCommand(hook: HookSettings): string[] {
  const shell = SHELLS.has(path.basename(hook.command[0]!).toLowerCase());
  const placeholder = hook.command.slice(1).find((a) => /\{[a-z_]+\}/.test(a));
  return shell && placeholder
    ? [`hook.command runs a shell with a {placeholder} in ${JSON.stringify(placeholder.slice(0, 80))}: use $HARNESS_TASK_* variables in a shell script, never placeholders`]
    : [];
}

/** `{id}`, `{status}`, `{url}`, `{title}` in the hook's arguments, each filled as one whole argument. */
export function hookArgv(command: readonly string[], task: Task): string[] {
  const vars = { id: task.id, status: task.status, url: task.source?.url ?? '', title: task.source?.title ?? '' };
  return command.map((a, i) => (i === 0 ? a : fill(a, vars)));
}

function wants(hook: HookSettings | undefined, task: Task): hook is HookSettings {
  return hook !== undefined && (!hook.only_with_source || task.source !== undefined);
}

export interface CompletionHooksOptions {
  coordinator: Coordinator;
  /** The workspace folder: the hook runs there. */
  workspace: string;
  log: Logger;
  settings: WebhookSettingsSource;
  env?: NodeJS.ProcessEnv;
}

export class CompletionHooks implements Disposable {
  private readonly owed: StateMap;
  private readonly settings: WebhookSettingsSource;
  /** `<task>:<fencing token>` of hooks queued or running, so none runs twice at once. */
  private readonly active = new Set<string>();
  private readonly queue: Array<() => Promise<void>> = [];
  private running = 0;
  private readonly subscriptions: Disposable[] = [];
  private readonly idleWaiters: Array<() => void> = [];
  private disposed = false;
  private complaint: string | undefined;

  constructor(private readonly options: CompletionHooksOptions) {
    this.owed = new StateMap(options.coordinator, HOOKS_OWED_PREFIX);
    this.settings = options.settings;
    const events = options.coordinator.events;
    this.subscriptions.push(
      events.on('task:claimed', ({ task }) => this.claimed(task)),
      events.on('task:completed', ({ task }) => this.finished(task)),
      events.on('task:dead_letter', ({ task }) => this.finished(task)),
      events.on('task:cancelled', ({ task }) => this.forget(task)),
    );
    this.catchUp();
  }

  private hook(): HookSettings | undefined {
    let settings: WebhookSettings | undefined;
    try {
      settings = this.settings();
    } catch (e) {
      this.complain(`completion hook: ${describeError(e)}`);
      return undefined;
    }
    const hook = settings?.hook;
    const problems = hook ? checkHookCommand(hook) : [];
    if (problems.length > 0) {
      this.complain(`completion hook not run: ${problems.join('; ')}`);
      return undefined;
    }
    this.complaint = undefined;
    return hook;
  }

  /** Logs a config problem once, not at every task event, until it changes. */
  private complain(message: string): void {
    if (message !== this.complaint) this.options.log.error(message);
    this.complaint = message;
  }

  /** Marks the task as owed a hook; written now, so before any completion of this claim. */
  private claimed(task: Task): void {
    if (!wants(this.hook(), task)) return;
    this.owed
      .update(task.id, (shard) => {
        if (shard[task.id] === task.fencing_token) return false;
        shard[task.id] = task.fencing_token;
      })
      .catch((e) => this.options.log.error(`completion hook: could not note ${task.id} as owed a hook: ${describeError(e)}`));
  }

  private finished(task: Task): void {
    const hook = this.hook();
    if (!hook) return; // no hook: nothing is marked either
    if (!wants(hook, task) || !hook.on.includes(task.status as 'completed' | 'dead_letter')) return void this.forget(task);
    this.enqueue(task, hook);
  }

  /** Clears the mark of `task` if it still belongs to this claim (a retried task has a newer one). */
  private forget(task: Pick<Task, 'id' | 'fencing_token'>): Promise<void> {
    if (this.owed.get(task.id) === undefined) return Promise.resolve();
    return this.owed
      .update(task.id, (shard) => {
        if (shard[task.id] !== task.fencing_token) return false;
        delete shard[task.id];
      })
      .catch((e) => this.options.log.error(`completion hook: could not clear ${task.id}: ${describeError(e)}`));
  }

  /** After a restart: runs the hooks still owed, and marks tasks claimed before we were listening. */
  private catchUp(): void {
    const hook = this.hook();
    if (!hook) return;
    const { coordinator } = this.options;
    for (const [id, token] of this.owed.entries()) {
      const row = coordinator.store.getTask(id);
      if (!row) void this.forget({ id, fencing_token: token as number });
      else if (row.fencing_token !== token || row.status === 'running' || row.status === 'pending') continue;
      else this.finished(coordinator.getTask(id));
    }
    for (const task of coordinator.listTasks('running')) {
      if (this.owed.get(task.id) !== task.fencing_token) this.claimed(task);
    }
  }

  private enqueue(task: Task, hook: HookSettings): void {
    const key = `${task.id}:${task.fencing_token}`;
    if (this.active.has(key) || this.disposed) return;
    this.active.add(key);
    this.queue.push(() => this.run(task, hook).finally(() => this.active.delete(key)));
    this.pump();
  }

  private pump(): void {
    while (this.running < CONCURRENCY && this.queue.length > 0) {
      const next = this.queue.shift()!;
      this.running++;
      void next().finally(() => {
        this.running--;
        this.pump();
        if (this.running === 0 && this.queue.length === 0) this.idleWaiters.splice(0).forEach((w) => w());
      });
    }
  }

  private async run(task: Task, hook: HookSettings): Promise<void> {
    const { log, workspace } = this.options;
    const json = JSON.stringify(task);
    let file: string | undefined;
    if (Buffer.byteLength(json) > MAX_ENV_BYTES) {
      file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'harness-hook-')), 'task.json');
      fs.writeFileSync(file, json, { mode: 0o600 });
    }
    const env: Record<string, string | undefined> = {
      HARNESS_TASK: file ? JSON.stringify({ ...task, payload: null, result: null }) : json,
      ...(file ? { HARNESS_TASK_FILE: file } : {}),
      HARNESS_TASK_ID: task.id,
      HARNESS_TASK_STATUS: task.status,
      HARNESS_TASK_SOURCE_URL: task.source?.url ?? '',
      HARNESS_TASK_ERROR: task.error ?? '',
      HARNESS_WORKSPACE: workspace,
      HARNESS_WORKTREE: workspace, // the old name, for hooks written against it
      // The webhook secrets are the coordinator's, not the hook's.
      ...Object.fromEntries(this.secretVariables().map((name) => [name, undefined])),
    };
    try {
      const result = await runProcess({ argv: hookArgv(hook.command, task), cwd: workspace, timeoutMs: hook.timeout_seconds * 1000, env: env as Record<string, string> }).result;
      const how = result.timed_out ? `timed out after ${hook.timeout_seconds} s` : result.signal_name ? `killed by ${result.signal_name}` : `exit ${result.returncode}`;
      const tail = result.returncode === 0 ? '' : `: ${(result.stderr_tail || result.stdout_tail).trim().slice(-500)}`;
      (result.returncode === 0 ? log.info : log.warn).call(log, `completion hook for ${task.id} (${task.status}): ${how}${tail}`);
    } catch (e) {
      log.error(`completion hook for ${task.id} could not run: ${describeError(e)}`);
    } finally {
      if (file) fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
    // Ran (however it ended): not owed any more. A hook that failed is not retried: it may have
    // half-done what it does (posted the comment, then failed), and its log line says so.
    await this.forget(task);
  }

  private secretVariables(): string[] {
    let settings: WebhookSettings | undefined;
    try {
      settings = this.settings();
    } catch {
      return [];
    }
    const sources = [settings?.github?.secret, ...Object.values(settings?.standard ?? {}).map((s) => s.secret)];
    return sources.flatMap((s) => (s && 'env' in s ? [s.env] : []));
  }

  /** Resolves when no hook is queued or running: for tests and shutdown. */
  idle(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  dispose(): void {
    this.disposed = true;
    this.queue.splice(0); // still marked as owed: they run after the next start
    for (const s of this.subscriptions.splice(0)) s.dispose();
  }

  /** Stops taking new work and gives running hooks a moment to finish and be cleared. */
  async close(graceMs = 5000): Promise<void> {
    this.dispose();
    await Promise.race([this.idle(), new Promise((r) => setTimeout(r, graceMs).unref())]);
  }
}
