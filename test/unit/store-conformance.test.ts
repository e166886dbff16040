// The contract of core/store.ts itself, for every Store implementation: transactions are atomic
// and visible at once, `durable` settles in order, rows come back frozen, and every indexed read
// (ready order, backoff, leases by expiry, holders, dependents, counts, the status summary, pages
// from a cursor) answers exactly what a scan of all rows would. The reads are checked against a naive
// model over random histories (fast-check); persistent stores must answer the same after a
// reopen. A new backend passes this before anything else runs on it.
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { DurableStore } from '../../src/core/durable-store';
import { VolatileLog, type DurabilityLog, type LogEntry } from '../../src/core/durability';
import { JOURNAL_FORMAT } from '../../src/core/journal';
import { TASK_STATUSES, type TaskStatus } from '../../src/core/model';
import { ZERO_COUNTS, type Store, type TaskRow, type TaskSummary } from '../../src/core/store';
import { addUsage, ZERO_SUM, type UsageKey, type UsageSum } from '../../src/core/usage-index';
import type { AttemptUsage } from '../../src/protocol/usage';
import type { BudgetRow, SlotRow, TargetRow } from '../../src/core/fleet-rows';
import { taskRow } from '../support/rows';
import { closeReplicatedStores, replicatedStoreFactory } from '../support/replicated-stores';
import { storeFactories, workerFileStore, type StoreFactory } from '../support/stores';

const T0 = Date.UTC(2026, 0, 1);
const iso = (ms: number) => new Date(ms).toISOString();
const IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
const WORKERS = ['w1', 'w2'];

function baseRow(id: string, seq: number, dependencies: string[]): TaskRow {
  return taskRow(id, { dependencies, timeout_seconds: 60, created_at: iso(T0), payload: { n: seq }, seq });
}

/** One version of a task, as a random history writes it. */
interface Put {
  id: string;
  status: TaskStatus;
  priority: number;
  capabilities: string[];
  unmet: number;
  holder: number;
  leaseOffset: number;
  retryOffset: number | null;
  group: string | null;
  /** Attempts' usage: [worker index, target index or -1, nano-dollars or -1 for unpriced]. */
  usage: Array<[number, number, number]> | null;
}

const putArb: fc.Arbitrary<Put> = fc.record({
  id: fc.constantFrom(...IDS),
  status: fc.constantFrom(...TASK_STATUSES),
  priority: fc.integer({ min: -2, max: 2 }),
  capabilities: fc.subarray(['x', 'y']),
  unmet: fc.integer({ min: 0, max: 1 }),
  holder: fc.integer({ min: 0, max: 1 }),
  leaseOffset: fc.integer({ min: -3000, max: 3000 }),
  retryOffset: fc.option(fc.integer({ min: -3000, max: 3000 })),
  group: fc.option(fc.constantFrom('g1', 'g2')),
  usage: fc.option(fc.array(fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: -1, max: 1 }), fc.integer({ min: -1, max: 3_000_000_000 })), { maxLength: 3 })),
});

const TARGETS = ['t1', 't2'];

function usageOf(entries: Array<[number, number, number]>): AttemptUsage[] {
  return entries.map(([w, t, nano], i) => ({
    attempt: i + 1,
    worker_id: WORKERS[w]!,
    target: t < 0 ? null : TARGETS[t]!,
    agent: null,
    model: null,
    input_tokens: 10 * (i + 1),
    output_tokens: i,
    cache_read_tokens: 3,
    cache_write_tokens: 0,
    // Odd fractions of a dollar: floating-point sums of these would drift.
    cost_usd: nano < 0 ? null : nano / 1e9 + 0.1,
    cost_source: nano < 0 ? 'unknown' : 'reported',
    prices_as_of: null,
    session_id: null,
    source: 'reported',
    reported_at: iso(T0),
  }));
}

