// The sidebar as a person meets it, in a real VS Code: the Tasks tree puts what needs a look
// first, rows lead with what changes, times read as "4 min ago" with the exact time in the
// tooltip, workers are named once, and the views and the panel have names that say what they are.
// Shares the workspace's coordinator with the other suites: ids here start with `side-`, and
// every task ends completed or cancelled.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { InstanceDeregister, InstanceRegister } from '../../../src/protocol/instances';
import type { Task } from '../../../src/protocol/model';
import { PlanImport, TaskCancel, TaskClaim, TaskComplete, TaskFail, TaskProgressCommand } from '../../../src/protocol/tasks';
import type { TaskNode } from '../../../src/host/trees';
import { eventually, EXTENSION_ID, harness } from './support';

async function api() {
  return (await harness()).connection!.ensure();
}

/** The Tasks tree's groups, top to bottom, with how they start (expanded or collapsed). */
async function groups(): Promise<Array<[string, string]>> {
  const tree = (await harness()).tasks;
  return tree.getChildren().flatMap((n) => {
    if (n.kind !== 'group') return [];
    const state = tree.getTreeItem(n).collapsibleState === vscode.TreeItemCollapsibleState.Expanded ? 'open' : 'closed';
    return [[n.group, state] as [string, string]];
  });
}

async function row(id: string): Promise<vscode.TreeItem> {
  const tree = (await harness()).tasks;
  for (const g of tree.getChildren()) {
    const found = tree.getChildren(g).find((n): n is Extract<TaskNode, { kind: 'task' }> => n.kind === 'task' && n.task.id === id);
    if (found) return tree.getTreeItem(found);
  }
  throw new Error(`no row for ${id}`);
}

describe('the sidebar', function () {
  this.timeout(60_000);
  const leases = new Map<string, Task>();

  before(async () => {
    const a = await api();
    // A capability nobody else asks for, so only this suite's claims take these tasks; a high
    // priority, so these claims take them before what other suites left ready.
    const t = (id: string, extra: Record<string, unknown> = {}) => ({ id, description: `the ${id} task, described at length`, capabilities: ['side'], priority: 1000, ...extra });
    await a.call(PlanImport, {
      tasks: [t('side-dead', { max_attempts: 1 }), t('side-flaky', { max_attempts: 3 }), t('side-run'), t('side-next'), t('side-later', { dependencies: ['side-run'] })],
    });
    const claim = async (worker: string) => (await a.call(TaskClaim, { worker_id: worker, capabilities: ['side'] })).task!;
    for (const id of ['side-dead', 'side-flaky', 'side-run']) {
      const task = await claim(`${id}-worker`);
      assert.equal(task.id, id, 'claims in plan order');
      leases.set(id, task);
    }
    const fail = (id: string, error: string) => a.call(TaskFail, { worker_id: `${id}-worker`, task_id: id, fencing_token: leases.get(id)!.fencing_token, error });
    await fail('side-dead', 'exit code 3: the schema is gone');
    await fail('side-flaky', 'timed out after 300 s');
    await a.call(TaskProgressCommand, { worker_id: 'side-run-worker', task_id: 'side-run', fencing_token: leases.get('side-run')!.fencing_token, percent: 40, message: 'halfway' });
    const h = await harness();
    await eventually('the tree to show the progress', () => h.cache.get('side-run')?.progress);
  });

  after(async () => {
    const a = await api();
    await a.call(TaskComplete, { worker_id: 'side-run-worker', task_id: 'side-run', fencing_token: leases.get('side-run')!.fencing_token });
    for (const id of ['side-dead', 'side-flaky', 'side-next', 'side-later']) await a.call(TaskCancel, { task_id: id }).catch(() => undefined);
  });

  it('lists what needs a look first: dead-lettered, failed and retrying, running, ready, then blocked and history, collapsed', async () => {
    const order = (await groups()).map(([g]) => g);
    const expected = ['dead_letter', 'failed', 'running', 'ready', 'blocked', 'completed', 'cancelled'].filter((g) => order.includes(g));
    assert.deepEqual(order, expected, 'attention order');
    for (const g of ['dead_letter', 'failed', 'running', 'ready', 'blocked']) assert.ok(order.includes(g), `${g} is listed`);
    assert.deepEqual(
      (await groups()).filter(([g]) => g !== 'completed' && g !== 'cancelled'),
      [['dead_letter', 'open'], ['failed', 'open'], ['running', 'open'], ['ready', 'open'], ['blocked', 'closed']],
    );
    assert.deepEqual((await groups()).find(([g]) => g === 'completed'), ['completed', 'closed']);
  });

  it('rows lead with what changes; the description and the exact times are in the tooltip', async () => {
    const running = await row('side-run');
    assert.match(String(running.description), /^@side-run-worker · 40% · halfway · lease \d+ min( \d+ s)?$/);
    assert.match(String(running.tooltip), /^side-run — running\nthe side-run task, described at length\nHeld by side-run-worker\nLease ends \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
    assert.match(String(running.tooltip), /Progress: 40% — halfway \((just now|\d+ s ago), \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\)/, 'human time, then the exact one');
    assert.doesNotMatch(String(running.tooltip), /\d{4}-\d\d-\d\dT/, 'no raw ISO timestamp');
    assert.equal(String((await row('side-flaky')).description), 'failed 1/3 · timed out after 300 s · p1000');
    assert.equal(String((await row('side-dead')).description), '1/1 attempts · exit code 3: the schema is gone');
    assert.equal((await row('side-dead')).contextValue, 'task.dead_letter');
    const blocked = (await harness()).tasks;
    const later = blocked.getChildren(blocked.getChildren().find((n) => n.kind === 'group' && n.group === 'blocked')!).find((n) => n.kind === 'task' && n.task.id === 'side-later')!;
    assert.equal(String(blocked.getTreeItem(later).description), 'waits for side-run · p1000');
  });

  it('names a worker once: "agent-1 (claude)", not "agent-1 (claude) (agent-1)"', async () => {
    const a = await api();
    await a.call(InstanceRegister, { worker_id: 'side-agent-1', name: 'side-agent-1 (claude)' });
    const h = await harness();
    // The Instances tree reads the coordinator on a coalescing timer after the event.
    const item = await eventually('the worker row', () => {
      const i = h.instances.getChildren().find((x) => x.worker_id === 'side-agent-1');
      return i && h.instances.getTreeItem(i);
    });
    assert.equal(item.label, 'side-agent-1 (claude)');
    assert.match(String(item.description), /^idle · seen (just now|\d+ s ago)$/);
    await a.call(InstanceDeregister, { worker_id: 'side-agent-1' });
  });

  it('names the views and the panel for what they show, with sizes that give the Tasks tree the room', async () => {
    const manifest = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON;
    const views = manifest.contributes.views.agentHarness as Array<{ id: string; name: string; initialSize: number }>;
    assert.deepEqual(views.map((v) => [v.name, v.initialSize]), [['Tasks', 4], ['Workers', 1], ['Coordination', 1]]);
    const open = manifest.contributes.commands.find((c: { command: string }) => c.command === 'agentHarness.openPanel');
    assert.equal(open.title, 'Open Task Graph');
    await vscode.commands.executeCommand('agentHarness.openPanel');
    await eventually('the Task Graph tab', () => vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputWebview && t.label === 'Task Graph'));
  });
});
