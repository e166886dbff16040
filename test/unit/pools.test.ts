import * as assert from 'node:assert/strict';
import { PlanImport } from '../../src/protocol/tasks';
import { ResourceAcquire } from '../../src/protocol/pools';
import { forEachStore, rejects, settled, tick } from '../support/primitives';

forEachStore('Resource pools', (f) => {
  const p = () => f.c.primitives.pools;
  const free = (name: string) => p().list().pools.find((x) => x.name === name)?.free;
  const claimId = async (worker_id: string) => (await f.c.claim({ worker_id })).task?.id ?? null;

  it('a plan sets pool capacities; a task is claimable only while its amounts are free', async () => {
    await f.c.addTasks(
      [
        { id: 'a', resources: { cpu_cores: 2 } },
        { id: 'b', resources: { cpu_cores: 2 } },
        { id: 'c', resources: { cpu_cores: 2 } },
        { id: 'light', priority: -1 },
      ],
      { resources: { cpu_cores: 4, 'test-slots': 2 } },
    );
    assert.deepEqual(p().list().pools.map((x) => [x.name, x.capacity]), [
      ['cpu_cores', 4],
      ['test-slots', 2],
    ]);
    assert.deepEqual(f.c.getTask('a').resources, { cpu_cores: 2 });
    assert.equal(f.c.getTask('light').resources, undefined);
    assert.equal(await claimId('w1'), 'a');
    assert.equal(await claimId('w2'), 'b');
    assert.equal(free('cpu_cores'), 0);
    assert.equal(await claimId('w3'), 'light', 'c waits; a task needing nothing still runs');
    assert.equal(await claimId('w4'), null);
    await f.c.complete({ worker_id: 'w1', task_id: 'a' });
    assert.equal(await claimId('w4'), 'c');
    const view = p().list().pools[0]!;
    assert.deepEqual(view.holders.map((h) => [h.kind, h.id, h.worker_id, h.amount]), [
      ['task', 'b', 'w2', 2],
      ['task', 'c', 'w4', 2],
    ]);
  });

  it('rejects at import a task needing an unknown pool or more than a pool holds, storing nothing', async () => {
    await rejects(f.c.addTasks([{ id: 'x', resources: { gpu: 1 } }]), 'UNKNOWN_POOL', 'task x needs pool gpu, which does not exist');
    await rejects(
      f.c.addTasks([{ id: 'ok' }, { id: 'big', resources: { cpu_cores: 6 } }], { resources: { cpu_cores: 4 } }),
      'OVER_CAPACITY',
      'task big needs 6 of pool cpu_cores, which holds only 4 in all',
    );
    assert.deepEqual(f.c.listTasks(), []);
    assert.deepEqual(p().list().pools, [], 'the plan’s pools went with it');
    await rejects(f.d.raw(PlanImport, { tasks: [{ id: 'x', resources: { cpu_cores: 0 } }] }), 'INVALID_ARGUMENT', 'tasks[0].resources');
    await rejects(f.d.raw(PlanImport, { tasks: [{ id: 'x' }], resources: { 'bad name': 1 } }), 'INVALID_ARGUMENT', 'resources');
    assert.deepEqual(f.c.listTasks(), []);
  });

  it('returns the amounts on every path: complete, fail, release, cancel, expiry and reclaim, holder death', async () => {
    await p().set({ name: 'slots', capacity: 1 });
    await f.c.addTasks([
      // No retry backoff: the failed task is the next one claimed.
      { id: 't', resources: { slots: 1 }, timeout_seconds: 10, max_attempts: 10, retry_backoff: { strategy: 'fixed', delay_seconds: 0 } },
      { id: 'u', resources: { slots: 1 }, timeout_seconds: 10, max_attempts: 10, retry_backoff: { strategy: 'fixed', delay_seconds: 0 } },
    ]);
    const cycle = async (end: () => Promise<unknown>) => {
      const id = await claimId('w');
      assert.ok(id);
      assert.equal(free('slots'), 0);
      assert.equal(await claimId('other'), null, 'over-committed');
      await end();
      assert.equal(free('slots'), 1);
      return id!;
    };
    const id1 = await cycle(() => f.c.release({ worker_id: 'w', task_id: 't' }));
    assert.equal(id1, 't');
    await cycle(() => f.c.fail({ worker_id: 'w', task_id: 't', error: 'boom' }));
    await cycle(async () => f.clock.advance(10_000)); // expiry
    assert.equal(await claimId('x'), 't', 'reclaimed, with the amounts again');
    assert.equal(free('slots'), 0);
    await f.c.cancel({ task_id: 't' });
    assert.equal(free('slots'), 1);
    await f.c.registerInstance({ worker_id: 'mortal' });
    assert.equal(await claimId('mortal'), 'u');
    assert.equal(free('slots'), 0);
    await f.c.deregisterInstance({ worker_id: 'mortal' });
    assert.equal(free('slots'), 1);
    assert.equal(await claimId('y'), 'u');
    await f.c.complete({ worker_id: 'y', task_id: 'u' });
    assert.equal(free('slots'), 1);
  });

  it('never over-commits under many concurrent claims', async () => {
    await f.c.addTasks(
      Array.from({ length: 40 }, (_, i) => ({ id: `t${i}`, resources: { cpu: 1 + (i % 3) }, priority: i % 5 })),
      { resources: { cpu: 7 } },
    );
    for (let round = 0; round < 5; round++) {
      const claims = await Promise.all(Array.from({ length: 30 }, (_, i) => f.c.claim({ worker_id: `w${round}-${i}` })));
      const held = f.c.listTasks('running').reduce((sum, t) => sum + t.resources!.cpu!, 0);
      assert.ok(held <= 7, `round ${round}: ${held} of 7 held`);
      assert.equal(p().list().pools[0]!.used, held);
      for (const c of claims.filter((c) => c.task)) await f.c.complete({ worker_id: c.task!.claimed_by!, task_id: c.task!.id });
    }
  });

  it('a pool cap:NAME caps the running tasks that need capability NAME', async () => {
    await p().set({ name: 'cap:gpu', capacity: 1 });
    await f.c.addTasks([
      { id: 'g1', capabilities: ['gpu'] },
      { id: 'g2', capabilities: ['gpu'] },
    ]);
    assert.equal((await f.c.claim({ worker_id: 'a', capabilities: ['gpu'] })).task!.id, 'g1');
    assert.equal((await f.c.claim({ worker_id: 'b', capabilities: ['gpu'] })).task, null);
    await f.c.complete({ worker_id: 'a', task_id: 'g1' });
    assert.equal((await f.c.claim({ worker_id: 'b', capabilities: ['gpu'] })).task!.id, 'g2');
    await rejects(p().set({ name: 'cap:gpu', capacity: 0 }), 'OVER_CAPACITY', 'running task g2 needs 1');
  });

  it('refuses to shrink a pool below what an unfinished task needs', async () => {
    await f.c.addTasks([{ id: 'a', resources: { mem: 3 } }], { resources: { mem: 4 } });
    await rejects(p().set({ name: 'mem', capacity: 2 }), 'OVER_CAPACITY', 'pool mem cannot shrink to 2: pending task a needs 3');
    await p().set({ name: 'mem', capacity: 3 });
  });

  it('ad-hoc holds: granted when free, else a TIMEOUT naming who holds it; waiters are served FIFO', async () => {
    await p().set({ name: 'cpu', capacity: 4 });
    const h1 = await p().acquire({ worker_id: 'w1', amounts: { cpu: 3 } });
    const e = await rejects(p().acquire({ worker_id: 'w2', amounts: { cpu: 2 } }), 'TIMEOUT', 'cpu: 3 of 4 in use by hold');
    assert.match(e.message, /of w1 \(3\)/);
    const order: string[] = [];
    const big = p().acquire({ worker_id: 'big', amounts: { cpu: 4 }, wait_ms: 5000 }).then((r) => (order.push('big'), r));
    await tick();
    const small = p().acquire({ worker_id: 'small', amounts: { cpu: 1 }, wait_ms: 5000 }).then((r) => (order.push('small'), r));
    assert.equal(await settled(small, f.store), false, 'a small request does not overtake the big one waiting ahead');
    await p().release({ worker_id: 'w1', hold_id: h1.hold.id });
    const b = await big;
    assert.equal(await settled(small, f.store), false);
    await p().release({ worker_id: 'big', hold_id: b.hold.id });
    await small;
    assert.deepEqual(order, ['big', 'small']);
    const late = p().acquire({ worker_id: 'late', amounts: { cpu: 4 }, wait_ms: 60_000 });
    f.clock.advance(59_999);
    assert.equal(await settled(late, f.store), false, 'waits in the injected clock’s time');
    f.clock.advance(1);
    await rejects(late, 'TIMEOUT', 'not granted within 60000 ms');
    await rejects(p().acquire({ worker_id: 'w', amounts: { cpu: 5 } }), 'OVER_CAPACITY');
    await rejects(p().acquire({ worker_id: 'w', amounts: { gpu: 1 } }), 'UNKNOWN_POOL');
    await rejects(f.d.raw(ResourceAcquire, { worker_id: 'w', amounts: {} }), 'INVALID_ARGUMENT', 'name at least one pool');
  });

  it('a hold blocks task claims; it ends at its TTL (the sweep deletes it) and with its holder', async () => {
    await f.c.addTasks([{ id: 't', resources: { cpu: 2 } }], { resources: { cpu: 2 } });
    await p().acquire({ worker_id: 'h', amounts: { cpu: 1 }, ttl_seconds: 30 });
    assert.equal(await claimId('w'), null);
    f.clock.advance(30_000);
    assert.equal(free('cpu'), 2, 'an expired hold counts as free at once');
    await f.c.sweep();
    assert.equal(p().list().pools[0]!.holders.length, 0);
    await f.c.registerInstance({ worker_id: 'h' });
    await p().acquire({ worker_id: 'h', amounts: { cpu: 2 }, ttl_seconds: 3600 });
    f.clock.advance(f.c.settings.staleInstanceMs);
    await f.c.sweep();
    assert.equal(free('cpu'), 2, 'released when its holder went stale');
    assert.equal(await claimId('w'), 't');
  });

  it('a task whose lease ran out and whose amounts went to others cannot be renewed', async () => {
    await f.c.addTasks([{ id: 'a', resources: { cpu: 1 }, timeout_seconds: 5 }], { resources: { cpu: 1 } });
    await claimId('w1');
    f.clock.advance(5000);
    await f.c.addTasks([{ id: 'b', resources: { cpu: 1 }, priority: 1 }]);
    assert.equal(await claimId('w2'), 'b');
    await rejects(f.c.heartbeat({ worker_id: 'w1', task_id: 'a' }), 'LEASE_EXPIRED', 'went to others');
    await f.c.complete({ worker_id: 'w2', task_id: 'b' });
    await f.c.heartbeat({ worker_id: 'w1', task_id: 'a' });
  });

  it('emits pool:changed for pool settings, holds and tasks with resources', async () => {
    const seen: string[] = [];
    f.c.events.on('pool:changed', (e) => seen.push(`${e.pools.join(',')}:${e.reason}`));
    await p().set({ name: 'cpu', capacity: 2 });
    await f.c.addTasks([{ id: 'a', resources: { cpu: 1 } }, { id: 'plain' }]);
    await claimId('w');
    await claimId('w2');
    await f.c.complete({ worker_id: 'w', task_id: 'a' });
    const h = await p().acquire({ worker_id: 'w', amounts: { cpu: 1 } });
    await p().release({ worker_id: 'w', hold_id: h.hold.id });
    assert.deepEqual(seen, ['cpu:set', 'cpu:task:claimed', 'cpu:task:completed', 'cpu:acquired', 'cpu:released']);
  });

  it('keeps pools, holds and task amounts across a reopen', async function () {
    if (!f.factory.persistent) this.skip();
    await f.c.addTasks([{ id: 'a', resources: { cpu: 2 } }], { resources: { cpu: 3 } });
    await claimId('w');
    await p().acquire({ worker_id: 'h', amounts: { cpu: 1 } });
    await f.reopen();
    assert.equal(free('cpu'), 0);
    assert.deepEqual(f.c.getTask('a').resources, { cpu: 2 });
  });
});
