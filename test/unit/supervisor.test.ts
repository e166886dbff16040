// The supervisor of worker targets over a real coordinator and store, with the injected clock and
// a launcher that records starts and lets the test end each process: backoff, the breaker and its
// window, autoscaling and idle timeouts, concurrent triggers, adoption after a host restart,
// config.json. (Real processes: test/integration/fleet.test.ts.)
import * as assert from 'node:assert/strict';
import { ManualClock } from '../../src/core/clock';
import { Coordinator, DEFAULT_CONFIG } from '../../src/core/coordinator';
import { BACKOFF_MAX_MS, backoffMs, BREAKER_WINDOW_MS, HEALTHY_RUN_MS } from '../../src/core/fleet';
import { silentLogger } from '../../src/core/log';
import { MemoryStore } from '../../src/core/memory-store';
import type { Store } from '../../src/core/store';
import type { LaunchedWorker, LaunchSpec, WorkerExit, WorkerLauncher } from '../../src/server/fleet/launcher';
import { Supervisor, type SupervisorConfig } from '../../src/server/fleet/supervisor';
import { decideScale, type SlotObservation } from '../../src/server/fleet/autoscale';

interface FakeProcess {
  spec: LaunchSpec;
  pid: number;
  exit(e: Partial<WorkerExit>): void;
  stopped: boolean;
}

/** Records every start; a test ends a process with `exit`; `stop` ends it cleanly (exit 0). */
class FakeLauncher implements WorkerLauncher {
  constructor(readonly stopOnClose = true) {}
  readonly started: FakeProcess[] = [];
  readonly adopted: Array<{ spec: LaunchSpec; pid: number }> = [];
  private nextPid = 1000;
  failNext: string | undefined;
  /** A stopped process takes its time to end: it ends when the test says (`exit`). */
  lingerOnStop = false;

  async launch(spec: LaunchSpec): Promise<LaunchedWorker> {
    if (this.failNext) {
      const why = this.failNext;
      this.failNext = undefined;
      throw new Error(why);
    }
    let resolve!: (e: WorkerExit) => void;
    const exited = new Promise<WorkerExit>((r) => (resolve = r));
    const p: FakeProcess = {
      spec,
      pid: this.nextPid++,
      stopped: false,
      exit: (e) => resolve({ code: 0, signal: null, tail: '', ...e }),
    };
    this.started.push(p);
    return {
      pid: p.pid,
      exited,
      stop: () => {
        p.stopped = true;
        if (!this.lingerOnStop) p.exit({ code: 0 });
      },
    };
  }

  adopt(spec: LaunchSpec, pid: number): LaunchedWorker {
    this.adopted.push({ spec, pid });
    return { pid, exited: new Promise(() => {}), stop: () => {} };
  }

  live(target?: string): FakeProcess[] {
    return this.started.filter((p) => !p.stopped && !this.ended.has(p) && (target === undefined || p.spec.target === target));
  }

  readonly ended = new Set<FakeProcess>();
  crash(p: FakeProcess, e: Partial<WorkerExit> = { code: 3, tail: 'boom' }): void {
    this.ended.add(p);
    p.exit(e);
  }
}

