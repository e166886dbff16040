import * as assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock';
import { Coordinator, DEFAULT_CONFIG } from '../../src/core/coordinator';
import { MemoryStore } from '../../src/core/memory-store';
import type { Committed, Store, StoreWriter } from '../../src/core/store';
import { settled } from '../support/primitives';

/** A store whose writes take `ms` of real time each to become durable, one after another: a slow fsync. */
function slowDisk(ms: number): Store {
  const inner = new MemoryStore();
  let last = Promise.resolve();
  return new Proxy(inner, {
    get(target, key, receiver) {
      if (key !== 'transact') return Reflect.get(target, key, receiver);
      return <T>(fn: (tx: StoreWriter) => T): Committed<T> => {
        let changes = 0;
        const { value } = target.transact((tx) => fn({ apply: (c) => (changes++, tx.apply(c)) }));
        if (changes > 0) last = last.then(() => new Promise<void>((resolve) => setTimeout(resolve, ms)));
        return { value, durable: last };
      };
    },
  });
}

describe('waiting primitives under test', () => {
  it('settled() sees a grant whose write takes longer than any fixed pause to be durable', async () => {
    const store = slowDisk(100);
    const c = new Coordinator(store, { ...DEFAULT_CONFIG, instanceLimit: 0 }, new ManualClock());
    try {
      await c.primitives.locks.acquire({ worker_id: 'w1', path: 'f' }, '/ws');
      const waiting = c.primitives.locks.acquire({ worker_id: 'w2', path: 'f', wait_ms: 60_000 }, '/ws');
      assert.equal(await settled(waiting, store), false, 'nothing freed the lock yet');
      void c.primitives.locks.release({ worker_id: 'w1', path: 'f' }, '/ws');
      // The release is durable 100 ms from now, and the grant it triggers 100 ms after that.
      assert.equal(await settled(waiting, store), true, 'the grant was on its way to the disk');
      assert.equal((await waiting).lock.worker_id, 'w2');
    } finally {
      await c.close();
    }
  });

  it('the manual clock runs its timers in time order as it moves, each at its own moment', () => {
    const clock = new ManualClock(1000);
    const fired: Array<[string, number]> = [];
    clock.after(300, () => fired.push(['b', clock.now()]));
    clock.after(100, () => fired.push(['a', clock.now()]));
    const cancel = clock.after(200, () => fired.push(['cancelled', clock.now()]));
    cancel();
    clock.advance(99);
    assert.deepEqual(fired, []);
    clock.advance(500);
    assert.deepEqual(fired, [['a', 1100], ['b', 1300]]);
    assert.equal(clock.now(), 1599);
  });
});
