// The extension as a user meets it, inside a real VS Code: the coordinator in the extension host,
// every command through executeCommand, trees following coordinator changes, worker terminals,
// exec with a timeout, the panel, and client mode against another coordinator.
import * as assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Task } from '../../../src/core/model';
import { importPlan, readPlanFile } from '../../../src/client/plan';
import { Connection } from '../../../src/host/connection';
import type { ExecOutcome } from '../../../src/host/exec';
import { readSettings } from '../../../src/ui/settings';
import { cli, eventually, harness, measure, repoRoot, workspaceFolder } from './support';
import { InstanceList } from '../../../src/protocol/instances';
import { RunLog } from '../../../src/protocol/runs';
import { PlanImport, Status, TaskClaim, TaskFail, TaskList } from '../../../src/protocol/tasks';

/** A port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

async function tasksNow(): Promise<Task[]> {
  const h = await harness();
  const api = await h.connection!.ensure();
  return (await api.call(TaskList)).tasks;
}

describe('the extension in a workspace', function () {
  this.timeout(60_000);

  it('runs the coordinator in the extension host on the workspace socket, quickly activated', async () => {
    const h = await harness();
    assert.ok(h.connection, 'a workspace folder is open, so there is a connection');
    const api = await h.connection.ensure();
    assert.equal(api.mode, 'in-process');
    assert.ok(fs.existsSync(api.socketPath), `socket ${api.socketPath} exists`);
    assert.ok(fs.existsSync(path.join(workspaceFolder(), '.harness', 'journal.log')));
    assert.ok(h.activationMs < 200, `activation took ${h.activationMs} ms`);
    const pong = await cli(['ping'], { HARNESS_SOCKET: api.socketPath });
    assert.equal(pong.code, 0, pong.stderr);
  });

  it('Add Task, Import Plan and the Tasks tree', async () => {
    const h = await harness();
    const added = await vscode.commands.executeCommand<Task>('agentHarness.addTask', { id: 'hand-made', description: 'added from the palette', priority: 5 });
    assert.equal(added?.id, 'hand-made');
    const plan = path.join(workspaceFolder(), 'plan.json');
    fs.writeFileSync(plan, JSON.stringify({ tasks: [{ id: 'p1', description: 'one' }, { id: 'p2', dependencies: ['p1'] }] }));
    const imported = await vscode.commands.executeCommand<{ count: number }>('agentHarness.importPlan', vscode.Uri.file(plan));
    assert.equal(imported?.count, 2);
    await eventually('the tree to show the three tasks', () => ['hand-made', 'p1', 'p2'].every((id) => h.tasks.snapshot.some((t) => t.id === id)));
    // Suites before this one (coordination.test.ts) share the coordinator and leave completed tasks.
    const groups = h.tasks.getChildren().flatMap((n) => (n.kind === 'group' && n.group !== 'completed' ? [n.group] : []));
    assert.deepEqual(groups, ['ready', 'blocked']);
    const blocked = h.tasks.getChildren({ kind: 'group', group: 'blocked' });
    assert.equal(blocked.length, 1);
    const depChildren = h.tasks.getChildren(blocked[0]!);
    assert.equal(depChildren[0]?.kind === 'task' && depChildren[0].task.id, 'p1', 'a task lists its dependencies as children');
    const item = h.tasks.getTreeItem(blocked[0]!);
    assert.equal(item.contextValue, 'task.blocked');
  });

  it('a plan with a cycle is refused with the tasks named, and nothing is stored', async () => {
    const plan = path.join(workspaceFolder(), 'cycle.json');
    fs.writeFileSync(plan, JSON.stringify({ tasks: [{ id: 'c1', dependencies: ['c2'] }, { id: 'c2', dependencies: ['c1'] }] }));
    const before = (await tasksNow()).length;
    const result = await vscode.commands.executeCommand('agentHarness.importPlan', vscode.Uri.file(plan));
    assert.equal(result, undefined, 'the command reports the error instead of a result');
    assert.equal((await tasksNow()).length, before);
  });

  it('Claim, Complete, Fail, Retry, Release and Cancel act on the coordinator', async () => {
    const h = await harness();
    const claim = await vscode.commands.executeCommand<{ task: Task }>('agentHarness.claimNextTask');
    assert.equal(claim?.task.id, 'hand-made', 'highest priority first');
    assert.equal(claim?.task.claimed_by, h.workerId);
    const done = await vscode.commands.executeCommand<Task>('agentHarness.completeTask', 'hand-made');
    assert.equal(done?.status, 'completed');

    const p1 = (await vscode.commands.executeCommand<{ task: Task }>('agentHarness.claimNextTask'))!.task;
    assert.equal(p1.id, 'p1');
    const released = await vscode.commands.executeCommand<Task>('agentHarness.releaseTask', 'p1');
    assert.equal(released?.status, 'pending');
    await vscode.commands.executeCommand('agentHarness.claimNextTask');
    const failed = await vscode.commands.executeCommand<Task>('agentHarness.failTask', 'p1', 'broken on purpose');
    assert.equal(failed?.status, 'pending', 'attempts left: back to pending');
    assert.ok(failed?.retry_at, 'after a retry backoff, whose end the task shows');
    await vscode.commands.executeCommand('agentHarness.addTask', { id: 'doomed', description: 'fails for good' });
    const api = await h.connection!.ensure();
    // p1 waits out its backoff (and p2 waits for p1): the next claim takes the new task.
    const doomedClaim = await api.call(TaskClaim, { worker_id: 'doomer' });
    assert.equal(doomedClaim.task?.id, 'doomed');
    await api.call(TaskFail, { worker_id: 'doomer', task_id: 'doomed', error: 'no', retry: false });
    await eventually('the tree to show a dead-lettered task', () => h.tasks.getChildren().some((n) => n.kind === 'group' && n.group === 'dead_letter'));
    const retried = await vscode.commands.executeCommand<Task>('agentHarness.retryTask', 'doomed');
    assert.equal(retried?.status, 'pending');
    const cancelled = await vscode.commands.executeCommand<Task>('agentHarness.cancelTask', 'doomed');
    assert.equal(cancelled?.status, 'cancelled');
  });

  it('the trees follow changes made by other processes, through coordinator events', async () => {
    const h = await harness();
    const api = await h.connection!.ensure();
    const refreshed = new Promise<void>((resolve) => {
      const sub = h.tasks.onDidRefresh(() => {
        if (h.cache.get('from-cli')) {
          sub.dispose();
          resolve();
        }
      });
    });
    const added = await cli(['task', 'add', '--id', 'from-cli', '--description', 'added by a terminal'], { HARNESS_SOCKET: api.socketPath });
    assert.equal(added.code, 0, added.stderr);
    await refreshed;
    assert.ok(h.lastEventToRefreshMs !== undefined && h.lastEventToRefreshMs < 1000, `event to tree took ${h.lastEventToRefreshMs} ms`);
    measure(`coordinator event to the Tasks tree refreshed: ${h.lastEventToRefreshMs.toFixed(1)} ms`);
    await cli(['instance', 'list'], { HARNESS_SOCKET: api.socketPath });
  });

  it('Run Exec with Timeout ends a hanging command with SIGTERM and reports it', async () => {
    const outcome = await vscode.commands.executeCommand<ExecOutcome>('agentHarness.runExecWithTimeout', { command: 'echo started; sleep 30', timeoutSeconds: 1 });
    assert.ok(outcome, 'the command returned its outcome');
    assert.equal(outcome.result.timed_out, true);
    assert.equal(outcome.result.signal_name, 'SIGTERM');
    assert.equal(outcome.result.returncode, -15);
    assert.ok(outcome.result.duration_ms < 10_000);
  });

  it('the task graph panel receives streamed exec output', async () => {
    await vscode.commands.executeCommand('agentHarness.openPanel');
    await eventually('the panel tab', () =>
      vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputWebview && t.label === 'Task Graph'),
    );
    const h0 = await harness();
    let lastOutputEventAt = 0;
    const sub = (await h0.connection!.ensure()).onEvent((e) => {
      if (e.event === 'run:output' && JSON.stringify(e.data).includes('panel-line-3')) lastOutputEventAt = performance.now();
    });
    const outcome = await vscode.commands.executeCommand<ExecOutcome>('agentHarness.runExecWithTimeout', {
      command: 'for i in 1 2 3; do echo "panel-line-$i"; done',
      timeoutSeconds: 10,
    });
    sub.dispose();
    assert.equal(outcome?.result.returncode, 0);
    const h = await harness();
    const api = await h.connection!.ensure();
    const log = await api.call(RunLog, { run_id: outcome!.runId! });
    assert.match(log.output.map((c) => c.data).join(''), /panel-line-3/);
    const posted = await eventually('the panel to be sent the output', () => {
      const text = h.panelOutput(outcome!.runId!);
      return text && text.includes('panel-line-3') ? text : undefined;
    });
    const postedAt = performance.now();
    assert.match(posted, /panel-line-1/);
    if (lastOutputEventAt) measure(`run:output event to the panel being sent it: at most ${(postedAt - lastOutputEventAt).toFixed(1)} ms (polled every 50 ms)`);
  });

  it('Spawn Workers opens terminals with the worker environment that complete real tasks with harness work', async function () {
    this.timeout(90_000);
    const h = await harness();
    const api = await h.connection!.ensure();
    await api.call(PlanImport, { tasks: [{ id: 'w1', description: 'first' }, { id: 'w2', dependencies: ['w1'] }, { id: 'w3' }] });
    const names = await vscode.commands.executeCommand<string[]>('agentHarness.spawnWorkers', {
      count: 2,
      command: 'echo "worker $HARNESS_WORKER_ID does $HARNESS_TASK_ID"',
    });
    assert.equal(names?.length, 2);
    const terminals = vscode.window.terminals.filter((t) => t.name.startsWith('Harness worker'));
    for (const t of terminals) {
      const env = (t.creationOptions as vscode.TerminalOptions).env!;
      assert.equal(env.HARNESS_SOCKET, api.socketPath);
      assert.equal(env.HARNESS_WORKSPACE, workspaceFolder());
      assert.equal(env.HARNESS_WORKTREE, workspaceFolder(), 'the old name, for scripts that read it');
      assert.match(env.HARNESS_WORKER_ID!, /^vscode-/);
    }
    await eventually(
      'the workers to complete w1, w2 and w3',
      async () => {
        const tasks = await tasksNow();
        return ['w1', 'w2', 'w3'].every((id) => tasks.find((t) => t.id === id)?.status === 'completed');
      },
      60_000,
    );
    const workers = (await api.call(InstanceList)).instances;
    assert.ok(workers.filter((w) => w.worker_id.startsWith('vscode-')).length >= 1, 'the terminals registered as instances');
    for (const t of terminals) t.dispose();
  });
  it('agentHarness.webhookPort starts a webhook listener that turns a signed delivery into a task linked to its issue', async () => {
    const h = await harness();
    await h.connection!.ensure();
    const dir = path.join(workspaceFolder(), '.harness');
    fs.writeFileSync(path.join(dir, 'gh-secret'), 'vscode-webhook-secret\n', { mode: 0o600 });
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({ webhooks: { github: { secret: { file: '.harness/gh-secret' }, rules: [{ name: 'agent', on: 'issues.labeled', label: 'agent' }] } } }),
    );
    const port = await freePort();
    const settings = vscode.workspace.getConfiguration('agentHarness');
    await settings.update('webhookPort', port, vscode.ConfigurationTarget.Workspace);
    try {
      const body = JSON.stringify({
        action: 'labeled',
        label: { name: 'agent' },
        issue: { number: 77, title: 'From the webhook', body: '', html_url: 'https://github.com/acme/widgets/issues/77', labels: [{ name: 'agent' }] },
        repository: { full_name: 'acme/widgets' },
      });
      const signature = `sha256=${createHmac('sha256', 'vscode-webhook-secret').update(body).digest('hex')}`;
      const answer = await eventually('the listener to answer', () =>
        fetch(`http://127.0.0.1:${port}/github`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-github-event': 'issues', 'x-github-delivery': 'vscode-1', 'x-hub-signature-256': signature },
          body,
        }).catch(() => undefined),
      );
      assert.equal(answer.status, 201, await answer.text());
      const node = await eventually('the task in the Tasks tree', () =>
        h.tasks.getChildren().flatMap((g) => h.tasks.getChildren(g)).find((n) => n.kind === 'task' && n.task.id === 'gh-acme-widgets-77-agent'),
      );
      const tooltip = h.tasks.getTreeItem(node).tooltip;
      assert.ok(tooltip instanceof vscode.MarkdownString, 'a tooltip with a link');
      assert.match(tooltip.value, /\(https:\/\/github\.com\/acme\/widgets\/issues\/77\)/);
    } finally {
      await settings.update('webhookPort', undefined, vscode.ConfigurationTarget.Workspace);
    }
    await eventually('the listener to stop', () =>
      fetch(`http://127.0.0.1:${port}/github`, { method: 'POST' }).then(
        () => undefined,
        () => true,
      ),
    );
  });
});

describe('client mode: another coordinator already serves the folder', function () {
  this.timeout(30_000);

  it('joins it over the socket and sees its tasks and events', async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'harness-client-mode-'));
    const log = vscode.window.createOutputChannel('Agent Harness test', { log: true });
    const serve = spawn(process.execPath, [path.join(repoRoot(), 'dist', 'cli.js'), 'serve', '--worktree', folder], {
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        serve.stdout!.once('data', () => resolve());
        serve.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
      });
      const connection = new Connection(folder, () => readSettings(() => undefined).settings, log);
      try {
        const api = await connection.ensure();
        assert.equal(api.mode, 'client');
        const events: string[] = [];
        api.onEvent((e) => events.push(e.event));
        await cli(['task', 'add', '--id', 'remote'], { HARNESS_WORKSPACE: folder });
        const { tasks } = await api.call(TaskList);
        assert.deepEqual(tasks.map((t) => t.id), ['remote']);
        await eventually('the task:added event', () => events.includes('task:added'));
        // Import Plan's module over the socket: a plan past the 1 MiB line cap goes in pieces.
        const big = path.join(folder, 'big-plan.json');
        fs.writeFileSync(big, JSON.stringify({ tasks: Array.from({ length: 15_000 }, (_, i) => ({ id: `big-${i}`, description: `step ${i} of a plan too big for one request line` })) }));
        assert.ok(fs.statSync(big).size > 1024 * 1024);
        assert.equal((await importPlan(api, readPlanFile(big))).count, 15_000);
        assert.equal((await api.call(Status)).counts.pending, 15_001);
      } finally {
        await connection.dispose();
      }
    } finally {
      serve.kill('SIGTERM');
      log.dispose();
    }
  });
});
