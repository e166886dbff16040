import * as assert from 'node:assert/strict';
import type { Task } from '../../src/core/model';
import {
  coordinationChildren,
  coordinationItem,
  EMPTY_COORDINATION,
  fetchCoordination,
  groupNames,
  type CoordinationModel,
  type CoordNode,
  type Requester,
} from '../../src/ui/coordination-view-models';

const NOW = Date.parse('2026-01-01T00:01:00.000Z');
const at = (s: number) => new Date(NOW + s * 1000).toISOString();

function task(id: string, over: Partial<Task> = {}): Task {
  return {
    id, description: '', dependencies: [], priority: 0, capabilities: [], timeout_seconds: 60, max_attempts: 3,
    attempts: 0, status: 'pending', claimed_by: null, fencing_token: 0, started_at: null, lease_expires_at: null,
    completed_at: null, duration_ms: null, result: null, error: null, created_at: at(-60), payload: null,
    ...over,
  };
}

function model(over: Partial<CoordinationModel> = {}): CoordinationModel {
  return { ...EMPTY_COORDINATION, ...over };
}

const labels = (m: CoordinationModel, nodes: CoordNode[]) => nodes.map((n) => coordinationItem(m, n, NOW).label);

describe('coordination view models', () => {
  it('shows only the sections that have items, in a fixed order; nothing at all when empty', () => {
    assert.deepEqual(coordinationChildren(EMPTY_COORDINATION), []);
    const m = model({
      messages: [{ id: 'msg-1', to: 'w1', recipient: 'w1', from: null, body: 'hi', sent_at: at(-5) }],
      pools: [{ name: 'gpu', capacity: 1, updated_at: at(-60), used: 0, free: 1, holders: [] }],
    });
    assert.deepEqual(labels(m, coordinationChildren(m)), ['Resource pools', 'Messages']);
    const section = coordinationItem(m, { kind: 'section', section: 'messages' }, NOW);
    assert.equal(section.description, '1');
    assert.equal(section.expanded, true);
  });

  it('a lock row per path: mode, holders, fencing tokens, TTL left and the line waiting', () => {
    const m = model({
      locks: [
        { token: 7, path: 'CHANGELOG.md', mode: 'write', worker_id: 'w1', acquired_at: at(-10), expires_at: at(50), ttl_seconds: 60 },
        { token: 8, path: 'src/gen.ts', mode: 'read', worker_id: 'a', acquired_at: at(-10), expires_at: at(90), ttl_seconds: 100 },
        { token: 9, path: 'src/gen.ts', mode: 'read', worker_id: 'b', acquired_at: at(-1), expires_at: at(30), ttl_seconds: 31 },
      ],
      lockWaiting: [{ path: 'CHANGELOG.md', worker_id: 'w2' }],
    });
    const rows = coordinationChildren(m, { kind: 'section', section: 'locks' });
    assert.deepEqual(labels(m, rows), ['CHANGELOG.md', 'src/gen.ts']);
    const [write, read] = rows.map((n) => coordinationItem(m, n, NOW));
    assert.equal(write!.description, 'write · @w1 · token 7 · 50 s left · 1 waiting');
    assert.equal(read!.description, 'read · @a, @b · token 8, 9 · 30 s left', 'the soonest expiry of the shared holders');
    assert.equal(read!.contextValue, 'coord.lock.read');
    assert.equal(coordinationItem(m, { kind: 'section', section: 'locks' }, NOW).description, '2', 'counted by path');
  });

  it('a pool shows used/capacity, with who holds what as children', () => {
    const pool = {
      name: 'cpu', capacity: 4, updated_at: at(-60), used: 3, free: 1,
      holders: [
        { kind: 'task' as const, id: 'build-a', worker_id: 'w1', amount: 2, expires_at: at(100) },
        { kind: 'hold' as const, id: 'hold-3', worker_id: 'term', amount: 1, expires_at: at(20) },
      ],
    };
    const m = model({ pools: [pool] });
    const item = coordinationItem(m, { kind: 'pool', pool }, NOW);
    assert.equal(item.description, '3/4 · 2 holders');
    assert.equal(item.collapsible, true);
    const holders = coordinationChildren(m, { kind: 'pool', pool }).map((n) => coordinationItem(m, n, NOW));
    assert.deepEqual(holders.map((h) => [h.label, h.description]), [
      ['task build-a', '@w1 · holds 2 · 1 min 40 s left'],
      ['hold hold-3', '@term · holds 1 · 20 s left'],
    ]);
    const full = coordinationItem(m, { kind: 'pool', pool: { ...pool, used: 4, free: 0 } }, NOW);
    assert.equal(full.iconColor, 'charts.orange');
  });

  it('messages: a row per delivery, oldest first, with age; unreachable recipients are marked', () => {
    const m = model({
      messages: [
        { id: 'msg-2', to: 'topic:builds', recipient: 'gone', from: 'ci', body: { status: 'green' }, sent_at: at(-30) },
        { id: 'msg-2', to: 'topic:builds', recipient: 'w1', from: 'ci', body: { status: 'green' }, sent_at: at(-30) },
        { id: 'msg-3', to: 'ghost', recipient: 'ghost', from: null, body: 'x'.repeat(100), sent_at: at(-2) },
      ],
      workers: { w1: 'live', gone: 'stale' },
    });
    const items = coordinationChildren(m, { kind: 'section', section: 'messages' }).map((n) => coordinationItem(m, n, NOW));
    assert.deepEqual(items.map((i) => [i.label, i.description]), [
      ['→ gone', '⚠ stale · 30 s ago · {"status":"green"}'],
      ['→ w1', '30 s ago · {"status":"green"}'],
      ['→ ghost', `⚠ never registered · just now · ${'x'.repeat(59)}…`],
    ]);
    assert.match(items[2]!.tooltip, /never registered: nobody may ever read it/);
    assert.deepEqual(items.map((i) => i.contextValue), ['coord.message.unreachable', 'coord.message', 'coord.message.unreachable']);
    assert.equal(new Set(items.map((i) => i.id)).size, 3, 'ids are unique per delivery');
    assert.match(items[0]!.tooltip, /msg-2 to topic:builds \(delivered to gone\) from ci/);
  });

  it('a group shows completed/total and whether it is done; its children are the latest checkpoint', () => {
    const streams = [
      { task_id: 's1', status: 'completed' as const, claimed_by: null, progress: null, result: null, error: null, completed_at: at(-1) },
      { task_id: 's2', status: 'running' as const, claimed_by: 'w2', progress: { percent: 40, message: 'half', at: at(-3) }, result: null, error: null, completed_at: null },
    ];
    const status = { group: 'tests', total: 2, finished: 1, completed: 1, failed: 0, done: false, streams };
    const checkpoint = { group: 'tests', timestamp: at(-20), streams: streams.map(({ task_id, status: s, claimed_by, progress }) => ({ task_id, status: s, claimed_by, progress })) };
    const m = model({ groups: [{ status, checkpoint }] });
    const node: CoordNode = { kind: 'group', entry: { status, checkpoint } };
    const row = coordinationItem(m, node, NOW);
    assert.equal(row.description, '1/2 · 1 to go');
    assert.equal(row.contextValue, 'coord.group.open');
    const children = coordinationChildren(m, node).map((n) => coordinationItem(m, n, NOW));
    assert.deepEqual(children.map((c) => [c.label, c.description]), [
      ['Checkpoint', `20 s ago · ${at(-20)}`],
      ['s1', 'completed'],
      ['s2', 'running · 40% · half · @w2'],
    ]);
    const failed = { ...status, finished: 2, failed: 1, done: true };
    const done = coordinationItem(m, { kind: 'group', entry: { status: failed, checkpoint: null } }, NOW);
    assert.equal(done.description, '1/2 · done, 1 failed');
    assert.equal(done.contextValue, 'coord.group.done');
    const none = coordinationChildren(m, { kind: 'group', entry: { status, checkpoint: null } });
    assert.deepEqual(labels(m, none), ['No checkpoint recorded']);
  });

  it('fetches in one round: group status from the tasks given, the latest checkpoint per group', async () => {
    const requests: Array<[string, unknown]> = [];
    const replies: Record<string, unknown> = {
      lock_list: { locks: [], waiting: [] },
      pool_list: { pools: [], waiting: [] },
      message_list: {
        messages: [
          { id: 'msg-9', to: 'b', recipient: 'b', from: null, body: 1, sent_at: at(-1) },
          { id: 'msg-4', to: 'a', recipient: 'a', from: null, body: 1, sent_at: at(-9) },
        ],
        topics: {},
      },
      instance_list: { instances: [{ worker_id: 'a', status: 'live' }] },
    };
    const api: Requester = {
      call: async (command, params?: unknown) => {
        requests.push([command.name, params]);
        if (command.name === 'checkpoint_list') {
          const g = (params as { group: string }).group;
          return { checkpoints: g === 'b' ? [{ group: 'b', timestamp: at(-50), streams: [] }, { group: 'b', timestamp: at(-5), streams: [] }] : [] } as never;
        }
        return replies[command.name] as never;
      },
    };
    const tasks = [task('t1', { group: 'b', status: 'completed' }), task('t2', { group: 'a' }), task('t3'), task('t4', { group: 'b', status: 'completed' })];
    assert.deepEqual(groupNames(tasks), ['a', 'b']);
    const m = await fetchCoordination(api, new Map([['b', [tasks[0]!, tasks[3]!]], ['a', [tasks[1]!]]]));
    assert.deepEqual(requests.map(([c]) => c).sort(), ['checkpoint_list', 'checkpoint_list', 'instance_list', 'lock_list', 'message_list', 'pool_list']);
    assert.deepEqual(m.messages.map((x) => x.id), ['msg-4', 'msg-9'], 'oldest first');
    assert.deepEqual(m.workers, { a: 'live' });
    assert.deepEqual(m.groups.map((g) => [g.status.group, g.status.completed, g.status.total, g.status.done, g.checkpoint?.timestamp ?? null]), [
      ['a', 0, 1, false, null],
      ['b', 2, 2, true, at(-5)],
    ]);
  });
});
