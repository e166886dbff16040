import * as assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock';
import { Coordinator, DEFAULT_CONFIG } from '../../src/core/coordinator';
import { HarnessError } from '../../src/core/errors';
import { TaskProgressCommand } from '../../src/protocol/tasks';
import { dispatcher } from '../support/dispatch';
import { storeFactories } from '../support/stores';

for (const factory of storeFactories) {
  describe(`convergence over ${factory.name}`, () => {
    let clock: ManualClock;
    let c: Coordinator;

    beforeEach(async () => {
      clock = new ManualClock();
      const { store } = await factory.open();
      c = new Coordinator(store, DEFAULT_CONFIG, clock);
    });
    afterEach(() => c.close());

    it('a barrier task depending on group:NAME waits for every task of the group, in the plan or stored', async () => {
      await c.addTasks([{ id: 'early', group: 'g' }]);
      const [, , join] = await c.addTasks([
        { id: 'a', group: 'g' },
        { id: 'b', group: 'g' },
        { id: 'join', dependencies: ['group:g'] },
      ]);
      assert.deepEqual([...join!.dependencies].sort(), ['a', 'b', 'early']);
      for (const id of ['early', 'a', 'b']) {
        const { task } = await c.claim({ worker_id: `w-${id}` });
        assert.notEqual(task!.id, 'join', 'the barrier is not ready before its group');
        await c.complete({ worker_id: `w-${id}`, task_id: task!.id });
      }
      assert.equal((await c.claim({ worker_id: 'x' })).task!.id, 'join');
    });

    it('a dependency on an empty group is an error naming it, and nothing is stored', async () => {
      await assert.rejects(c.addTasks([{ id: 'j', dependencies: ['group:nobody'] }]), (e: HarnessError) => {
        assert.equal(e.code, 'UNKNOWN_DEPENDENCY');
        assert.match(e.message, /depends on group nobody, which has no tasks/);
        return true;
      });
      assert.equal(c.listTasks().length, 0);
    });

    it('progress comes only from the holder, renews the lease, and shows in the group status', async () => {
      await c.addTasks([{ id: 'a', group: 'g', timeout_seconds: 10 }, { id: 'b', group: 'g' }]);
      const { task } = await c.claim({ worker_id: 'w' });
      clock.advance(6000);
      const t = await c.progress({ worker_id: 'w', task_id: 'a', percent: 50, message: 'halfway' });
      assert.deepEqual(t.progress, { percent: 50, message: 'halfway', at: new Date(clock.now()).toISOString() });
      assert.equal(Date.parse(t.lease_expires_at!) - Date.parse(task!.lease_expires_at!), 6000);
      await assert.rejects(c.progress({ worker_id: 'other', task_id: 'a', percent: 60 }), /not claimed by other/);
      await assert.rejects(dispatcher(c).raw(TaskProgressCommand, { worker_id: 'w', task_id: 'a', percent: 150 }), /percent/);
      const status = c.groupStatus('g');
      assert.equal(status.total, 2);
      assert.equal(status.done, false);
      assert.deepEqual(status.streams.map((s) => s.progress?.percent ?? null), [50, null]);
    });

    it('the group is done when every task finished; dead letters and cancels count as failed', async () => {
      await c.addTasks([{ id: 'a', group: 'g' }, { id: 'b', group: 'g' }, { id: 'c', group: 'g' }]);
      await c.claim({ worker_id: 'w1' });
      await c.complete({ worker_id: 'w1', task_id: 'a', result: { out: 1 } });
      await c.claim({ worker_id: 'w2' });
      await c.fail({ worker_id: 'w2', task_id: 'b', error: 'no', retry: false });
      assert.equal(c.groupStatus('g').done, false);
      await c.cancel({ task_id: 'c' });
      const s = c.groupStatus('g');
      assert.deepEqual([s.done, s.completed, s.failed], [true, 1, 2]);
      assert.deepEqual(s.streams[0]!.result, { out: 1 });
      assert.equal(c.groupStatus('unknown').done, false, 'a group with no tasks never converges by itself');
    });

    it('checkpoints are recorded durably and listed oldest first', async () => {
      await c.addTasks([{ id: 'a', group: 'g' }]);
      await c.claim({ worker_id: 'w' });
      const first = await c.recordCheckpoint('g');
      await c.progress({ worker_id: 'w', task_id: 'a', percent: 80 });
      clock.advance(1000);
      const second = await c.recordCheckpoint('g');
      assert.deepEqual(c.listCheckpoints('g'), [first, second]);
      assert.equal(second.streams[0]!.progress!.percent, 80);
      assert.deepEqual(c.listCheckpoints('other'), []);
    });
  });
}