describe('supervisor of worker targets (injected clock, fake processes)', () => {
  let clock: ManualClock;
  let store: Store;
  let c: Coordinator;
  let launcher: FakeLauncher;
  let sup: Supervisor;
  let config: SupervisorConfig | undefined;
  const alive = new Set<number>();

  const newSupervisor = (l: WorkerLauncher = launcher) =>
    new Supervisor({
      coordinator: c,
      launcher: l,
      harness: { argv: ['node', 'cli.js'] },
      socketPath: '/tmp/h.sock',
      workspace: '/tmp/ws',
      log: silentLogger,
      clock,
      tickMs: 1000,
      pidAlive: (pid) => alive.has(pid),
      ...(config ? { readConfig: () => config! } : {}),
    });

  /** Lets every reconcile and launch the last step caused finish. */
  const settle = async () => {
    for (let i = 0; i < 5; i++) {
      await sup.settled();
      await new Promise((r) => setImmediate(r));
    }
  };
  const advance = async (ms: number) => {
    clock.advance(ms);
    await settle();
  };
  /** The worker registers (what `harness work` does first): it counts as started and idle. */
  const register = async (p: FakeProcess) => {
    await c.registerInstance({ worker_id: p.spec.worker_id, pid: p.pid, capabilities: store.fleet.target(p.spec.target)?.capabilities ?? [] });
    alive.add(p.pid);
    await settle();
  };

  beforeEach(async () => {
    clock = new ManualClock();
    store = new MemoryStore();
    c = new Coordinator(store, DEFAULT_CONFIG, clock);
    launcher = new FakeLauncher();
    config = undefined;
    alive.clear();
    sup = newSupervisor();
  });
  afterEach(async () => {
    await sup.close(100);
    await c.close();
  });

  it('starts min workers as `harness work` around the command, with the worker id of the slot', async () => {
    await c.fleet.add({ name: 'ts', command: ['agent', '--task', '{id}'], capabilities: ['ts'], min: 2, max: 2, usage: 'claude' }, { source: 'cli' });
    sup.start();
    await settle();
    assert.equal(launcher.started.length, 2);
    const [a, b] = launcher.started.map((p) => p.spec);
    assert.deepEqual([a!.worker_id, b!.worker_id], ['ts-1', 'ts-2']);
    assert.equal(a!.title, 'Harness ts #1');
    assert.deepEqual(a!.argv, ['node', 'cli.js', 'work', '--name', 'Harness ts #1', '--capability', 'ts', '--exit-on-crash', '--usage', 'claude', '--', 'agent', '--task', '{id}']);
    assert.equal(a!.env.HARNESS_WORKER_ID, 'ts-1');
    assert.equal(a!.env.HARNESS_SOCKET, '/tmp/h.sock');
    assert.deepEqual(
      store.fleet.slots('ts').map((s) => [s.worker_id, s.state, s.generation, s.pid, s.host]),
      [
        ['ts-1', 'running', 1, 1000, sup.host],
        ['ts-2', 'running', 2, 1001, sup.host],
      ],
    );
  });

  it('restarts a crashed worker after 1 s, doubling to 30 s, and trips the breaker at the fifth crash in 10 minutes', async () => {
    await c.fleet.add({ name: 'flaky', command: ['x'], min: 1 }, { source: 'cli' });
    const exits: Array<{ restart_at: string | null; abnormal: boolean }> = [];
    c.events.on('worker:exited', (e) => exits.push(e));
    const failing: string[] = [];
    c.events.on('target:failing', (e) => failing.push(e.target.last_output ?? ''));
    sup.start();
    await settle();
    const waits: number[] = [];
    for (let crash = 1; crash <= 4; crash++) {
      const p = launcher.live('flaky')[0]!;
      launcher.crash(p, { code: 3, tail: `crash ${crash}` });
      await settle();
      const slot = store.fleet.slots('flaky')[0]!;
      assert.equal(slot.state, 'backoff', `after crash ${crash}`);
      const wait = Date.parse(slot.restart_at!) - clock.now();
      waits.push(wait);
      // Not a moment early.
      await advance(wait - 1);
      assert.equal(launcher.live('flaky').length, 0, `still waiting after crash ${crash}`);
      await advance(1);
      assert.equal(launcher.live('flaky').length, 1, `restarted after crash ${crash}`);
      assert.equal(launcher.started.length, crash + 1);
    }
    assert.deepEqual(waits, [1000, 2000, 4000, 8000]);
    assert.equal(store.fleet.target('flaky')!.state, 'ok');
    launcher.crash(launcher.live('flaky')[0]!, { code: 3, tail: 'Error: no API key\n' });
    await settle();
    assert.equal(store.fleet.target('flaky')!.state, 'failing');
    assert.deepEqual(failing, ['Error: no API key']);
    assert.equal(exits.at(-1)!.restart_at, null);
    const view = c.fleet.get('flaky');
    assert.equal(view.crashes, 5);
    assert.match(view.last_exit!, /flaky-1: exit code 3/);
    // Failing: nothing starts, however long one waits.
    await advance(10 * 60_000);
    assert.equal(launcher.live('flaky').length, 0);
    // A person resets it: it starts again at once, its backoff from the start.
    await c.fleet.reset('flaky');
    await settle();
    assert.equal(launcher.live('flaky').length, 1);
    launcher.crash(launcher.live('flaky')[0]!);
    await settle();
    assert.equal(Date.parse(store.fleet.slots('flaky')[0]!.restart_at!) - clock.now(), 1000);
  });

  it('caps the backoff at 30 s; crashes spread over more than 10 minutes do not trip the breaker; a long healthy run starts the backoff over', async () => {
    await c.fleet.add({ name: 'slow', command: ['x'], min: 1 }, { source: 'cli' });
    sup.start();
    await settle();
    assert.ok(3 * 60_000 >= HEALTHY_RUN_MS);
    await advance(3 * 60_000);
    for (let crash = 1; crash <= 8; crash++) {
      // Each process runs 3 minutes (healthy) before it crashes: 4 at most within any 10 minutes.
      launcher.crash(launcher.live('slow')[0]!);
      await settle();
      const slot = store.fleet.slots('slow')[0]!;
      const wait = Date.parse(slot.restart_at!) - clock.now();
      assert.equal(wait, 1000, `crash ${crash}: after a healthy run the backoff starts over`);
      await advance(wait);
      await advance(3 * 60_000);
    }
    assert.equal(store.fleet.target('slow')!.state, 'ok', 'crashes 3 minutes apart never make 5 in 10 minutes');

    // Ten minutes later the window is empty again; quick crashes in a row back off, doubling.
    await advance(BREAKER_WINDOW_MS);
    const waits: number[] = [];
    for (let crash = 1; crash <= 4; crash++) {
      launcher.crash(launcher.live('slow')[0]!);
      await settle();
      assert.equal(store.fleet.target('slow')!.state, 'ok');
      const wait = Date.parse(store.fleet.slots('slow')[0]!.restart_at!) - clock.now();
      waits.push(wait);
      await advance(wait);
    }
    assert.deepEqual(waits, [1000, 2000, 4000, 8000]);
    // The breaker trips before the backoff reaches its cap; a reset target gets there.
    assert.deepEqual([6, 7, 20].map(backoffMs), [BACKOFF_MAX_MS, BACKOFF_MAX_MS, BACKOFF_MAX_MS]);
    assert.equal(backoffMs(5), 16_000);
  });

  it('scales up toward max while ready tasks wait and no worker is idle, never past max; down to min after the idle timeout', async () => {
    await c.fleet.add({ name: 'ts', command: ['x'], capabilities: ['ts'], min: 1, max: 4, idle_timeout_seconds: 60 }, { source: 'cli' });
    sup.start();
    await settle();
    assert.equal(launcher.live().length, 1);
    await register(launcher.live()[0]!);
    // Tasks it cannot do do not count.
    await c.addTasks([{ id: 'py', capabilities: ['python'] }]);
    await settle();
    assert.equal(launcher.live().length, 1, 'no task for it: no new worker');
    // 50 tasks at once, while its one worker is idle: the idle worker takes one first.
    await c.addTasks(Array.from({ length: 50 }, (_, i) => ({ id: `t${i}`, capabilities: ['ts'] })));
    await settle();
    assert.equal(launcher.live().length, 1, 'an idle worker will take the work: no scale-up yet');
    await c.claim({ worker_id: 'ts-1' });
    await settle();
    assert.equal(launcher.live().length, 4, 'busy, 49 waiting: up to max at once');
    for (const p of launcher.live().slice(1)) await register(p);
    for (const p of launcher.live().slice(1)) await c.claim({ worker_id: p.spec.worker_id });
    await advance(5000);
    assert.equal(launcher.live().length, 4, 'never past max');
    assert.equal(launcher.started.length, 4);
    // The work drains; workers go idle.
    for (const p of launcher.live()) {
      const held = store.heldBy(p.spec.worker_id)[0]!;
      await c.complete({ worker_id: p.spec.worker_id, task_id: held.id });
    }
    for (const t of c.listTasks('pending').filter((t) => t.capabilities.includes('ts'))) await c.cancel({ task_id: t.id });
    await advance(59_000);
    assert.equal(launcher.live().length, 4, 'idle, but not yet for the timeout');
    await advance(1000);
    assert.equal(launcher.live().length, 1, 'down to min');
    assert.deepEqual(store.fleet.slots('ts').map((s) => s.worker_id), ['ts-1'], 'the lowest slot stays');
  });

  it('a burst of triggers at once starts exactly the wanted count', async () => {
    await c.fleet.add({ name: 'b', command: ['x'], min: 3, max: 3 }, { source: 'cli' });
    sup.start();
    for (let i = 0; i < 50; i++) sup.kick();
    const added = Promise.all(Array.from({ length: 20 }, (_, i) => c.addTasks([{ id: `k${i}` }])));
    for (let i = 0; i < 50; i++) sup.kick();
    await added;
    await settle();
    assert.equal(launcher.started.length, 3);
    assert.deepEqual(store.fleet.slots('b').map((s) => s.slot), [1, 2, 3]);
  });

  it('adopts the running workers of an earlier host, and restarts the ones that are gone: the count is unchanged', async () => {
    // The first host is a window: closing it leaves its workers running (as a reload does).
    const windowLauncher = new FakeLauncher(false);
    await sup.close(0);
    sup = newSupervisor(windowLauncher);
    await c.fleet.add({ name: 'ad', command: ['x'], min: 3, max: 3 }, { source: 'cli' });
    sup.start();
    await settle();
    const [p1, p2, p3] = windowLauncher.live();
    for (const p of [p1!, p2!, p3!]) await register(p);
    const firstHost = sup.host;
    await sup.close(0);
    // Its worker ad-3 died meanwhile, without deregistering.
    alive.delete(p3!.pid);

    const next = new FakeLauncher();
    sup = newSupervisor(next);
    sup.start();
    await settle();
    assert.deepEqual(next.adopted.map((a) => [a.spec.worker_id, a.pid]), [['ad-1', p1!.pid], ['ad-2', p2!.pid]]);
    assert.deepEqual(next.started.map((p) => p.spec.worker_id), ['ad-3'], 'the one that is gone is started again (not seen crashing: no backoff)');
    const slots = store.fleet.slots('ad');
    assert.deepEqual(slots.map((s) => [s.worker_id, s.state, s.host === firstHost, s.host === sup.host]), [
      ['ad-1', 'running', false, true],
      ['ad-2', 'running', false, true],
      ['ad-3', 'running', false, true],
    ]);
    assert.equal(c.fleet.get('ad').crashes, 0);
    assert.equal(store.fleet.slots('ad').length, 3, 'three workers, as before');
  });

  it('a reload mid-spawn (a slot claimed, its process never started) gives exactly the wanted count', async () => {
    await c.fleet.add({ name: 'mid', command: ['x'], min: 2, max: 2 }, { source: 'cli' });
    // What a host that died between claiming two slots and starting their processes leaves.
    const claimed = [await c.fleet.claimSlot('mid', 1, 'dead-host'), await c.fleet.claimSlot('mid', 2, 'dead-host')];
    await c.fleet.slotRunning('mid', 2, claimed[1]!.generation, 4242, 'dead-host'); // slot 2 had started, and its process is gone
    sup.start();
    await settle();
    assert.deepEqual(launcher.started.map((p) => p.spec.worker_id).sort(), ['mid-1', 'mid-2']);
    for (let i = 0; i < 3; i++) {
      sup.kick();
      await advance(1000);
    }
    assert.equal(launcher.started.length, 2, 'two, and only two');
    assert.deepEqual(store.fleet.slots('mid').map((s) => [s.state, s.host === sup.host]), [['running', true], ['running', true]]);
  });

  it('applies config.json: targets and budgets added, changed and removed; a scale survives until the entry changes', async () => {
    config = { targets: { cfg: { command: ['agent'], min: 1, max: 2 } }, budgets: { plan: 10, groups: { docs: 2 } }, prices: {} };
    sup = newSupervisor();
    sup.start();
    await settle();
    assert.equal(store.fleet.target('cfg')?.source, 'config');
    assert.deepEqual(c.budgets.list().map((b) => [b.scope, b.name, b.limit_usd, b.source]), [
      ['plan', null, 10, 'config'],
      ['group', 'docs', 2, 'config'],
    ]);
    await c.fleet.scale('cfg', { min: 2, max: 3 });
    await advance(1000);
    assert.equal(store.fleet.target('cfg')!.max, 3, 'the scale stays while config.json is unchanged');
    await assert.rejects(c.fleet.remove('cfg'), /defined in \.harness\/config\.json: remove it there/);
    config = { targets: { cfg: { command: ['agent', '--fast'], min: 1, max: 2 } }, budgets: { plan: 10 }, prices: {} };
    await advance(1000);
    assert.deepEqual(store.fleet.target('cfg')!.command, ['agent', '--fast']);
    assert.equal(store.fleet.target('cfg')!.max, 2);
    assert.deepEqual(c.budgets.list().map((b) => b.scope), ['plan']);
    config = { targets: {}, budgets: {}, prices: {} };
    await advance(1000);
    assert.equal(store.fleet.target('cfg'), undefined);
    assert.deepEqual(c.budgets.list(), []);
    await advance(1000);
    assert.equal(launcher.live('cfg').length, 0, 'its workers were stopped');
  });

  it('Restart Worker stops the process and starts the slot again at once, without counting a crash', async () => {
    // Room for two, and a ready task: the restart must not look like one worker fewer.
    await c.fleet.add({ name: 'r', command: ['x'], min: 1, max: 2 }, { source: 'cli' });
    await c.addTasks([{ id: 'waiting' }]);
    sup.start();
    await settle();
    const first = launcher.live()[0]!;
    launcher.lingerOnStop = true;
    await sup.restart('r-1');
    // A reconcile while the old process is still ending.
    await advance(1000);
    assert.equal(launcher.started.length, 1, 'nothing started while the old process ends');
    first.exit({ code: 0 });
    await settle();
    assert.ok(first.stopped);
    assert.equal(launcher.live().length, 1);
    assert.notEqual(launcher.live()[0], first);
    assert.ok(store.fleet.slots('r')[0]!.generation > 1);
    assert.equal(launcher.started.length, 2, 'the old process and its replacement; no second slot');
    assert.deepEqual(store.fleet.slots('r').map((x) => x.slot), [1]);
    assert.equal(c.fleet.get('r').crashes, 0);
  });

  it('a worker being restarted when its target is scaled below it is not started again', async () => {
    await c.fleet.add({ name: 'r', command: ['x'], min: 2, max: 2 }, { source: 'cli' });
    sup.start();
    await settle();
    assert.equal(launcher.live().length, 2);
    launcher.lingerOnStop = true;
    const second = launcher.live().find((p) => p.spec.worker_id === 'r-2')!;
    await sup.restart('r-2');
    await c.fleet.scale('r', { min: 1, max: 1 });
    await settle();
    second.exit({ code: 0 });
    await advance(1000);
    assert.equal(launcher.started.length, 2, 'no new process for slot 2');
    assert.deepEqual(store.fleet.slots('r').map((x) => x.slot), [1]);
  });

  it('a target removed while its worker is starting: the process is stopped once it runs, never left behind', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: WorkerLauncher = {
      stopOnClose: true,
      launch: async (spec) => {
        await gate;
        return launcher.launch(spec);
      },
      adopt: (spec, pid) => launcher.adopt(spec, pid),
    };
    await sup.close(0);
    sup = newSupervisor(slow);
    await c.fleet.add({ name: 'gone', command: ['x'], min: 1 }, { source: 'cli' });
    sup.start();
    await new Promise((r) => setImmediate(r));
    assert.equal(store.fleet.slots('gone')[0]?.state, 'starting');
    await c.fleet.remove('gone');
    release();
    await settle();
    assert.equal(launcher.started.length, 1);
    assert.ok(launcher.started[0]!.stopped, 'stopped as soon as it ran');
    assert.deepEqual(store.fleet.slots(), [], 'and its slot freed');
  });

  it('a worker that cannot be started counts as a crash', async () => {
    await c.fleet.add({ name: 'nf', command: ['x'], min: 1 }, { source: 'cli' });
    launcher.failNext = 'spawn ENOENT';
    sup.start();
    await settle();
    const slot = store.fleet.slots('nf')[0]!;
    assert.equal(slot.state, 'backoff');
    assert.match(slot.last_exit!, /could not start: spawn ENOENT/);
    await advance(1000);
    assert.equal(launcher.live('nf').length, 1);
  });
});

