import * as assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock';
import { Coordinator, DEFAULT_CONFIG, type CoordinatorEvents } from '../../src/core/coordinator';
import type { Store } from '../../src/core/store';
import { PlanImport, TaskClaim, TaskComplete } from '../../src/protocol/tasks';
import { dispatcher } from '../support/dispatch';
import { rejects } from '../support/primitives';
import { storeFactories } from '../support/stores';

for (const factory of storeFactories) {
  describe(`Coordinator over ${factory.name}`, () => {
    let clock: ManualClock;
    let store: Store;
    let dir: string;
    let c: Coordinator;

    beforeEach(async () => {
      clock = new ManualClock();
      ({ store, dir } = await factory.open());
      c = new Coordinator(store, { ...DEFAULT_CONFIG, instanceLimit: 3 }, clock);
    });
    afterEach(async () => {
      await c.close();
    });

    describe('adding tasks', () => {
      it('fills defaults and timestamps in ISO-8601 UTC with milliseconds', async () => {
        const [t] = await c.addTasks([{ id: 'a', description: 'first' }]);
        assert.equal(t!.status, 'pending');
        assert.equal(t!.priority, 0);
        assert.equal(t!.attempts, 0);
        assert.equal(t!.max_attempts, 3);
        assert.equal(t!.timeout_seconds, 300);
        assert.match(t!.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assert.deepEqual(c.getTask('a'), t);
      });

      it('generates unique ids when none is given', async () => {
        const tasks = await c.addTasks([{ description: 'x' }, { description: 'y' }]);
        assert.equal(new Set(tasks.map((t) => t.id)).size, 2);
      });

      it('rejects a cycle naming its tasks, and stores nothing of the plan', async () => {
        const e = await rejects(
          c.addTasks([
            { id: 'ok' },
            { id: 'task-1', dependencies: ['task-2'] },
            { id: 'task-2', dependencies: ['task-1'] },
          ]),
          'CYCLE',
          'cycle',
        );
        assert.match(e.message, /task-1 -> task-2 -> task-1|task-2 -> task-1 -> task-2/);
        assert.deepEqual(c.listTasks(), []);
      });

      it('rejects a self-dependency as a cycle', async () => {
        await rejects(c.addTasks([{ id: 'a', dependencies: ['a'] }]), 'CYCLE', 'dependency cycle: a -> a');
      });

      it('rejects duplicate ids, in the plan and against stored tasks', async () => {
        await rejects(c.addTasks([{ id: 'a' }, { id: 'a' }]), 'ALREADY_EXISTS', 'task id a is given twice (tasks[0] and tasks[1])');
        await c.addTasks([{ id: 'a' }]);
        await rejects(c.addTasks([{ id: 'a' }]), 'ALREADY_EXISTS', 'task a (pending) already exists');
        // Re-importing a plan: the taken ids are named as existing tasks, not as a duplicate inside the plan.
        const again = await rejects(c.addTasks([{ id: 'b' }, { id: 'a' }]), 'ALREADY_EXISTS', '1 of the 2 tasks given already exists: a (pending); nothing was added');
        assert.deepEqual(again.details, { task_id: 'a', existing: 1 });
        assert.deepEqual(c.listTasks().map((t) => t.id), ['a']);
      });

      it('rejects unknown dependencies', async () => {
        await rejects(c.addTasks([{ id: 'a', dependencies: ['ghost'] }]), 'UNKNOWN_DEPENDENCY', 'task a depends on unknown task ghost');
      });

      it('names the bad field of an invalid task (checked at the dispatcher, before the core)', async () => {
        const d = dispatcher(c);
        await rejects(d.raw(PlanImport, { tasks: [{ id: 'a' }, { id: 'b', priority: 1.5 }] }), 'INVALID_ARGUMENT', 'tasks[1].priority');
        await rejects(d.raw(PlanImport, { tasks: [{ id: 'a', bogus: 1 }] }), 'INVALID_ARGUMENT', 'tasks[0].bogus: unknown field');
        await rejects(d.raw(PlanImport, { tasks: [{ id: 'has space' }] }), 'INVALID_ARGUMENT', 'tasks[0].id');
        assert.equal(c.listTasks().length, 0);
      });
    });

    describe('claiming', () => {
      it('hands out the highest priority first, oldest first among equals', async () => {
        await c.addTasks([{ id: 'low', priority: 1 }, { id: 'high-1', priority: 5 }, { id: 'high-2', priority: 5 }]);
        const order = [];
        for (const w of ['w1', 'w2', 'w3']) order.push((await c.claim({ worker_id: w })).task!.id);
        assert.deepEqual(order, ['high-1', 'high-2', 'low']);
        assert.equal((await c.claim({ worker_id: 'w4' })).task, null);
      });

      it('gates on dependencies: only completed ones make a task ready', async () => {
        await c.addTasks([{ id: 'a' }, { id: 'b', dependencies: ['a'], priority: 10 }]);
        const first = await c.claim({ worker_id: 'w1' });
        assert.equal(first.task!.id, 'a');
        assert.equal((await c.claim({ worker_id: 'w2' })).task, null);
        await c.complete({ worker_id: 'w1', task_id: 'a' });
        assert.equal((await c.claim({ worker_id: 'w2' })).task!.id, 'b');
      });

      it('a task added later that depends on a completed one is ready at once', async () => {
        await c.addTasks([{ id: 'a' }]);
        await c.claim({ worker_id: 'w' });
        await c.complete({ worker_id: 'w', task_id: 'a' });
        await c.addTasks([{ id: 'b', dependencies: ['a'] }]);
        assert.equal((await c.claim({ worker_id: 'w' })).task!.id, 'b');
      });

      it('matches capabilities: a worker gets only tasks whose capabilities it has', async () => {
        await c.addTasks([{ id: 'gpu', capabilities: ['gpu'], priority: 9 }, { id: 'plain' }]);
        assert.equal((await c.claim({ worker_id: 'cpu' })).task!.id, 'plain');
        assert.equal((await c.claim({ worker_id: 'g', capabilities: ['gpu', 'x'] })).task!.id, 'gpu');
      });

      it('uses a registered instance’s capabilities when the claim names none', async () => {
        await c.addTasks([{ id: 'gpu', capabilities: ['gpu'] }]);
        await c.registerInstance({ worker_id: 'g', capabilities: ['gpu'] });
        assert.equal((await c.claim({ worker_id: 'g' })).task!.id, 'gpu');
      });

      it('re-claim by the holder returns the same task with is_retry and renews the lease', async () => {
        await c.addTasks([{ id: 'a', timeout_seconds: 10 }, { id: 'b' }]);
        const first = await c.claim({ worker_id: 'w' });
        clock.advance(4000);
        const again = await c.claim({ worker_id: 'w' });
        assert.equal(again.task!.id, 'a');
        assert.equal(again.is_retry, true);
        assert.equal(again.is_reclaim, false);
        assert.ok(again.task!.started_at! > first.task!.started_at!);
        assert.ok(again.task!.lease_expires_at! > first.task!.lease_expires_at!);
        assert.equal(again.task!.attempts, 1);
        assert.equal(again.task!.fencing_token, first.task!.fencing_token);
      });

      it('an expired lease is reclaimed by another worker; the old holder can no longer finish', async () => {
        await c.addTasks([{ id: 'a', timeout_seconds: 5 }]);
        const first = await c.claim({ worker_id: 'w1' });
        assert.equal((await c.claim({ worker_id: 'w2' })).task, null);
        clock.advance(5000);
        const re = await c.claim({ worker_id: 'w2' });
        assert.equal(re.task!.id, 'a');
        assert.equal(re.is_reclaim, true);
        assert.equal(re.task!.claimed_by, 'w2');
        assert.equal(re.task!.attempts, 2);
        assert.equal(re.task!.fencing_token, first.task!.fencing_token + 1);
        await rejects(c.complete({ worker_id: 'w1', task_id: 'a' }), 'NOT_CLAIMED_BY', 'task a is not claimed by w1 (held by w2)');
        await c.complete({ worker_id: 'w2', task_id: 'a', result: { ok: true } });
        assert.deepEqual(c.getTask('a').result, { ok: true });
      });

      it('an expired lease not yet reclaimed is still its holder’s', async () => {
        await c.addTasks([{ id: 'a', timeout_seconds: 5 }]);
        await c.claim({ worker_id: 'w1' });
        clock.advance(60_000);
        const t = await c.complete({ worker_id: 'w1', task_id: 'a' });
        assert.equal(t.status, 'completed');
        assert.equal(t.duration_ms, 60_000);
      });

      it('a task whose attempts are used up is dead-lettered instead of handed out', async () => {
        await c.addTasks([{ id: 'a', timeout_seconds: 1, max_attempts: 2 }, { id: 'b', priority: -1 }]);
        await c.claim({ worker_id: 'w1' });
        clock.advance(1000);
        assert.equal((await c.claim({ worker_id: 'w2' })).task!.id, 'a');
        clock.advance(1000);
        const third = await c.claim({ worker_id: 'w3' });
        assert.equal(third.task!.id, 'b');
        const a = c.getTask('a');
        assert.equal(a.status, 'dead_letter');
        assert.match(a.error!, /lease expired/);
      });

      it('never hands one task to two workers under many interleaved claims', async () => {
        await c.addTasks(Array.from({ length: 50 }, (_, i) => ({ id: `t${i}`, priority: i % 7 })));
        const results = await Promise.all(Array.from({ length: 80 }, (_, i) => c.claim({ worker_id: `w${i}` })));
        const ids = results.flatMap((r) => (r.task ? [r.task.id] : []));
        assert.equal(ids.length, 50);
        assert.equal(new Set(ids).size, 50);
        assert.equal(c.countTasks().running, 50);
      });

      it('task_complete with next: completes and claims in one transaction (one durable write), as task_claim would', async () => {
        const d = dispatcher(c);
        await c.addTasks([{ id: 'a' }, { id: 'b', dependencies: ['a'] }, { id: 'gpu', capabilities: ['gpu'], priority: 9 }]);
        const first = await d.call(TaskClaim, { worker_id: 'w' });
        assert.equal(first.task!.id, 'a');
        const events: string[] = [];
        c.events.onAny((name) => events.push(name));
        let transactions = 0;
        const transact = store.transact.bind(store);
        store.transact = (fn) => (transactions++, transact(fn));
        const done = await d.call(TaskComplete, { worker_id: 'w', task_id: 'a', fencing_token: first.task!.fencing_token, next: {} });
        assert.equal(done.task.status, 'completed');
        // The completion made b ready, and the same request claimed it (gpu needs a capability w lacks).
        assert.equal(done.next!.task!.id, 'b');
        assert.deepEqual([done.next!.is_retry, done.next!.is_reclaim], [false, false]);
        assert.equal(c.getTask('b').claimed_by, 'w');
        assert.deepEqual(events, ['task:completed', 'task:claimed']);
        assert.equal(transactions, 1, 'one transaction (one durable write) for both');
        store.transact = transact;
        // With capabilities given, as task_claim takes them; nothing left to claim is a null task, the completion kept.
        const gpu = await d.call(TaskComplete, { worker_id: 'w', task_id: 'b', next: { capabilities: ['gpu'] } });
        assert.equal(gpu.next!.task!.id, 'gpu');
        const last = await d.call(TaskComplete, { worker_id: 'w', task_id: 'gpu', next: {} });
        assert.deepEqual([last.task.status, last.next!.task], ['completed', null]);
        // Without next, no claim is made and the reply has none.
        await c.addTasks([{ id: 'c' }]);
        await c.claim({ worker_id: 'w' });
        const plain = await d.call(TaskComplete, { worker_id: 'w', task_id: 'c' });
        assert.equal(plain.next, undefined);
      });

      it('task_complete with next refused (stale token) claims nothing either', async () => {
        const d = dispatcher(c);
        await c.addTasks([{ id: 'a' }, { id: 'b' }]);
        const { task } = await c.claim({ worker_id: 'w' });
        await rejects(d.call(TaskComplete, { worker_id: 'w', task_id: task!.id, fencing_token: task!.fencing_token - 1, next: {} }), 'STALE_FENCING_TOKEN');
        assert.deepEqual(c.listTasks().map((t) => [t.id, t.status]), [['a', 'running'], ['b', 'pending']]);
        await rejects(d.raw(TaskComplete, { worker_id: 'w', task_id: 'a', next: { capabilities: ['gpu'], bogus: 1 } }), 'INVALID_ARGUMENT', 'next.bogus: unknown field');
      });
    });

    describe('holding a lease', () => {
      beforeEach(async () => {
        await c.addTasks([{ id: 'a', timeout_seconds: 10, max_attempts: 2 }]);
      });

      it('heartbeat extends the lease; only the holder may', async () => {
        const { task } = await c.claim({ worker_id: 'w' });
        clock.advance(8000);
        const hb = await c.heartbeat({ worker_id: 'w', task_id: 'a' });
        assert.equal(Date.parse(hb.lease_expires_at!) - Date.parse(task!.lease_expires_at!), 8000);
        clock.advance(8000);
        assert.equal((await c.claim({ worker_id: 'x' })).task, null, 'renewed lease is not reclaimable');
        await rejects(c.heartbeat({ worker_id: 'x', task_id: 'a' }), 'NOT_CLAIMED_BY', 'not claimed by x');
      });

      it('refuses a stale fencing token', async () => {
        const { task } = await c.claim({ worker_id: 'w' });
        const token = task!.fencing_token;
        await c.heartbeat({ worker_id: 'w', task_id: 'a', fencing_token: token });
        await rejects(c.complete({ worker_id: 'w', task_id: 'a', fencing_token: token - 1 }), 'STALE_FENCING_TOKEN');
        await c.complete({ worker_id: 'w', task_id: 'a', fencing_token: token });
      });

      it('fail with attempts left returns the task to pending after its backoff, then to dead_letter', async () => {
        await c.claim({ worker_id: 'w' });
        const f1 = await c.fail({ worker_id: 'w', task_id: 'a', error: 'boom' });
        assert.equal(f1.status, 'pending');
        assert.equal(f1.error, 'boom');
        assert.equal(f1.claimed_by, null);
        // The default backoff: 5 s after the first failure.
        assert.equal(f1.retry_at, new Date(clock.now() + 5000).toISOString());
        assert.equal(c.getTask('a').retry_at, f1.retry_at, 'the next attempt’s time is on the task');
        clock.advance(4999);
        assert.equal((await c.claim({ worker_id: 'w' })).task, null, 'not claimable during its backoff');
        clock.advance(1);
        const again = (await c.claim({ worker_id: 'w' })).task!;
        assert.equal(again.id, 'a');
        assert.equal(again.retry_at, undefined, 'claimed: no longer waiting');
        const f2 = await c.fail({ worker_id: 'w', task_id: 'a', error: 'boom again' });
        assert.equal(f2.status, 'dead_letter');
        assert.equal(f2.attempts, 2);
        assert.equal(f2.retry_at, undefined);
      });

      it('backs off per task: fixed, or exponential with a cap; zero means at once', async () => {
        const fixed = { strategy: 'fixed', delay_seconds: 2 } as const;
        const expo = { strategy: 'exponential', delay_seconds: 1, max_delay_seconds: 3 } as const;
        await c.addTasks([
          { id: 'f', max_attempts: 9, retry_backoff: fixed, capabilities: ['f'], priority: 1 },
          { id: 'e', max_attempts: 9, retry_backoff: expo, capabilities: ['e'], priority: 1 },
          { id: 'z', max_attempts: 9, retry_backoff: { strategy: 'fixed', delay_seconds: 0 }, capabilities: ['z'], priority: 1 },
        ]);
        assert.deepEqual(c.getTask('e').retry_backoff, expo, 'kept on the task');
        const waits = async (id: string) => {
          const { task } = await c.claim({ worker_id: 'w', capabilities: [id] });
          assert.equal(task?.id, id);
          const failed = await c.fail({ worker_id: 'w', task_id: id, error: 'flaky' });
          const wait = failed.retry_at === undefined ? 0 : Date.parse(failed.retry_at) - clock.now();
          clock.advance(wait); // exactly due
          return wait;
        };
        assert.deepEqual([await waits('f'), await waits('f'), await waits('f')], [2000, 2000, 2000]);
        assert.deepEqual([await waits('e'), await waits('e'), await waits('e'), await waits('e')], [1000, 2000, 3000, 3000]);
        assert.equal(await waits('z'), 0);
        assert.equal((await c.claim({ worker_id: 'w', capabilities: ['z'] })).task!.id, 'z', 'no backoff: claimable at once');
      });

      it('a task waiting out its backoff is passed over for ready ones, whatever its priority', async () => {
        c.configure({ retryBackoff: { strategy: 'fixed', delay_seconds: 60 } });
        await c.addTasks([{ id: 'low', priority: -5 }]);
        await c.claim({ worker_id: 'w' });
        await c.fail({ worker_id: 'w', task_id: 'a', error: 'x' });
        assert.equal(c.countTasks().pending, 2);
        assert.equal(store.countReady(new Date(clock.now()).toISOString()), 1, 'only one is claimable now');
        assert.equal(c.countReady(), 1);
        assert.equal(c.isReady(c.getTask('a')), false, 'waiting out its backoff: not ready');
        assert.equal((await c.claim({ worker_id: 'v' })).task!.id, 'low');
        clock.advance(60_000);
        assert.equal(c.isReady(c.getTask('a')), true);
        assert.equal((await c.claim({ worker_id: 'u' })).task!.id, 'a');
      });

      it('no backoff when the coordinator has none and the task sets none', async () => {
        c.configure({ retryBackoff: null });
        await c.claim({ worker_id: 'w' });
        assert.equal((await c.fail({ worker_id: 'w', task_id: 'a', error: 'x' })).retry_at, undefined);
        assert.equal((await c.claim({ worker_id: 'w' })).task!.id, 'a');
      });

      it('fail without retry dead-letters at once; retry brings it back with attempts reset', async () => {
        await c.claim({ worker_id: 'w' });
        assert.equal((await c.fail({ worker_id: 'w', task_id: 'a', error: 'no', retry: false })).status, 'dead_letter');
        const back = await c.retry({ task_id: 'a' });
        assert.equal(back.status, 'pending');
        assert.equal(back.attempts, 0);
        assert.equal((await c.claim({ worker_id: 'w' })).task!.id, 'a');
      });

      it('release gives the task back without using an attempt', async () => {
        await c.claim({ worker_id: 'w' });
        const r = await c.release({ worker_id: 'w', task_id: 'a' });
        assert.equal(r.status, 'pending');
        assert.equal(r.attempts, 0);
      });

      it('cancel stops a running task; its holder can no longer complete it', async () => {
        await c.claim({ worker_id: 'w' });
        assert.equal((await c.cancel({ task_id: 'a' })).status, 'cancelled');
        await rejects(c.complete({ worker_id: 'w', task_id: 'a' }), 'NOT_CLAIMED_BY', 'it is cancelled');
      });

      it('invalid transitions are errors with a code, not silent no-ops', async () => {
        await rejects(c.retry({ task_id: 'a' }), 'INVALID_TRANSITION', 'not dead_letter');
        await c.cancel({ task_id: 'a' });
        await rejects(c.cancel({ task_id: 'a' }), 'INVALID_TRANSITION', 'cannot cancel task a: it is cancelled');
        await rejects(c.complete({ worker_id: 'w', task_id: 'missing' }), 'NOT_FOUND', 'task missing does not exist');
      });
    });

    describe('instances', () => {
      it('register, heartbeat, list with age and current task, deregister', async () => {
        await c.addTasks([{ id: 'a' }]);
        await c.registerInstance({ worker_id: 'w1', name: 'agent one', capabilities: ['ts'], pid: 42 });
        await c.claim({ worker_id: 'w1' });
        clock.advance(3000);
        const [view] = c.listInstances();
        assert.equal(view!.last_seen_age_ms, 3000);
        assert.equal(view!.current_task, 'a');
        assert.equal(view!.name, 'agent one');
        await c.heartbeatInstance({ worker_id: 'w1' });
        assert.equal(c.listInstances()[0]!.last_seen_age_ms, 0);
        const out = await c.deregisterInstance({ worker_id: 'w1' });
        assert.deepEqual(out.freed_tasks, ['a']);
        assert.equal(c.listInstances().length, 0);
        assert.equal((await c.claim({ worker_id: 'w2' })).is_reclaim, true);
      });

      it('enforces the instance limit with a clear error; re-registering a live one is fine', async () => {
        for (const w of ['a', 'b', 'c']) await c.registerInstance({ worker_id: w });
        await c.registerInstance({ worker_id: 'a' });
        const e = await rejects(c.registerInstance({ worker_id: 'd' }), 'INSTANCE_LIMIT', 'instance limit reached: 3 of 3');
        assert.match(e.message, /harness serve --instance-limit N/, 'names the flag that raises it');
        assert.match(e.message, /agentHarness\.instanceLimit/, 'and the VS Code setting');
        c.configure({ instanceLimit: 0 });
        await c.registerInstance({ worker_id: 'd' });
      });

      it('a stale instance is swept, its leases freed at once and reclaimed by another worker', async () => {
        const events: Array<keyof CoordinatorEvents> = [];
        c.events.onAny((name) => events.push(name));
        await c.addTasks([{ id: 'a', timeout_seconds: 3600 }]);
        await c.registerInstance({ worker_id: 'w1' });
        await c.registerInstance({ worker_id: 'w2' });
        await c.claim({ worker_id: 'w1' });
        clock.advance(30_000);
        await c.heartbeatInstance({ worker_id: 'w2' });
        clock.advance(30_000);
        const swept = await c.sweep();
        assert.deepEqual(swept.stale, ['w1']);
        assert.ok(events.includes('instance:stale'));
        assert.ok(events.includes('lease:expired'));
        const stale = c.listInstances().find((i) => i.worker_id === 'w1')!;
        assert.equal(stale.status, 'stale');
        const re = await c.claim({ worker_id: 'w2' });
        assert.equal(re.task!.id, 'a');
        assert.equal(re.is_reclaim, true);
        await rejects(c.heartbeatInstance({ worker_id: 'w1' }), 'INSTANCE_STALE');
        await c.registerInstance({ worker_id: 'w1' });
      });

      it('announces an expired lease once, without writing', async () => {
        const expired: string[] = [];
        c.events.on('lease:expired', (e) => expired.push(e.task.id));
        await c.addTasks([{ id: 'a', timeout_seconds: 1 }]);
        await c.claim({ worker_id: 'w' });
        clock.advance(1500);
        await c.sweep();
        await c.sweep();
        assert.deepEqual(expired, ['a']);
        assert.equal(c.getTask('a').status, 'running');
      });
    });

    describe('events', () => {
      it('are emitted after the change, and a throwing listener breaks nothing', async () => {
        const seen: string[] = [];
        c.events.on('task:added', () => {
          throw new Error('bad listener');
        });
        c.events.on('task:added', (e) => seen.push(...e.tasks.map((t) => t.id)));
        c.events.on('task:completed', (e) => seen.push(`done:${e.task.id}`));
        await c.addTasks([{ id: 'a' }]);
        await c.claim({ worker_id: 'w' });
        await c.complete({ worker_id: 'w', task_id: 'a' });
        assert.deepEqual(seen, ['a', 'done:a']);
      });
    });

    if (factory.persistent) {
      it('keeps every acknowledged change across a reopen', async () => {
        await c.addTasks([{ id: 'a' }, { id: 'b', dependencies: ['a'] }]);
        await c.claim({ worker_id: 'w' });
        await c.complete({ worker_id: 'w', task_id: 'a', result: [1, 2] });
        await c.registerInstance({ worker_id: 'w' });
        await c.close();
        const reopened = await factory.open(dir);
        c = new Coordinator(reopened.store, DEFAULT_CONFIG, clock);
        assert.equal(c.getTask('a').status, 'completed');
        assert.deepEqual(c.getTask('a').result, [1, 2]);
        assert.equal((await c.claim({ worker_id: 'w' })).task!.id, 'b');
        assert.equal(c.listInstances().length, 1);
      });
    }
  });
}
