// The peers benchmark's own machinery: the load loop every system shares (when a run ends, the
// exactly-once check) and the server start-up helper (ready line, early exit, stop).

import * as assert from 'node:assert/strict';
import { startDaemon } from '../../bench/peers/daemon';
import { peerLoad, type PeerLoadArgs } from '../../bench/peers/load';
import type { ClaimedTask, PeerSystem, PeerWorker } from '../../bench/peers/system';

/**
 * An in-memory work queue shaped like a peer. `whenEmpty`: 'answer' gives null at once (the
 * coordinator, BullMQ); 'wait' blocks until the connection closes (a JetStream pull).
 * `redeliver` hands that task id out again right after it was completed.
 */
function memorySystem(whenEmpty: 'answer' | 'wait', redeliver?: string) {
  const queue: string[] = [];
  const closed: number[] = [];
  const calls = { completeAndClaim: 0 };
  const system: PeerSystem = {
    name: 'memory',
    label: 'memory',
    durability: '',
    transport: '',
    unavailable: () => undefined,
    versions: () => '',
    start: () => Promise.reject(new Error('not used')),
    async preload(_endpoint, tasks) {
      queue.push(...tasks.map((t) => t.id!));
    },
    async connect(_endpoint, index): Promise<PeerWorker> {
      let onClose: (() => void) | undefined;
      let isClosed = false;
      const complete = async (task: ClaimedTask) => {
        if (task.id === redeliver) {
          redeliver = undefined;
          queue.unshift(task.id);
        }
      };
      return {
        async claim(): Promise<ClaimedTask | null> {
          await new Promise((r) => setImmediate(r)); // a round trip: the loops interleave
          if (isClosed) throw new Error('connection closed');
          const id = queue.shift();
          if (id !== undefined) return { id, handle: index };
          if (whenEmpty === 'answer') return null;
          return new Promise((_resolve, reject) => (onClose = () => reject(new Error('connection closed'))));
        },
        complete,
        async completeAndClaim(task) {
          await new Promise((r) => setImmediate(r));
          await complete(task);
          calls.completeAndClaim++;
          const id = queue.shift();
          return id !== undefined ? { id, handle: index } : null;
        },
        async close() {
          closed.push(index);
          isClosed = true;
          onClose?.();
        },
      };
    },
  };
  return { system, closed, calls };
}

const args = (workers: number, tasks: number): PeerLoadArgs => ({ system: 'memory', endpoint: {}, workers, tasks });

describe('bench peers: the shared load loop', () => {
  it('ends once every task is completed even when an empty claim waits instead of answering', async () => {
    const { system, closed } = memorySystem('wait');
    const marks: string[] = [];
    const result = await peerLoad(system, args(4, 50), (m) => void marks.push(m));
    assert.equal(result.tasks, 50);
    assert.deepEqual(marks, ['go', 'done']);
    assert.deepEqual([...closed].sort(), [0, 1, 2, 3], 'every connection is closed, abandoning the waiting pulls');
    assert.equal(result.complete.n, 50);
    assert.ok(result.tasks_per_s > 0 && Number.isFinite(result.tasks_per_s));
  });

  it('ends when every worker\'s claim comes back empty, counting those claims', async () => {
    const { system } = memorySystem('answer');
    const result = await peerLoad(system, args(3, 20), () => {});
    assert.equal(result.tasks, 20);
    // 20 claims that got a task, plus the empty ones answered before the last completion (at most one per other worker)
    assert.ok(result.claim.n >= 20 && result.claim.n <= 22, `claims timed: ${result.claim.n}`);
  });

  it('in one-request mode, each completion takes the next task: one claim per worker, then none', async () => {
    const { system, calls } = memorySystem('answer');
    const result = await peerLoad(system, { ...args(3, 30), one_request: true }, () => {});
    assert.equal(result.tasks, 30);
    assert.equal(result.claim.n, 3, 'only the first claim of each worker is a claim of its own');
    assert.equal(calls.completeAndClaim, 30);
    const { system: twoRequests, calls: none } = memorySystem('answer');
    await peerLoad(twoRequests, args(3, 30), () => {});
    assert.equal(none.completeAndClaim, 0, 'the default mode claims and completes apart');
  });

  it('fails the run when a task is completed twice', async () => {
    const { system } = memorySystem('answer', 't3');
    await assert.rejects(peerLoad(system, args(2, 10), () => {}), /memory: task t3 was completed twice/);
  });
});

describe('bench peers: starting a server', () => {
  const node = process.execPath;

  it('resolves on the ready line (on stderr too) and stop() ends the process', async () => {
    const d = await startDaemon('fake', node, ['-e', 'console.log("starting"); setTimeout(() => console.error("Server is ready"), 50); setInterval(() => {}, 1000)'], /Server is ready/);
    assert.match(d.log(), /starting/);
    await d.stop();
    assert.throws(() => process.kill(d.pid, 0), /ESRCH/);
  });

  it('rejects with what the server logged when it exits before it is ready', async () => {
    await assert.rejects(
      startDaemon('fake', node, ['-e', 'console.error("bind: address in use"); process.exit(3)'], /ready/),
      /fake exited \(3\) before it was ready:\nbind: address in use/,
    );
  });

  it('rejects when the binary cannot be run', async () => {
    await assert.rejects(startDaemon('fake', '/nonexistent/server', [], /ready/), /fake could not be started \(\/nonexistent\/server\): .*ENOENT/);
  });

  it('gives up after its timeout and kills the server', async () => {
    await assert.rejects(startDaemon('fake', node, ['-e', 'console.log("slow"); setInterval(() => {}, 1000)'], /ready/, 300), /fake was not ready after 300 ms:\nslow/);
  });
});
