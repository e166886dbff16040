// The views with 100,000 tasks in the store, in a real VS Code: the Tasks tree opens at once and
// lists the first tasks of each group with "Show more", and a coordinator event reaches the
// Tasks tree and the rendered panel (its summary) from the event alone, the latencies measured
// here and printed against the 250 ms target.
// Runs last (the file sorts after the others): the 100,000 tasks stay in the shared coordinator.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { Task } from '../../../src/protocol/model';
import { PlanImport, TaskClaim, TaskComplete } from '../../../src/protocol/tasks';
import { GROUP_PAGE, type TaskNode } from '../../../src/host/trees';
import { syntheticPlan } from '../../support/plans';
import { eventually, harness, measure } from './support';

const TASKS = 100_000;
/** The target for event → view, reported; asserted only for the host-side tree (20× margin). */
const LATENCY_TARGET_MS = 250;
/** The panel crosses code-server and Chromium, whose trip varies with the machine's load: a
 * regression guard well under what a refetch of every task costs (about 1.7 s), not the target. */
const PANEL_GUARD_MS = 1000;
const ROUNDS = 15;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** What VS Code asks of the tree after a refresh: the groups, and the rows of the open ones. */
function readTree(tree: vscode.TreeDataProvider<TaskNode>): number {
  let rows = 0;
  for (const group of tree.getChildren()! as TaskNode[]) {
    const item = tree.getTreeItem(group) as vscode.TreeItem;
    if (item.collapsibleState !== vscode.TreeItemCollapsibleState.Expanded) continue;
    for (const child of tree.getChildren(group)! as TaskNode[]) {
      tree.getTreeItem(child);
      rows++;
    }
  }
  return rows;
}

describe(`the views with ${TASKS.toLocaleString('en-US')} tasks`, function () {
  this.timeout(600_000);

  before(async () => {
    const h = await harness();
    const a = await h.connection!.ensure();
    // Stage numbers keep the ids apart from every other suite's.
    const plan = syntheticPlan(TASKS, 11).map((t) => ({ ...t, capabilities: ['scale'] }));
    const started = Date.now();
    for (let i = 0; i < plan.length; i += 10_000) await a.call(PlanImport, { tasks: plan.slice(i, i + 10_000) });
    await eventually('the cache to hold every task', () => h.cache.size >= TASKS, 120_000);
    measure(`imported ${TASKS.toLocaleString('en-US')} tasks in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  it('the Tasks tree opens at once, each group listing its first tasks and "Show more"', async () => {
    const h = await harness();
    const started = performance.now();
    const rows = readTree(h.tasks);
    const ms = performance.now() - started;
    measure(`Tasks tree read (groups and ${rows} rows of the open ones) with ${h.cache.size.toLocaleString('en-US')} tasks: ${ms.toFixed(1)} ms`);
    assert.ok(ms < LATENCY_TARGET_MS, `${ms.toFixed(0)} ms`);
    const blocked = h.tasks.getChildren().find((n) => n.kind === 'group' && n.group === 'blocked')!;
    const children = h.tasks.getChildren(blocked);
    assert.equal(children.length, GROUP_PAGE + 1);
    const more = children.at(-1)!;
    assert.equal(more.kind, 'more');
    const item = h.tasks.getTreeItem(more);
    assert.match(String(item.label), /^Show 200 more$/);
    assert.equal(item.command?.command, 'agentHarness.showMoreTasks');
    await vscode.commands.executeCommand(item.command!.command, ...(item.command!.arguments ?? []));
    assert.equal(h.tasks.getChildren(blocked).length, 2 * GROUP_PAGE + 1);
  });

  it('a coordinator event reaches the Tasks tree and the rendered panel without relisting the tasks (latencies printed)', async () => {
    const h = await harness();
    const a = await h.connection!.ensure();
    await vscode.commands.executeCommand('agentHarness.openPanel');
    const tree: number[] = [];
    const treeRead: number[] = [];
    const panel: number[] = [];
    const timings: Array<{ waitMs: number; fetchMs: number; tripMs: number; renderMs: number }> = [];
    const listing = h.cache.lastLoad;
    /** Runs `act`, then waits until the panel has rendered a state that answers its event. */
    const panelAfter = async (act: () => Promise<unknown>) => {
      const before = h.panelEventToRenderedMs();
      await act();
      const ms = await eventually('the panel to render the change', () => {
        const latency = h.panelEventToRenderedMs();
        return latency !== undefined && latency !== before ? latency : undefined;
      }, 60_000);
      timings.push(h.panelStateTimings()!);
      return ms;
    };
    // Round 0 warms up (the webview loads, the summary is drawn once): not counted.
    for (let i = 0; i <= ROUNDS; i++) {
      const refreshed = new Promise<void>((resolve) => {
        const sub = h.tasks.onDidRefresh(() => {
          sub.dispose();
          resolve();
        });
      });
      // An event like every worker's: a claim (task:claimed), then its completion
      // (task:completed), which makes the task's dependents ready.
      let task!: Task;
      const claimMs = await panelAfter(async () => {
        task = (await a.call(TaskClaim, { worker_id: `scale-worker-${i}`, capabilities: ['scale'] })).task!;
        await refreshed;
      });
      const refreshMs = h.lastEventToRefreshMs!;
      const readStarted = performance.now();
      readTree(h.tasks);
      const readMs = performance.now() - readStarted;
      const completeMs = await panelAfter(() => a.call(TaskComplete, { worker_id: `scale-worker-${i}`, task_id: task.id, fencing_token: task.fencing_token }));
      assert.equal(h.cache.get(task.id)?.status, 'completed');
      if (i === 0) continue;
      tree.push(refreshMs);
      treeRead.push(refreshMs + readMs);
      panel.push(claimMs, completeMs);
    }
    const line = (name: string, xs: number[]) => `${name}: median ${median(xs).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;
    measure(`with ${h.cache.size.toLocaleString('en-US')} tasks, over ${ROUNDS} claims and completions:`);
    measure(`  ${line('event → Tasks tree refreshed', tree)}`);
    measure(`  ${line('event → Tasks tree refreshed and its open groups read', treeRead)}`);
    measure(`  ${line('event → panel rendered (webview answered)', panel)}`);
    const part = (key: 'waitMs' | 'fetchMs' | 'tripMs' | 'renderMs') => timings.slice(2).map((t) => t[key]);
    measure(`    of which ${line('waiting to be read', part('waitMs'))}; ${line('the host reading the state', part('fetchMs'))}`);
    measure(`    ${line('posted to answered (the trip through VS Code and back)', part('tripMs'))}; ${line('the webview checking and rendering it', part('renderMs'))}`);
    const met = (xs: number[]) => (median(xs) < LATENCY_TARGET_MS ? 'met' : 'MISSED');
    measure(`  target ${LATENCY_TARGET_MS} ms: tree ${met(treeRead)}, panel ${met(panel)}`);
    assert.equal(h.cache.lastLoad, listing, 'events update the views; nothing listed the tasks again');
    assert.ok(median(tree) < LATENCY_TARGET_MS && median(treeRead) < LATENCY_TARGET_MS, line('tree', treeRead));
    assert.ok(median(panel) < PANEL_GUARD_MS, line('panel', panel));
  });
});