describe('decideScale', () => {
  const policy = { min: 1, max: 4, idle_timeout_seconds: 60 };
  it('keeps min, grows with ready work while none is idle, shrinks after the idle timeout, never leaves min..max', () => {
    const w = (worker_id: string, slot: number, state: SlotObservation['state'], idleMs?: number): SlotObservation => ({ worker_id, slot, state, ...(idleMs !== undefined ? { idleMs } : {}) });
    assert.deepEqual(decideScale(policy, [], 0), { add: 1, stop: [] });
    assert.deepEqual(decideScale(policy, [w('a', 1, 'busy')], 50), { add: 3, stop: [] });
    assert.deepEqual(decideScale(policy, [w('a', 1, 'busy'), w('b', 2, 'starting')], 2), { add: 1, stop: [] }, 'a starting worker takes one of them');
    assert.deepEqual(decideScale(policy, [w('a', 1, 'busy'), w('b', 2, 'idle', 1)], 50), { add: 0, stop: [] }, 'an idle worker: no scale-up');
    assert.deepEqual(decideScale(policy, [w('a', 1, 'idle', 61_000), w('b', 2, 'idle', 70_000), w('c', 3, 'busy')], 0), { add: 0, stop: ['b', 'a'] });
    assert.deepEqual(decideScale(policy, [w('a', 1, 'idle', 61_000), w('b', 2, 'idle', 61_000)], 0), { add: 0, stop: ['b'] }, 'down to min; the lowest slot stays');
    assert.deepEqual(decideScale({ ...policy, max: 1 }, [w('a', 1, 'busy'), w('b', 2, 'idle', 5)], 9), { add: 0, stop: ['b'] }, 'above a lowered max');
  });
});
