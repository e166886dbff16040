// The Coordination tree and its commands in a real VS Code: what other processes do through the
// CLI (locks, resource holds, messages) shows up in the tree through coordinator events, and the
// group commands act on the shared coordinator. Runs in the same workspace and coordinator as
// extension.test.ts, so every id here starts with `coord-`, and every task ends completed.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Checkpoint, GroupStatus } from '../../../src/core/convergence';
import type { Task } from '../../../src/core/model';
import type { CoordNode, CoordSection } from '../../../src/ui/coordination-view-models';
import { taskItem } from '../../../src/ui/view-models';
import { cli, eventually, harness, workspaceFolder } from './support';
import { MessageList } from '../../../src/protocol/mailbox';
import { PlanImport, TaskClaim, TaskComplete, TaskProgressCommand } from '../../../src/protocol/tasks';

const GROUP = 'coord-streams';

async function socketEnv(worker: string): Promise<Record<string, string>> {
  const api = await (await harness()).connection!.ensure();
  return { HARNESS_SOCKET: api.socketPath, HARNESS_WORKER_ID: worker };
}

/** The rows of one section of the tree, as it renders them now. */
async function rows(section: CoordSection): Promise<Array<{ node: CoordNode; item: vscode.TreeItem }>> {
  const tree = (await harness()).coordination;
  return tree.getChildren({ kind: 'section', section }).map((node) => ({ node, item: tree.getTreeItem(node) }));
}

function ok(result: { code: number; stdout: string; stderr: string }): any {
  assert.equal(result.code, 0, `${result.stderr}${result.stdout}`);
  return JSON.parse(result.stdout).data;
}