type Step = { kind: 'tx'; puts: Put[]; fail: boolean } | { kind: 'time'; ms: number };
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('tx' as const), puts: fc.array(putArb, { minLength: 1, maxLength: 3 }), fail: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('time' as const), ms: fc.integer({ min: -1500, max: 4000 }) }) },
);

/** The rows a history leaves, and what every read should answer, computed by scanning them. */
class Model {
  rows = new Map<string, TaskRow>();
  now = T0;
  private nextSeq = 1;

  rowFor(p: Put, current: Map<string, TaskRow>): TaskRow {
    const before = current.get(p.id);
    const base = before ?? baseRow(p.id, this.nextSeq++, [...current.keys()].filter((k) => k < p.id).slice(0, 2));
    const running = p.status === 'running';
    const row: TaskRow = {
      ...base,
      status: p.status,
      priority: p.priority,
      unmet_deps: p.unmet,
      claimed_by: running ? WORKERS[p.holder]! : null,
      lease_expires_at: running ? iso(this.now + p.leaseOffset) : null,
    };
    // Capabilities and group belong to the task as added.
    if (!before) {
      row.capabilities = p.capabilities;
      if (p.group) row.group = p.group;
    }
    delete row.retry_at;
    if (p.status === 'pending' && p.retryOffset !== null) row.retry_at = iso(this.now + p.retryOffset);
    delete row.usage;
    if (p.usage !== null && p.usage.length > 0) row.usage = usageOf(p.usage);
    return row;
  }

  private all(): TaskRow[] {
    return [...this.rows.values()].sort((a, b) => a.seq - b.seq);
  }
  private readyOrder = (a: TaskRow, b: TaskRow) => b.priority - a.priority || a.seq - b.seq;

  ready(): TaskRow[] {
    return this.all()
      .filter((t) => t.status === 'pending' && t.unmet_deps === 0 && (t.retry_at === undefined || Date.parse(t.retry_at) <= this.now))
      .sort(this.readyOrder);
  }
  expired(): TaskRow[] {
    return this.all()
      .filter((t) => t.status === 'running' && t.lease_expires_at !== null && Date.parse(t.lease_expires_at) <= this.now)
      .sort(this.readyOrder);
  }
  list(status?: TaskStatus): TaskRow[] {
    return this.all().filter((t) => !status || t.status === status);
  }
  counts(): Record<TaskStatus, number> {
    const c = ZERO_COUNTS();
    for (const t of this.rows.values()) c[t.status]++;
    return c;
  }
  summary(): TaskSummary {
    const depReady = (t: TaskRow) => (t.status === 'pending' && t.unmet_deps === 0 ? 1 : 0);
    const groups: TaskSummary['groups'] = new Map();
    for (const t of this.all()) {
      if (t.group === undefined) continue;
      if (!groups.has(t.group)) groups.set(t.group, { ...ZERO_COUNTS(), ready: 0 });
      const g = groups.get(t.group)!;
      g[t.status]++;
      g.ready += depReady(t);
    }
    return { counts: this.counts(), ready: this.all().reduce((n, t) => n + depReady(t), 0), groups };
  }
  /** Usage totals by scanning every attempt of every task. */
  usage(): { plan: UsageSum; by: Record<UsageKey, Map<string, UsageSum>>; tasks: string[] } {
    const plan = ZERO_SUM();
    const by: Record<UsageKey, Map<string, UsageSum>> = { worker: new Map(), target: new Map(), group: new Map() };
    const add = (k: UsageKey, key: string, u: AttemptUsage) => {
      if (!by[k].has(key)) by[k].set(key, ZERO_SUM());
      addUsage(by[k].get(key)!, u);
    };
    const tasks: string[] = [];
    for (const t of this.all()) {
      if (!t.usage?.length) continue;
      tasks.push(t.id);
      for (const u of t.usage) {
        addUsage(plan, u);
        add('worker', u.worker_id, u);
        if (u.target !== null) add('target', u.target, u);
        if (t.group !== undefined) add('group', t.group, u);
      }
    }
    return { plan, by, tasks };
  }
}

