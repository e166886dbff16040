// Worker targets in a real VS Code: the window's coordinator runs each worker of a target as a
// terminal named by target and slot (its process is `harness work`), the Workers tree groups them
// under their target, and Scale Target and Restart Worker act on them. Runs in the workspace and
// coordinator the other suites share: its ids start with `vsfleet`, its tasks need the
// capability `vsfleet` (and come first by priority), and the target is removed at the end (its
// terminals with it). Its workers may also complete what earlier suites left ready (tasks that
// need no capability); no later suite counts on those.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { WorkerNode } from '../../../src/host/trees';
import type { HarnessApi } from '../../../src/protocol/api';
import { TargetAdd, TargetList, TargetRemove } from '../../../src/protocol/targets';
import { TaskAdd, TaskGet } from '../../../src/protocol/tasks';
import { CommandId } from '../../../src/ui/ids';
import { eventually, harness } from './support';

const TARGET = 'vsfleet';

const terminal = (slot: number) => vscode.window.terminals.find((t) => t.name === `Harness ${TARGET} #${slot}`);

/** The target's row and its workers' rows in the Workers tree, as the tree renders them now. */
async function targetRows(api: HarnessApi): Promise<{ target: vscode.TreeItem; slots: vscode.TreeItem[] } | undefined> {
  const tree = (await harness()).instances;
  await tree.refresh(api);
  const node = tree.getChildren().find((n): n is Extract<WorkerNode, { kind: 'target' }> => n.kind === 'target' && n.target.name === TARGET);
  if (!node) return undefined;
  return { target: tree.getTreeItem(node), slots: tree.getChildren(node).map((n) => tree.getTreeItem(n)) };
}

async function slotsOf(api: HarnessApi) {
  return (await api.call(TargetList)).targets.find((t) => t.name === TARGET)?.workers ?? [];
}

describe('worker targets in VS Code', function () {
  this.timeout(120_000);
  let api: HarnessApi;

  before(async () => {
    api = await (await harness()).connection!.ensure();
  });

  after(async () => {
    await api.call(TargetRemove, { name: TARGET }).catch(() => {});
    await eventually('the target\'s terminals to close', () => (terminal(1) || terminal(2) ? undefined : true), 30_000);
  });

  it('runs its workers as terminals named by target and slot, which complete tasks; the Workers tree groups them under the target', async () => {
    await api.call(TargetAdd, { name: TARGET, argv: ['true'], min: 1, max: 1, capabilities: [TARGET] });
    await eventually('the terminal "Harness vsfleet #1"', () => terminal(1), 30_000);
    await api.call(TaskAdd, { task_id: 'vsfleet-a', capabilities: [TARGET], priority: 1000 });
    const done = await eventually('vsfleet-a completed by the target\'s worker', async () => {
      const { task } = await api.call(TaskGet, { task_id: 'vsfleet-a' });
      return task.status === 'completed' ? task : undefined;
    }, 30_000);
    assert.equal(done.claimed_by, `${TARGET}-1`);
    const rows = await eventually('the target row with its live worker', async () => {
      const r = await targetRows(api);
      return r && r.slots.length === 1 && /^1 of 1\b/.test(String(r.target.description)) ? r : undefined;
    }, 30_000);
    assert.equal(rows.target.label, TARGET);
    assert.match(String(rows.target.description), /vsfleet/);
    assert.equal(rows.target.contextValue, 'target.ok');
    assert.equal(rows.slots[0]!.label, `${TARGET} #1`);
  });

  it('Scale Target starts a second terminal; Restart Worker replaces a worker\'s process and terminal', async () => {
    await vscode.commands.executeCommand(CommandId.scaleTarget, TARGET, { min: 2, max: 2 });
    await eventually('the terminal "Harness vsfleet #2"', () => terminal(2), 30_000);
    await eventually('two slots running', async () => ((await slotsOf(api)).filter((s) => s.state === 'running').length === 2 ? true : undefined), 30_000);

    const before = (await slotsOf(api)).find((s) => s.slot === 1)!;
    const oldTerminal = terminal(1)!;
    await vscode.commands.executeCommand(CommandId.restartWorker, `${TARGET}-1`);
    const after = await eventually('slot 1 started again', async () => {
      const s = (await slotsOf(api)).find((x) => x.slot === 1);
      return s && s.generation > before.generation && s.state === 'running' ? s : undefined;
    }, 30_000);
    assert.notEqual(after.pid, before.pid, 'a new process');
    await eventually('a new terminal for slot 1', () => (terminal(1) && terminal(1) !== oldTerminal ? true : undefined), 30_000);
    assert.equal(vscode.window.terminals.filter((t) => t.name.startsWith(`Harness ${TARGET} #`)).length, 2, 'still two workers, no extra one');
    const target = (await api.call(TargetList)).targets.find((t) => t.name === TARGET)!;
    assert.equal(target.crashes, 0, 'a restart is not a crash');
  });
});