describe('the Coordination tree', function () {
  this.timeout(60_000);

  // The tree reads the coordinator only while a person can see it, as VS Code draws it only then.
  before(async () => {
    await vscode.commands.executeCommand('agentHarness.coordination.focus');
  });

  it('shows a lock another process holds: path, mode, holder, fencing token and TTL left', async () => {
    const env = await socketEnv('coord-locker');
    const file = path.join(workspaceFolder(), 'coord-test', 'shared.txt');
    const { lock } = ok(await cli(['lock', 'acquire', file, '--ttl', '120'], env));
    const row = await eventually('the lock row', async () => (await rows('locks')).find((r) => r.item.label === 'coord-test/shared.txt'));
    assert.match(String(row.item.description), new RegExp(`^write · @coord-locker · token ${lock.token} · (1 min 5\\d s|2 min) left$`));
    assert.equal(row.item.contextValue, 'coord.lock.write');
    ok(await cli(['lock', 'release', file], env));
    await eventually('the lock row to go', async () => !(await rows('locks')).some((r) => r.item.label === 'coord-test/shared.txt'));
  });

  it("shows a pool's usage and who holds it while another process holds some", async () => {
    const env = await socketEnv('coord-pooler');
    ok(await cli(['pool', 'set', 'coord-slots', '2'], env));
    // The holder runs until the test lets it go, so the check cannot race its end.
    const release = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'coord-pool-')), 'go');
    const holding = cli(['with-resources', 'coord-slots=1', '--wait', '10', '--', 'sh', '-c', 'while [ ! -e "$0" ]; do sleep 0.05; done', release], env);
    try {
      const row = await eventually('the pool to show 1/2 in use', async () =>
        (await rows('pools')).find((r) => r.item.label === 'coord-slots' && String(r.item.description).startsWith('1/2')),
      );
      assert.equal(row.item.description, '1/2 · 1 holder');
      const tree = (await harness()).coordination;
      const holders = tree.getChildren(row.node).map((n) => tree.getTreeItem(n));
      assert.equal(holders.length, 1);
      assert.match(String(holders[0]!.description), /^@coord-pooler · holds 1 · /);
    } finally {
      fs.writeFileSync(release, '');
    }
    assert.equal((await holding).code, 0);
    await eventually('the pool to be free again', async () => (await rows('pools')).find((r) => r.item.label === 'coord-slots' && String(r.item.description) === '0/2'));
  });

  it('marks a pending message to a worker that never registered; Drop Message removes it', async () => {
    const env = await socketEnv('coord-sender');
    const sent = ok(await cli(['msg', 'send', '--to', 'coord-ghost', 'please rebase on main'], env));
    const row = await eventually('the message row', async () =>
      (await rows('messages')).find((r) => r.node.kind === 'message' && r.node.message.id === sent.message_id),
    );
    assert.equal(row.item.label, '→ coord-ghost');
    assert.match(String(row.item.description), /^⚠ never registered · (just now|\d+ s ago) · please rebase on main$/);
    assert.equal(row.item.contextValue, 'coord.message.unreachable');
    // The row's own node, as its inline action passes it; the modal confirmation is skipped.
    const dropped = await vscode.commands.executeCommand<{ recipients: string[] }>('agentHarness.dropMessage', row.node, { confirm: false });
    assert.deepEqual(dropped?.recipients, ['coord-ghost']);
    await eventually('the message row to go', async () => !(await rows('messages')).some((r) => r.node.kind === 'message' && r.node.message.id === sent.message_id));
    const api = await (await harness()).connection!.ensure();
    const { messages } = await api.call(MessageList);
    assert.ok(!messages.some((m) => m.id === sent.message_id));
  });

  const leases = new Map<string, Task>();

  it("Record Checkpoint on a group row; the group's checkpoint, streams and progress show under it", async () => {
    const h = await harness();
    const api = await h.connection!.ensure();
    // A capability no other test's worker has, so nothing else claims these.
    const stream = (id: string) => ({ id, group: GROUP, capabilities: ['coord-test'], description: `stream ${id}` });
    await api.call(PlanImport, { tasks: [stream('coord-s1'), stream('coord-s2')] });
    for (const [worker, id] of [['coord-w1', 'coord-s1'], ['coord-w2', 'coord-s2']] as const) {
      const { task } = await api.call(TaskClaim, { worker_id: worker, capabilities: ['coord-test'] });
      assert.ok(task, `${worker} claimed a task`);
      leases.set(id, task);
    }
    const s1 = leases.get('coord-s1')!;
    assert.equal(s1.id, 'coord-s1', 'claims in plan order');
    await api.call(TaskProgressCommand, { worker_id: 'coord-w1', task_id: s1.id, fencing_token: s1.fencing_token, percent: 40, message: 'halfway' });

    const group = await eventually('the group row, open', async () =>
      (await rows('groups')).find((r) => r.item.label === GROUP && r.item.description === '0/2 · 2 to go'),
    );
    assert.equal(group.item.contextValue, 'coord.group.open');
    const tree = h.coordination;
    assert.equal(tree.getTreeItem(tree.getChildren(group.node)[0]!).label, 'No checkpoint recorded');

    const checkpoint = await vscode.commands.executeCommand<Checkpoint>('agentHarness.recordCheckpoint', group.node);
    assert.equal(checkpoint?.streams.length, 2);
    const children = await eventually('the checkpoint under the group', () => {
      const node = tree.getChildren({ kind: 'section', section: 'groups' }).find((n) => n.kind === 'group' && n.entry.status.group === GROUP);
      const items = node ? tree.getChildren(node).map((n) => tree.getTreeItem(n)) : [];
      return items[0]?.label === 'Checkpoint' ? items : undefined;
    });
    assert.match(String(children[0]!.description), new RegExp(`(ago|just now) · ${checkpoint!.timestamp.replace(/\./g, "\\.")}$`));
    assert.deepEqual(children.slice(1).map((i) => [i.label, i.description]), [
      ['coord-s1', 'running · 40% · halfway · @coord-w1'],
      ['coord-s2', 'running · @coord-w2'],
    ]);

    // The Tasks tree's row of a running stream shows its progress and its group.
    const task = await eventually('the progress in the task list', () => h.tasks.snapshot.find((t) => t.id === 'coord-s1' && t.progress));
    const row = taskItem(task, 'running', Date.now());
    assert.match(row.description!, /40% · halfway/);
    assert.match(row.description!, new RegExp(` · ${GROUP}$`));
  });

  it('Wait for Group resolves when every task of the group has completed, with the final status', async () => {
    const api = await (await harness()).connection!.ensure();
    let settled = false;
    const waiting = Promise.resolve(vscode.commands.executeCommand<GroupStatus>('agentHarness.waitForGroup', GROUP)).finally(() => (settled = true));
    const complete = async (id: string, worker: string) => {
      const t = leases.get(id)!;
      await api.call(TaskComplete, { worker_id: worker, task_id: id, fencing_token: t.fencing_token, result: { ok: id } });
    };
    await complete('coord-s1', 'coord-w1');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(settled, false, 'still waiting with one stream running');
    await complete('coord-s2', 'coord-w2');
    const final = await waiting;
    assert.equal(final?.done, true);
    assert.equal(final?.completed, 2);
    assert.equal(final?.failed, 0);
    await eventually('the group row to show done', async () => (await rows('groups')).find((r) => r.item.label === GROUP && r.item.description === '2/2 · done'));
  });
});
