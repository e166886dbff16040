// The TaskCache against a real Coordinator: it lists once, then follows the coordinator's own
// events, and after any sequence of operations it holds exactly what a fresh listing would.
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { ManualClock } from '../../src/core/clock';
import { Coordinator, DEFAULT_CONFIG } from '../../src/core/coordinator';
import { MemoryStore } from '../../src/core/memory-store';
import type { Task } from '../../src/core/model';
import type { EventLine } from '../../src/protocol/messages';
import type { AnyCommand } from '../../src/protocol/command';
import { ATTENTION_ORDER, TaskCache, type TaskSource } from '../../src/ui/task-cache';

/** A TaskSource answering by command name, as the coordinator's dispatcher would. */
function sourceOf(mode: TaskSource['mode'], answer: (command: string, params: Record<string, unknown>) => Promise<unknown>): TaskSource {
  return { mode, call: ((command: AnyCommand, params?: unknown) => answer(command.name, (params ?? {}) as Record<string, unknown>)) as TaskSource['call'] };
}

function harness() {
  // No retry backoff: these tests are about the cache following claims and failures as they come.
  const clock = new ManualClock();
  const coordinator = new Coordinator(new MemoryStore(), { ...DEFAULT_CONFIG, retryBackoff: null }, clock);
  const requests: string[] = [];
  // In-process, as the extension runs it: the handler reads the store when it is called.
  const source = sourceOf('in-process', async (command, params) => {
    requests.push(command);
    if (command === 'task_list') return { tasks: coordinator.listTasks(), next_cursor: null };
    if (command === 'task_get') return { task: coordinator.getTask(params.task_id as string) };
    throw new Error(`unexpected ${command}`);
  });
  const cache = new TaskCache();
  coordinator.events.onAny((event, data) => cache.applyEvent({ event, data, ts: '' }));
  const fresh = async () => {
    const other = new TaskCache();
    await other.reload(sourceOf('in-process', async () => ({ tasks: coordinator.listTasks(), next_cursor: null })));
    return other;
  };
  return { coordinator, clock, source, cache, requests, fresh };
}

/** What a view reads of a cache: every task, its display status and sidebar group, the counts. */
function view(cache: TaskCache) {
  return {
    rows: [...cache.all()].sort((a, b) => a.id.localeCompare(b.id)).map((t) => ({ task: t, display: cache.displayStatus(t), group: cache.attentionGroup(t.id) })),
    counts: cache.countsByDisplay(),
    order: ATTENTION_ORDER.map((g) => cache.list(g).map((t) => t.id)),
    groups: Object.fromEntries([...cache.groupStatusCounts()].sort(([a], [b]) => a.localeCompare(b))),
  };
}