const ids = (rows: readonly TaskRow[]) => rows.map((r) => r.id);

/** Every read of the store against the model. */
function checkReads(store: Store, m: Model, where: string): void {
  const now = iso(m.now);
  for (const id of IDS) assert.deepEqual(store.getTask(id), m.rows.get(id), `${where}: getTask(${id})`);
  assert.deepEqual(ids(store.listTasks()), ids(m.list()), `${where}: listTasks()`);
  for (const s of TASK_STATUSES) assert.deepEqual(ids(store.listTasks(s)), ids(m.list(s)), `${where}: listTasks(${s})`);
  const all = m.list();
  for (const after of [0, all[1]?.seq ?? 0, all[3]?.seq ?? 0]) {
    assert.deepEqual(ids(store.listTasksPage({ afterSeq: after, limit: 2 })), ids(all.filter((t) => t.seq > after).slice(0, 2)), `${where}: page after ${after}`);
    assert.deepEqual(
      ids(store.listTasksPage({ afterSeq: after, limit: 10, status: 'pending' })),
      ids(m.list('pending').filter((t) => t.seq > after)),
      `${where}: pending page after ${after}`,
    );
    assert.deepEqual(
      ids(store.listTasksPage({ afterSeq: after, limit: 1, group: 'g1' })),
      ids(all.filter((t) => t.seq > after && t.group === 'g1').slice(0, 1)),
      `${where}: group page after ${after}`,
    );
  }
  assert.deepEqual(store.countTasks(), m.counts(), `${where}: countTasks`);
  assert.equal(store.countReady(now), m.ready().length, `${where}: countReady`);
  assert.equal(store.countReady(now, new Set(['x'])), m.ready().filter((t) => t.capabilities.every((c) => c === 'x')).length, `${where}: countReady for {x}`);
  assert.equal(store.countReady(now, new Set()), m.ready().filter((t) => t.capabilities.length === 0).length, `${where}: countReady for {}`);
  assert.deepEqual(store.taskSummary(), m.summary(), `${where}: taskSummary`);
  for (const g of ['g1', 'g2']) assert.deepEqual(ids(store.groupTasks(g)), ids(m.list().filter((t) => t.group === g)), `${where}: groupTasks(${g})`);
  for (const w of WORKERS) {
    assert.deepEqual(ids(store.heldBy(w)), ids(m.list('running').filter((t) => t.claimed_by === w)), `${where}: heldBy(${w})`);
  }
  const ready = m.ready();
  const notA = (t: TaskRow) => t.id !== 'a' && t.id !== 'b';
  assert.equal(store.firstReady(now, () => true)?.id, ready[0]?.id, `${where}: firstReady`);
  assert.equal(store.firstReady(now, notA)?.id, ready.find(notA)?.id, `${where}: firstReady past refused tasks`);
  const onlyX = (t: TaskRow) => t.capabilities.every((c) => c === 'x');
  assert.equal(store.firstReady(now, onlyX, new Set(['x']))?.id, ready.find(onlyX)?.id, `${where}: firstReady with capabilities {x}`);
  assert.equal(store.firstReady(now, () => true, new Set())?.id, ready.find((t) => t.capabilities.length === 0)?.id, `${where}: firstReady, no capabilities`);
  const expired = m.expired();
  assert.equal(store.firstExpired(now, () => true)?.id, expired[0]?.id, `${where}: firstExpired`);
  assert.equal(store.firstExpired(now, notA)?.id, expired.find(notA)?.id, `${where}: firstExpired past refused tasks`);
  assert.deepEqual(ids(store.listExpired(now)), ids([...expired].sort((a, b) => a.seq - b.seq)), `${where}: listExpired`);
  for (const id of IDS) {
    const dependents = m.list().filter((t) => t.dependencies.includes(id));
    assert.deepEqual(store.dependents(id).sort(), ids(dependents).sort(), `${where}: dependents(${id})`);
  }
  const usage = m.usage();
  assert.deepEqual(store.usageTotal(), usage.plan, `${where}: usageTotal`);
  for (const k of ['worker', 'target', 'group'] as const) {
    assert.deepEqual(new Map([...store.usageBy(k)].sort(([a], [b]) => (a < b ? -1 : 1))), new Map([...usage.by[k]].sort(([a], [b]) => (a < b ? -1 : 1))), `${where}: usageBy(${k})`);
    for (const key of [...WORKERS, ...TARGETS, 'g1', 'g2']) assert.deepEqual(store.usageOf(k, key), usage.by[k].get(key) ?? ZERO_SUM(), `${where}: usageOf(${k}, ${key})`);
  }
  assert.deepEqual(store.tasksWithUsage().sort(), usage.tasks.sort(), `${where}: tasksWithUsage`);
}

