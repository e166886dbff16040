import * as assert from 'node:assert/strict';
import type { Logger } from '../../src/core/log';
import type { HostMessage, OutputChunk, RunLogMessage, StateMessage } from '../../src/protocol/webview';
import { PanelOutbox, type Timers } from '../../src/ui/outbox';
import { state } from '../webview/fixtures';

/** Timers that run only when the test moves the clock. */
class FakeTimers implements Timers {
  now = 0;
  private next = 1;
  private pending = new Map<number, { at: number; fn: () => void }>();
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.pending.set(id, { at: this.now + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      await settle();
      const due = [...this.pending.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.pending.delete(due[0]);
      this.now = due[1].at;
      due[1].fn();
    }
    this.now = end;
    await settle();
  }
}

const settle = () => new Promise((resolve) => setImmediate(resolve));
const failOnError: Logger = { debug() {}, info() {}, warn() {}, error: (m) => assert.fail(`unexpected error log: ${m}`) };

function setup(options: ConstructorParameters<typeof PanelOutbox>[1] = {}) {
  const timers = new FakeTimers();
  const posted: HostMessage[] = [];
  const calls = { state: 0, log: [] as string[] };
  let logReply: (runId: string) => Promise<RunLogMessage> = async (runId) => ({ type: 'runLog', run_id: runId, output: [{ stream: 'stdout', data: 'from the log\n' }], dropped_bytes: 0 });
  const outbox = new PanelOutbox(
    {
      fetchState: async (): Promise<StateMessage> => {
        calls.state++;
        return state();
      },
      fetchLog: (runId) => {
        calls.log.push(runId);
        return logReply(runId);
      },
      post: (m) => posted.push(m),
      log: failOnError,
      timers,
    },
    options,
  );
  const chunk = (data: string, stream: 'stdout' | 'stderr' = 'stdout', run_id = 'run-3') =>
    outbox.onEvent({ event: 'run:output', data: { run_id, task_id: null, stream, data }, ts: '' });
  const types = () => posted.map((m) => m.type);
  const outputs = () => posted.filter((m): m is Extract<HostMessage, { type: 'output' }> => m.type === 'output');
  return { outbox, timers, posted, calls, chunk, types, outputs, setLogReply: (f: typeof logReply) => (logReply = f) };
}

describe('PanelOutbox', () => {
  it('posts nothing before ready, then the state and the remembered run\'s log', async () => {
    const t = setup();
    t.outbox.onEvent({ event: 'task:added', data: {}, ts: '' });
    t.chunk('early\n');
    await t.timers.advance(1000);
    assert.deepEqual(t.posted, []);
    t.outbox.onReady('run-3');
    await t.timers.advance(0);
    assert.deepEqual(t.types(), ['state', 'runLog']);
    assert.equal(t.outbox.posted.get('run-3'), 'from the log\n');
  });

  it('coalesces a burst of events into one state refresh, sent at once', async () => {
    const t = setup();
    t.outbox.onReady(null);
    await t.timers.advance(0);
    t.outbox.onRendered(1);
    t.calls.state = 0;
    for (let i = 0; i < 100; i++) t.outbox.onEvent({ event: i % 2 ? 'task:claimed' : 'some:future_event', data: {}, ts: '' });
    assert.equal(t.calls.state, 0, 'not within the burst');
    await t.timers.advance(0);
    assert.equal(t.calls.state, 1, 'one read for the whole burst, without waiting');
    t.outbox.onRendered(2);
    t.outbox.onEvent({ event: 'task:heartbeat', data: {}, ts: '' });
    await t.timers.advance(100);
    assert.equal(t.calls.state, 1, 'a heartbeat changes nothing shown');
  });

  it('numbers states and sends the next only once the webview rendered the last, or after the render timeout', async () => {
    const t = setup({ renderTimeoutMs: 2000 });
    t.outbox.onReady(null);
    await t.timers.advance(0);
    const states = () => t.posted.filter((m): m is StateMessage => m.type === 'state');
    assert.deepEqual(states().map((m) => m.seq), [1]);
    for (let i = 0; i < 10; i++) {
      t.outbox.onEvent({ event: 'task:claimed', data: {}, ts: '' });
      await t.timers.advance(100);
    }
    assert.deepEqual(states().map((m) => m.seq), [1], 'nothing more while state 1 is unanswered');
    t.outbox.onRendered(7); // an answer to some other state changes nothing
    await t.timers.advance(0);
    assert.equal(states().length, 1);
    t.outbox.onRendered(1);
    await t.timers.advance(0);
    assert.deepEqual(states().map((m) => m.seq), [1, 2], 'one state with all ten changes');
    t.outbox.onEvent({ event: 'task:completed', data: {}, ts: '' });
    await t.timers.advance(1999);
    assert.equal(states().length, 2, 'state 2 is still unanswered');
    await t.timers.advance(1);
    assert.deepEqual(states().map((m) => m.seq), [1, 2, 3], 'a webview that never answers gets the next state after the timeout');
  });

  it('measures the time from an event to the webview having rendered it', async () => {
    let clock = 1000;
    const t = setup();
    const outbox = new PanelOutbox({ fetchState: async () => state(), fetchLog: async (r) => ({ type: 'runLog', run_id: r, output: [], dropped_bytes: 0 }), post: () => {}, log: failOnError, timers: t.timers, now: () => clock }, {});
    outbox.onReady(null);
    await t.timers.advance(0);
    outbox.onRendered(1);
    assert.equal(outbox.lastEventToRenderedMs, undefined, 'the first state answered no event');
    outbox.onEvent({ event: 'task:claimed', data: {}, ts: '' });
    clock += 20;
    outbox.onEvent({ event: 'task:progress', data: {}, ts: '' }); // the latency runs from the first
    await t.timers.advance(50);
    clock += 90;
    outbox.onRendered(2);
    assert.equal(outbox.lastEventToRenderedMs, 110);
  });

  it('streams only the selected run, in batches every 30 ms, adjacent chunks merged', async () => {
    const t = setup();
    t.outbox.onReady(null);
    t.outbox.selectRun('run-3');
    await t.timers.advance(0);
    t.posted.length = 0;
    t.chunk('a');
    t.chunk('b');
    t.chunk('E', 'stderr');
    t.chunk('other run', 'stdout', 'run-9');
    await t.timers.advance(29);
    assert.deepEqual(t.posted, []);
    await t.timers.advance(1);
    assert.deepEqual(t.outputs().map((m) => m.chunks), [
      [
        { run_id: 'run-3', stream: 'stdout', data: 'ab' },
        { run_id: 'run-3', stream: 'stderr', data: 'E' },
      ],
    ]);
    assert.equal(t.outbox.posted.get('run-3'), 'from the log\nabE');
  });

  it('bounds each batch and spreads a flood over ticks without losing a character', async () => {
    const t = setup({ maxBatchChunks: 3, maxBatchChars: 10, maxQueuedChars: 10_000 });
    t.outbox.onReady('run-3');
    await t.timers.advance(0);
    const sent: string[] = [];
    for (let i = 0; i < 20; i++) {
      const s = i % 2 ? 'stderr' : 'stdout';
      t.chunk(`${i}:xxxxxx;`, s);
      sent.push(`${i}:xxxxxx;`);
    }
    await t.timers.advance(30 * 40);
    const batches = t.outputs();
    assert.ok(batches.length > 5, `${batches.length} batches`);
    for (const b of batches) {
      assert.ok(b.chunks.length <= 3);
      assert.ok(b.chunks.reduce((n, c) => n + c.data.length, 0) <= 10);
    }
    assert.equal(batches.flatMap((b) => b.chunks.map((c) => c.data)).join(''), sent.join(''));
  });

  it('drops a backlog past its bound for one fresh runLog instead', async () => {
    const t = setup({ maxQueuedChars: 100 });
    t.outbox.onReady('run-3');
    await t.timers.advance(0);
    t.outbox.setVisible(false);
    for (let i = 0; i < 50; i++) t.chunk('0123456789');
    await t.timers.advance(1000);
    assert.deepEqual(t.types(), ['state', 'runLog']);
    t.outbox.setVisible(true);
    await t.timers.advance(100);
    assert.deepEqual(t.types(), ['state', 'runLog', 'state', 'runLog'], 'one fresh state and the log, no stale output');
    assert.deepEqual(t.calls.log, ['run-3', 'run-3']);
  });

  it('holds output while hidden and flushes it with a fresh state when shown', async () => {
    const t = setup();
    t.outbox.onReady('run-3');
    await t.timers.advance(0);
    t.outbox.setVisible(false);
    t.chunk('while hidden\n');
    t.outbox.onEvent({ event: 'task:completed', data: {}, ts: '' });
    await t.timers.advance(1000);
    assert.deepEqual(t.types(), ['state', 'runLog']);
    t.outbox.setVisible(true);
    await t.timers.advance(0);
    assert.deepEqual(t.types().slice(2).sort(), ['output', 'state'], 'the held output (at once) and a fresh state (once read)');
    assert.equal(t.outputs()[0]!.chunks[0]!.data, 'while hidden\n');
  });

  it('replays everything when the webview reloads (a second ready)', async () => {
    const t = setup();
    t.outbox.onReady('run-3');
    await t.timers.advance(100);
    t.outbox.onReady('run-3');
    await t.timers.advance(100);
    assert.deepEqual(t.types(), ['state', 'runLog', 'state', 'runLog']);
  });

  it('drops live chunks that arrive while the log is fetched (the log holds them), keeps later ones', async () => {
    const t = setup();
    let release!: () => void;
    t.setLogReply((runId) => new Promise((resolve) => (release = () => resolve({ type: 'runLog', run_id: runId, output: [{ stream: 'stdout', data: '1\n2\n' }], dropped_bytes: 0 }))));
    t.outbox.onReady(null);
    t.outbox.selectRun('run-3');
    await t.timers.advance(0);
    t.chunk('2\n'); // written before the server answered: in the log
    release();
    await t.timers.advance(0);
    t.chunk('3\n');
    await t.timers.advance(30);
    assert.equal(t.outbox.posted.get('run-3'), '1\n2\n3\n');
  });

  it('ignores a log reply for a run no longer selected', async () => {
    const t = setup();
    const releases: Array<() => void> = [];
    t.setLogReply((runId) => new Promise((resolve) => releases.push(() => resolve({ type: 'runLog', run_id: runId, output: [], dropped_bytes: 0 }))));
    t.outbox.onReady(null);
    t.outbox.selectRun('run-1');
    await t.timers.advance(0);
    t.outbox.selectRun('run-2');
    await t.timers.advance(0);
    releases.forEach((r) => r());
    await t.timers.advance(0);
    assert.deepEqual(
      t.posted.filter((m) => m.type === 'runLog').map((m) => (m as RunLogMessage).run_id),
      ['run-2'],
    );
  });

  it('tells the webview about a host-side selection, even one made before it was ready', async () => {
    const t = setup();
    t.outbox.selectRun('run-2', true);
    t.outbox.onReady('run-1'); // the webview remembered another run
    await t.timers.advance(0);
    assert.deepEqual(t.posted[0], { type: 'select', run_id: 'run-2' });
    assert.deepEqual(t.calls.log, ['run-2']);
    t.outbox.selectRun('run-3', true);
    await t.timers.advance(0);
    assert.deepEqual(t.posted.filter((m) => m.type === 'select').at(-1), { type: 'select', run_id: 'run-3' });
  });

  it('reports a failed log fetch to the webview and keeps going', async () => {
    const t = setup();
    t.setLogReply(async () => {
      throw new Error('run run-7 does not exist');
    });
    t.outbox.onReady('run-7');
    await t.timers.advance(0);
    assert.deepEqual(t.posted.find((m) => m.type === 'error'), { type: 'error', message: 'Could not read the output of run run-7: run run-7 does not exist' });
  });

  it('stops after dispose', async () => {
    const t = setup();
    t.outbox.onReady('run-3');
    await t.timers.advance(0);
    t.outbox.dispose();
    t.chunk('late');
    t.outbox.onEvent({ event: 'task:added', data: {}, ts: '' });
    await t.timers.advance(1000);
    assert.deepEqual(t.types(), ['state', 'runLog']);
  });

  it('keeps only the tail of what it recorded per run', () => {
    const t = setup();
    const chunks: OutputChunk[] = [{ run_id: 'r', stream: 'stdout', data: 'x'.repeat(300 * 1024) }];
    t.outbox.posted.record({ type: 'output', chunks });
    assert.equal(t.outbox.posted.get('r')!.length, 256 * 1024);
  });
});