describe('TaskCache', () => {
  it('lists once, then follows events: a completion makes its dependents ready without a refetch', async () => {
    const h = harness();
    await h.coordinator.addTasks([{ id: 'a' }, { id: 'b', dependencies: ['a'] }, { id: 'c', dependencies: ['a', 'b'] }]);
    await h.cache.reload(h.source);
    assert.deepEqual(h.cache.countsByDisplay(), { ready: 1, blocked: 2, running: 0, completed: 0, dead_letter: 0, cancelled: 0 });
    const claim = await h.coordinator.claim({ worker_id: 'w' });
    assert.equal(h.cache.attentionGroup('a'), 'running');
    await h.coordinator.complete({ worker_id: 'w', task_id: 'a', fencing_token: claim.task!.fencing_token });
    assert.equal(h.cache.displayStatus(h.cache.get('b')!), 'ready');
    assert.equal(h.cache.displayStatus(h.cache.get('c')!), 'blocked', 'c still waits for b');
    assert.deepEqual(h.requests, ['task_list'], 'no request after the first listing');
    assert.deepEqual(view(h.cache), view(await h.fresh()));
  });

  it('puts failed-with-retries first, then dead letters, and lists each group in its order with a limit', async () => {
    const h = harness();
    await h.coordinator.addTasks([{ id: 'low', priority: 1 }, { id: 'high', priority: 9 }, { id: 'flaky', max_attempts: 2, priority: 5 }]);
    await h.cache.reload(h.source);
    assert.deepEqual(h.cache.list('ready').map((t) => t.id), ['high', 'flaky', 'low'], 'claim order: priority first');
    assert.deepEqual(h.cache.list('ready', 2).map((t) => t.id), ['high', 'flaky']);
    const high = (await h.coordinator.claim({ worker_id: 'w' })).task!;
    const flaky = (await h.coordinator.claim({ worker_id: 'w2' })).task!;
    assert.equal(flaky.id, 'flaky');
    await h.coordinator.fail({ worker_id: 'w2', task_id: 'flaky', fencing_token: flaky.fencing_token, error: 'boom' });
    assert.equal(h.cache.attentionGroup('flaky'), 'failed', 'pending again, with its error: worth a look');
    assert.equal(h.cache.displayStatus(h.cache.get('flaky')!), 'ready', 'the graph still shows it ready');
    const again = (await h.coordinator.claim({ worker_id: 'w2' })).task!;
    await h.coordinator.fail({ worker_id: 'w2', task_id: 'flaky', fencing_token: again.fencing_token, error: 'boom again' });
    assert.equal(h.cache.attentionGroup('flaky'), 'dead_letter');
    assert.equal(h.cache.attentionGroup('high'), 'running');
    assert.equal(h.cache.count('failed'), 0);
    assert.equal(high.id, 'high');
    assert.deepEqual(view(h.cache), view(await h.fresh()));
  });

  it('after any sequence of operations holds exactly what a fresh listing holds', async () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), deps: fc.array(fc.nat(30), { maxLength: 3 }), priority: fc.integer({ min: -2, max: 2 }) }),
      fc.record({ kind: fc.constant('claim' as const), worker: fc.nat(2) }),
      fc.record({ kind: fc.constantFrom('complete' as const, 'fail' as const, 'failHard' as const, 'release' as const, 'cancel' as const, 'retry' as const, 'heartbeat' as const), pick: fc.nat(50) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 60 }), async (ops) => {
        const h = harness();
        await h.cache.reload(h.source);
        for (const g of ATTENTION_ORDER) h.cache.list(g); // the lists kept in order from here on
        let n = 0;
        for (const o of ops) {
          const all = h.coordinator.listTasks();
          const running = all.filter((t) => t.status === 'running');
          try {
            if (o.kind === 'add') {
              const deps = [...new Set(o.deps.filter((d) => d < n).map((d) => `t${d}`))];
              const group = n % 3 ? { group: `g${n % 4}` } : {};
              await h.coordinator.addTasks([{ id: `t${n++}`, dependencies: deps, priority: o.priority, max_attempts: 2, ...group }]);
            } else if (o.kind === 'claim') await h.coordinator.claim({ worker_id: `w${o.worker}` });
            else if (o.kind === 'retry' || o.kind === 'cancel') {
              const t = all[o.pick % Math.max(1, all.length)];
              if (t) await (o.kind === 'retry' ? h.coordinator.retry({ task_id: t.id }) : h.coordinator.cancel({ task_id: t.id }));
            } else {
              const t = running[o.pick % Math.max(1, running.length)];
              if (!t) continue;
              const lease = { worker_id: t.claimed_by!, task_id: t.id, fencing_token: t.fencing_token };
              if (o.kind === 'complete') await h.coordinator.complete(lease);
              else if (o.kind === 'heartbeat') {
                h.clock.advance(2); // a later lease: the running order changes
                await h.coordinator.heartbeat(lease);
              }
              else if (o.kind === 'release') await h.coordinator.release(lease);
              else await h.coordinator.fail({ ...lease, error: 'x', retry: o.kind === 'fail' });
            }
          } catch {
            // An operation the coordinator refuses (retry of a live task…) changes nothing.
          }
        }
        assert.deepEqual(view(h.cache), view(await h.fresh()));
        assert.deepEqual(h.requests, ['task_list']);
      }),
      { numRuns: 60 },
    );
  });

  it('in-process, an event that comes while the list is being read wins over the list', async () => {
    const h = harness();
    await h.coordinator.addTasks([{ id: 'a' }]);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = sourceOf('in-process', async () => {
      const tasks = h.coordinator.listTasks(); // read now, as the in-process API does
      await gate;
      return { tasks, next_cursor: null };
    });
    const loading = h.cache.reload(slow);
    await h.coordinator.claim({ worker_id: 'w' }); // its event arrives before the list does
    release();
    await loading;
    assert.equal(h.cache.get('a')!.status, 'running', 'the newer event is kept');
  });

  it('over the socket, an event that comes before the reply is older than the list', async () => {
    const cache = new TaskCache();
    const base: Task = { id: 'a', description: '', dependencies: [], priority: 0, capabilities: [], timeout_seconds: 60, max_attempts: 3, attempts: 1, status: 'running', claimed_by: 'w', fencing_token: 1, started_at: null, lease_expires_at: null, completed_at: null, duration_ms: null, result: null, error: null, created_at: '2026-01-01T00:00:00.000Z', payload: null };
    let reply!: (tasks: Task[]) => void;
    const source = sourceOf('client', () => new Promise((resolve) => (reply = (tasks) => resolve({ tasks, next_cursor: null }))));
    const loading = cache.reload(source);
    // The server wrote this event before it read the list: the list already has what came after.
    cache.applyEvent({ event: 'task:added', data: { tasks: [{ ...base, status: 'pending', claimed_by: null, attempts: 0 }] }, ts: '' } satisfies EventLine);
    reply([base]);
    await loading;
    assert.equal(cache.get('a')!.status, 'running');
    cache.applyEvent({ event: 'task:completed', data: { task: { ...base, status: 'completed' } }, ts: '' });
    assert.equal(cache.get('a')!.status, 'completed', 'events after the reply apply');
  });

  it('over the socket, a listing in pages: each page is as new as its own reply', async () => {
    const cache = new TaskCache();
    const task = (id: string, status: Task['status']): Task => ({ id, description: '', dependencies: [], priority: 0, capabilities: [], timeout_seconds: 60, max_attempts: 3, attempts: status === 'running' ? 1 : 0, status, claimed_by: status === 'running' ? 'w' : null, fencing_token: status === 'running' ? 1 : 0, started_at: null, lease_expires_at: null, completed_at: null, duration_ms: null, result: null, error: null, created_at: '2026-01-01T00:00:00.000Z', payload: null });
    const replies: Array<(page: { tasks: Task[]; next_cursor: string | null }) => void> = [];
    const cursors: unknown[] = [];
    const source = sourceOf('client', (_command, params) => {
      cursors.push(params.cursor);
      return new Promise((resolve) => replies.push(resolve));
    });
    const loading = cache.reload(source);
    await new Promise(setImmediate);
    replies[0]!({ tasks: [task('a', 'pending')], next_cursor: 'after-a' });
    await new Promise(setImmediate);
    // Between the two replies: a was claimed (newer than page 1), and b changed before page 2 was read.
    cache.applyEvent({ event: 'task:claimed', data: { task: task('a', 'running'), worker_id: 'w', is_retry: false, is_reclaim: false }, ts: '' } satisfies EventLine);
    cache.applyEvent({ event: 'task:added', data: { tasks: [task('b', 'pending')] }, ts: '' } satisfies EventLine);
    replies[1]!({ tasks: [task('b', 'running')], next_cursor: null });
    await loading;
    assert.deepEqual(cursors, [undefined, 'after-a'], 'the second page asked for after the first');
    assert.equal(cache.get('a')!.status, 'running', "the claim after page 1's reply wins over page 1");
    assert.equal(cache.get('b')!.status, 'running', "page 2 is newer than the event that came before its reply");
  });

  it("follows the leases a leaving worker frees, and reads everything again after dropped events", async () => {
    const h = harness();
    await h.coordinator.addTasks([{ id: 'a' }, { id: 'b' }]);
    await h.coordinator.registerInstance({ worker_id: 'w' });
    await h.cache.reload(h.source);
    await h.coordinator.claim({ worker_id: 'w' });
    await h.coordinator.deregisterInstance({ worker_id: 'w' });
    assert.ok(Date.parse(h.cache.get('a')!.lease_expires_at!) <= Date.now(), 'its lease is over: the next claim takes it');
    assert.deepEqual(h.requests, ['task_list']);
    const reloaded = new Promise<void>((resolve) => h.cache.onDidChange((c) => c.reloaded && resolve()));
    h.cache.applyEvent({ event: 'events:dropped', data: { count: 3 }, ts: '' });
    await reloaded;
    assert.deepEqual(h.requests, ['task_list', 'task_list']);
    assert.deepEqual(view(h.cache), view(await h.fresh()));
  });

  it('lists the groups with work left first, reading only the listed groups’ tasks', async () => {
    const h = harness();
    await h.coordinator.addTasks([
      { id: 'a1', group: 'a' }, { id: 'b1', group: 'b' }, { id: 'c1', group: 'c' }, { id: 'c2', group: 'c' },
    ]);
    await h.cache.reload(h.source);
    const a = (await h.coordinator.claim({ worker_id: 'w' })).task!;
    await h.coordinator.complete({ worker_id: 'w', task_id: a.id, fencing_token: a.fencing_token });
    const { groups, count } = h.cache.groupsToList(2);
    assert.equal(count, 3);
    assert.deepEqual([...groups.keys()], ['b', 'c'], 'a is done: it goes last, past the limit');
    assert.deepEqual(groups.get('c')!.map((t) => t.id).sort(), ['c1', 'c2']);
  });

  it('marks heartbeats quiet: the lease moved, nothing a row shows but its countdown', async () => {
    const h = harness();
    await h.coordinator.addTasks([{ id: 'a' }]);
    await h.cache.reload(h.source);
    const t = (await h.coordinator.claim({ worker_id: 'w' })).task!;
    const changes: boolean[] = [];
    h.cache.onDidChange((c) => changes.push(c.quiet));
    await h.coordinator.heartbeat({ worker_id: 'w', task_id: 'a', fencing_token: t.fencing_token });
    assert.deepEqual(changes, [true]);
    assert.notEqual(h.cache.get('a')!.lease_expires_at, null);
  });
});