/** Replays a random history into `store` and the model, checking every read after each step. */
function replay(store: Store, m: Model, steps: Step[]): Promise<void>[] {
  const durable: Promise<void>[] = [];
  steps.forEach((step, i) => {
    if (step.kind === 'time') {
      m.now += step.ms;
    } else {
      const next = new Map(m.rows);
      const rows = step.puts.map((p) => {
        const row = m.rowFor(p, next);
        next.set(row.id, row);
        return row;
      });
      try {
        const { durable: d } = store.transact((tx) => {
          for (const row of rows) tx.apply({ op: 'task', row: structuredClone(row) });
          if (step.fail) throw new Error('rolled back');
        });
        durable.push(d);
        m.rows = next;
      } catch (e) {
        assert.equal((e as Error).message, 'rolled back');
      }
    }
    checkReads(store, m, `step ${i} (${step.kind}${step.kind === 'tx' && step.fail ? ', rolled back' : ''})`);
  });
  return durable;
}

function conformance(factory: StoreFactory, runs: number): void {
  describe(`Store contract: ${factory.name}`, function () {
    this.timeout(120_000);
    const open: Store[] = [];
    const fresh = async (dir?: string) => {
      const s = await factory.open(dir);
      open.push(s.store);
      return s;
    };
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close().catch(() => {});
    });

    it('indexed reads answer what a scan of every row answers, over random histories (and after a reopen)', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 25 }), async (steps) => {
          const { store, dir } = await fresh();
          const m = new Model();
          const durable = replay(store, m, steps);
          await Promise.all(durable);
          if (factory.persistent) {
            await store.close();
            const again = await fresh(dir);
            checkReads(again.store, m, 'after a reopen');
          }
        }),
        { numRuns: runs },
      );
    });

    it('a transaction is atomic: a throw undoes every change in it, of every kind', async () => {
      const { store } = await fresh();
      const row = baseRow('a', 1, []);
      await store.transact((tx) => {
        tx.apply({ op: 'task', row });
        tx.apply({ op: 'meta', key: 'k', value: '1' });
        tx.apply({ op: 'instance', row: { worker_id: 'w', name: 'w', capabilities: [], pid: null, status: 'live', registered_at: iso(T0), last_seen: iso(T0) } });
        tx.apply({ op: 'pool', row: { name: 'p', capacity: 2, updated_at: iso(T0) } });
      }).durable;
      const before = { task: store.getTask('a'), meta: store.getMeta('k'), instances: store.listInstances(), pools: store.primitives.pools(), counts: store.countTasks() };
      assert.throws(
        () =>
          store.transact((tx) => {
            tx.apply({ op: 'task', row: { ...row, status: 'running', claimed_by: 'w', lease_expires_at: iso(T0 + 1000) } });
            tx.apply({ op: 'task', row: baseRow('b', 2, ['a']) });
            tx.apply({ op: 'meta', key: 'k', value: '2' });
            tx.apply({ op: 'instance_delete', worker_id: 'w' });
            tx.apply({ op: 'pool', row: { name: 'p', capacity: 9, updated_at: iso(T0) } });
            tx.apply({ op: 'lock', row: { token: 1, path: 'x', mode: 'write', worker_id: 'w', acquired_at: iso(T0), expires_at: iso(T0 + 1), ttl_seconds: 1 } });
            throw new Error('no');
          }),
        /no/,
      );
      assert.deepEqual(
        { task: store.getTask('a'), meta: store.getMeta('k'), instances: store.listInstances(), pools: store.primitives.pools(), counts: store.countTasks() },
        before,
      );
      assert.equal(store.getTask('b'), undefined);
      assert.deepEqual(store.dependents('a'), [], 'the rolled-back insert left no dependent behind');
      assert.deepEqual(store.heldBy('w'), []);
      assert.deepEqual(store.primitives.locks(), []);
      assert.equal(store.firstReady(iso(T0), () => true)?.id, 'a');
    });

    it('a change is visible at once; `durable` settles in commit order; a read waits for what it saw', async () => {
      const { store } = await fresh();
      const order: number[] = [];
      const first = store.transact((tx) => tx.apply({ op: 'task', row: baseRow('a', 1, []) }));
      assert.equal(store.getTask('a')?.id, 'a', 'visible before it is durable');
      const second = store.transact((tx) => tx.apply({ op: 'task', row: baseRow('b', 2, []) }));
      const read = store.transact(() => store.getTask('b')?.id);
      assert.equal(read.value, 'b');
      await Promise.all([first, second, read].map((c, i) => c.durable.then(() => order.push(i))));
      assert.deepEqual(order, [0, 1, 2]);
    });

    it('targets, slots and budgets: atomic with everything else, frozen, kept across a reopen', async () => {
      const { store, dir } = await fresh();
      const target: TargetRow = {
        name: 't1', command: ['agent', '{id}'], shell: false, capabilities: ['ts'], min: 1, max: 3, isolation: 'shared', env: { K: 'v' },
        idle_timeout_seconds: 60, usage: 'claude', usage_model: null, source: 'cli', config: null, state: 'ok', crashes: [],
        failing_since: null, last_exit: null, last_output: null, created_at: iso(T0), updated_at: iso(T0),
      };
      const slot = (n: number): SlotRow => ({
        target: 't1', slot: n, worker_id: `t1-${n}`, state: 'running', generation: n, host: 'h', pid: 100 + n, started_at: iso(T0), restart_at: null, crashes: 0, last_exit: null,
      });
      const budget: BudgetRow = { scope: 'group', name: 'docs', limit_usd: 5, source: 'cli', set_at: iso(T0), spent_at: null };
      await store.transact((tx) => {
        tx.apply({ op: 'target', row: target });
        tx.apply({ op: 'slot', row: slot(1) });
        tx.apply({ op: 'slot', row: slot(2) });
        tx.apply({ op: 'budget', row: budget });
        tx.apply({ op: 'budget', row: { ...budget, scope: 'plan', name: null, limit_usd: 50 } });
      }).durable;
      const before = { targets: store.fleet.targets(), slots: store.fleet.slots(), budgets: store.fleet.budgets() };
      assert.throws(
        () =>
          store.transact((tx) => {
            tx.apply({ op: 'target', row: { ...target, state: 'failing' } });
            tx.apply({ op: 'slot_delete', target: 't1', slot: 1 });
            tx.apply({ op: 'slot', row: slot(3) });
            tx.apply({ op: 'budget_delete', scope: 'group', name: 'docs' });
            tx.apply({ op: 'target_delete', name: 't1' });
            throw new Error('no');
          }),
        /no/,
      );
      assert.deepEqual({ targets: store.fleet.targets(), slots: store.fleet.slots(), budgets: store.fleet.budgets() }, before);
      assert.equal(store.fleet.slotOfWorker('t1-2')?.pid, 102);
      assert.throws(() => ((store.fleet.target('t1')!.command as string[]).push('x')), TypeError);
      await store.transact((tx) => tx.apply({ op: 'slot_delete', target: 't1', slot: 1 })).durable;
      const kept = { targets: store.fleet.targets(), slots: store.fleet.slots(), budgets: store.fleet.budgets() };
      assert.deepEqual(kept.slots.map((s) => s.worker_id), ['t1-2']);
      assert.deepEqual(kept.budgets.map((b) => [b.scope, b.name]), [['plan', null], ['group', 'docs']]);
      if (factory.persistent) {
        await store.close();
        const again = (await fresh(dir)).store;
        assert.deepEqual({ targets: again.fleet.targets(), slots: again.fleet.slots(), budgets: again.fleet.budgets() }, kept);
      }
    });

    it('rows come back frozen: a reader cannot change what the store holds', async () => {
      const { store } = await fresh();
      await store.transact((tx) => tx.apply({ op: 'task', row: baseRow('a', 1, []) })).durable;
      const row = store.getTask('a')!;
      assert.throws(() => {
        (row as { status: string }).status = 'completed';
      }, TypeError);
      assert.throws(() => {
        (row.dependencies as string[]).push('b');
      }, TypeError);
      assert.equal(store.getTask('a')!.status, 'pending');
      assert.equal(store.countTasks().pending, 1);
    });
  });
}

for (const factory of storeFactories) conformance(factory, factory.persistent ? 40 : 300);
conformance(workerFileStore, 15);
// The cluster's store, over a real nats-server (started on first use).
conformance(replicatedStoreFactory, 15);
after(closeReplicatedStores);

/** A log whose appends fail while `failing` is set (after writing nothing). */
class SwitchLog extends VolatileLog implements DurabilityLog {
  failing = false;
  appended: LogEntry[] = [];
  override append(entries: readonly LogEntry[]): Promise<void> {
    if (this.failing) return Promise.reject(new Error('EIO: injected'));
    this.appended.push(...entries);
    return Promise.resolve();
  }
}

describe('Store contract: a failed append', () => {
  it('undoes every transaction not yet durable, newest first, and numbers the next record after the last durable one', async () => {
    const log = new SwitchLog();
    const store = await DurableStore.over(log);
    await store.transact((tx) => tx.apply({ op: 'task', row: baseRow('a', 1, []) })).durable;
    const before = store.getTask('a');
    log.failing = true;
    const a = store.transact((tx) => tx.apply({ op: 'task', row: { ...before!, status: 'running', claimed_by: 'w', lease_expires_at: iso(T0) } }));
    const b = store.transact((tx) => tx.apply({ op: 'task', row: { ...store.getTask('a')!, status: 'completed', claimed_by: 'w', lease_expires_at: null } }));
    const c = store.transact((tx) => tx.apply({ op: 'task', row: baseRow('b', 2, ['a']) }));
    for (const x of [a, b, c]) await assert.rejects(x.durable, /STORAGE_ERROR|could not save the change \(EIO: injected\)/);
    assert.deepEqual(store.getTask('a'), before);
    assert.equal(store.getTask('b'), undefined);
    assert.deepEqual(store.countTasks(), { ...ZERO_COUNTS(), pending: 1 });
    assert.equal(store.firstReady(iso(T0), () => true)?.id, 'a');
    // A read after the failure does not inherit it; the next record follows the last durable one.
    await store.transact(() => null).durable;
    log.failing = false;
    await store.transact((tx) => tx.apply({ op: 'task', row: baseRow('c', 3, []) })).durable;
    assert.deepEqual(log.appended.map((e) => e.seq), [1, 2]);
    assert.match(log.appended[1]!.json, new RegExp(`^\\{"v":${JOURNAL_FORMAT},"s":2,"c":\\[`));
    await store.close();
  });
});
