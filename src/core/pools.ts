// Resource pools and concurrency caps. A pool has a capacity; amounts of it are held by running
// tasks that declare `resources` (for as long as their lease is live, so every way a lease ends
// returns them: complete, fail, release, cancel, expiry, reclaim, holder death) and by ad-hoc
// holds (`resource_acquire`, a lease with a TTL). Usage is derived from those rows, never counted
// separately, so it cannot drift. A pool named `cap:NAME` also caps the running tasks that need
// capability NAME (each counts 1), unless the task declares its own amount of that pool.
import type { ParsedParamsOf } from '../protocol/command';
import { DEFAULT_HOLD_TTL_SECONDS, type PoolSet, type ResourceAcquire, type ResourceRelease, type ResourceRenew } from '../protocol/pools';
import { iso } from './clock';
import { ErrorCode, HarnessError } from './errors';
import type { Task } from './model';
import { assertNotStale, commit, nextSeq, nowIso, relative, type PrimitiveContext, type PrimitiveTx } from './prim-context';
import type { HoldRow, PoolRow } from './primitive-store';
import type { TaskRow } from './store';
import { FifoWaiters, WakeTimer } from './waiters';

export { DEFAULT_HOLD_TTL_SECONDS };

type Amounts = Record<string, number>;
/** A hold request with its defaults applied. */
type Acquire = Required<ParsedParamsOf<typeof ResourceAcquire>>;
type Capacities = Map<string, number>;

export interface PoolHolder {
  kind: 'task' | 'hold';
  id: string;
  worker_id: string | null;
  amount: number;
  expires_at: string | null;
}
export interface PoolView extends PoolRow {
  used: number;
  free: number;
  holders: PoolHolder[];
}
interface HoldWaiter {
  worker_id: string;
  amounts: Amounts;
}

const fmt = (a: Amounts) => Object.entries(a).map(([n, v]) => `${n}=${v}`).join(' ');
/** Task events after which the amounts a task holds may have changed. */
const TASK_USAGE_EVENTS = new Set(['task:claimed', 'task:completed', 'task:failed', 'task:released', 'task:cancelled', 'task:dead_letter', 'lease:expired']);

export class Pools {
  private readonly waiters: FifoWaiters<HoldRow, HoldWaiter>;
  private readonly timer: WakeTimer;

  constructor(private readonly ctx: PrimitiveContext) {
    this.waiters = new FifoWaiters(ctx.clock);
    this.timer = new WakeTimer(ctx.clock, () => this.waiters.pump());
    ctx.onAny((name, event) => {
      const task = (event as { task?: Task }).task;
      if (TASK_USAGE_EVENTS.has(name) && task && Object.keys(this.needs(task, this.capacities())).length > 0) {
        ctx.emit('pool:changed', { pools: Object.keys(this.needs(task, this.capacities())), reason: name });
      }
      if (name === 'pool:changed') this.waiters.pump();
      const gone = name === 'instance:deregistered' ? (event as { worker_id: string }).worker_id : name === 'instance:stale' ? (event as { instance: { worker_id: string } }).instance.worker_id : undefined;
      if (gone !== undefined) {
        this.waiters.cancel((w) => w.worker_id === gone, new HarnessError(ErrorCode.InstanceStale, `instance ${gone} went away while waiting for resources`));
      }
    });
  }

  capacities(): Capacities {
    return new Map(this.ctx.store.primitives.pools().map((p) => [p.name, p.capacity]));
  }

  /** What a task holds while it runs: its declared amounts, plus 1 of each `cap:` pool of its capabilities. */
  needs(task: Pick<Task, 'resources' | 'capabilities'>, caps: Capacities): Amounts {
    const needs: Amounts = { ...task.resources };
    for (const c of task.capabilities) if (caps.has(`cap:${c}`) && needs[`cap:${c}`] === undefined) needs[`cap:${c}`] = 1;
    return needs;
  }

  /** Amounts in use now, by pool, and who holds them. */
  private usage(nowS: string, caps: Capacities): { used: Map<string, number>; holders: Map<string, PoolHolder[]> } {
    const used = new Map<string, number>();
    const holders = new Map<string, PoolHolder[]>();
    const add = (amounts: Amounts, holder: Omit<PoolHolder, 'amount'>) => {
      for (const [name, amount] of Object.entries(amounts)) {
        used.set(name, (used.get(name) ?? 0) + amount);
        holders.set(name, [...(holders.get(name) ?? []), { ...holder, amount }]);
      }
    };
    for (const h of this.ctx.store.primitives.holds()) {
      if (h.expires_at > nowS) add(h.amounts, { kind: 'hold', id: h.id, worker_id: h.worker_id, expires_at: h.expires_at });
    }
    if (caps.size > 0) {
      for (const t of this.ctx.store.listTasks('running')) {
        if (t.lease_expires_at! > nowS) add(this.needs(t, caps), { kind: 'task', id: t.id, worker_id: t.claimed_by, expires_at: t.lease_expires_at });
      }
    }
    return { used, holders };
  }

  private fits(needs: Amounts, used: Map<string, number>, caps: Capacities): boolean {
    return Object.entries(needs).every(([n, a]) => (used.get(n) ?? 0) + a <= (caps.get(n) ?? -1));
  }

  /** For `claim`, inside its transaction: accepts a task only while the amounts it needs are free. */
  claimFilter(): (task: TaskRow) => boolean {
    const caps = this.capacities();
    if (caps.size === 0) return () => true;
    let used: Map<string, number> | undefined;
    return (task) => {
      const needs = this.needs(task, caps);
      if (Object.keys(needs).length === 0) return true;
      used ??= this.usage(nowIso(this.ctx), caps).used;
      return this.fits(needs, used, caps);
    };
  }

  /**
   * For `heartbeat`: a lease that ran out may have had its amounts handed to others meanwhile;
   * renewing it then would over-commit the pool.
   */
  assertRenewable(task: TaskRow): void {
    const nowS = nowIso(this.ctx);
    if (task.lease_expires_at === null || task.lease_expires_at > nowS) return;
    const caps = this.capacities();
    const needs = this.needs(task, caps);
    if (Object.keys(needs).length === 0 || this.fits(needs, this.usage(nowS, caps).used, caps)) return;
    throw new HarnessError(
      ErrorCode.LeaseExpired,
      `the lease of task ${task.id} ran out and the resources it needs (${fmt(needs)}) went to others; it can no longer be renewed`,
      { task_id: task.id, needs },
    );
  }

  /** At import, in its transaction: sets the plan's pools, then checks every task's needs against them. */
  checkTasks(tx: PrimitiveTx, tasks: ReadonlyArray<{ id: string; resources?: Amounts | undefined }>, planPools?: Amounts): void {
    for (const [name, capacity] of Object.entries(planPools ?? {})) this.writePool(tx, name, capacity);
    const caps = this.capacities();
    for (const t of tasks) this.assertSatisfiable(t.resources ?? {}, caps, `task ${t.id}`);
  }

  private assertSatisfiable(amounts: Amounts, caps: Capacities, who: string): void {
    for (const [name, amount] of Object.entries(amounts)) {
      const capacity = caps.get(name);
      if (capacity === undefined) {
        throw new HarnessError(
          ErrorCode.UnknownPool,
          `${who} needs pool ${name}, which does not exist; declare it in the plan's "resources" or with \`harness pool set ${name} N\``,
          { pool: name },
        );
      }
      if (amount > capacity) {
        throw new HarnessError(ErrorCode.OverCapacity, `${who} needs ${amount} of pool ${name}, which holds only ${capacity} in all`, {
          pool: name,
          needs: amount,
          capacity,
        });
      }
    }
  }

  async set({ name, capacity }: ParsedParamsOf<typeof PoolSet>): Promise<{ pool: PoolRow }> {
    return commit(this.ctx, (tx) => ({ pool: this.writePool(tx, name, capacity) })).done;
  }

  /** Refuses a capacity below what a task that has not finished needs: it could never run. */
  private writePool(tx: PrimitiveTx, name: string, capacity: number): PoolRow {
    const caps = new Map(this.capacities()).set(name, capacity);
    for (const status of ['pending', 'running'] as const) {
      for (const t of this.ctx.store.listTasks(status)) {
        const need = this.needs(t, caps)[name];
        if (need !== undefined && need > capacity) {
          throw new HarnessError(ErrorCode.OverCapacity, `pool ${name} cannot shrink to ${capacity}: ${status} task ${t.id} needs ${need}`, {
            pool: name,
            task_id: t.id,
            needs: need,
          });
        }
      }
    }
    const pool: PoolRow = { name, capacity, updated_at: nowIso(this.ctx) };
    tx.w.apply({ op: 'pool', row: pool });
    tx.emit('pool:changed', { pools: [name], reason: 'set' });
    return pool;
  }

  list(): { pools: PoolView[]; waiting: Array<HoldWaiter & { since: string; position: number }> } {
    const caps = this.capacities();
    const { used, holders } = this.usage(nowIso(this.ctx), caps);
    return {
      pools: this.ctx.store.primitives.pools().map((p) => {
        const u = used.get(p.name) ?? 0;
        return { ...p, used: u, free: Math.max(0, p.capacity - u), holders: holders.get(p.name) ?? [] };
      }),
      waiting: this.waiters.list().map((w, i) => ({ ...w.info, since: new Date(w.since).toISOString(), position: i + 1 })),
    };
  }

  /** An ad-hoc hold: granted when the amounts are free, else waits in line (FIFO) up to `wait_ms`. */
  async acquire(params: ParsedParamsOf<typeof ResourceAcquire>, signal?: AbortSignal): Promise<{ hold: HoldRow; waited_ms: number }> {
    const p: Acquire = { ...params, wait_ms: params.wait_ms ?? 0, ttl_seconds: params.ttl_seconds ?? DEFAULT_HOLD_TTL_SECONDS };
    assertNotStale(this.ctx, p.worker_id);
    this.assertSatisfiable(p.amounts, this.capacities(), 'the request');
    const started = this.ctx.clock.now();
    const hold = await this.waiters.acquire(
      {
        info: { worker_id: p.worker_id, amounts: p.amounts },
        attempt: () => this.attempt(p),
        timeoutError: (waited) => this.unavailable(p.amounts, p.wait_ms, waited),
      },
      p.wait_ms,
      signal,
    );
    if (signal?.aborted) {
      await commit(this.ctx, (tx) => this.drop(tx, [hold], 'abandoned')).done;
      throw new HarnessError(ErrorCode.Closed, 'the resource request was withdrawn: its connection closed');
    }
    return { hold, waited_ms: this.ctx.clock.now() - started };
  }

  private attempt(p: Acquire): Promise<HoldRow> | undefined {
    const now = this.ctx.clock.now();
    const nowS = iso(now);
    const caps = this.capacities();
    this.assertSatisfiable(p.amounts, caps, 'the request'); // a pool may have shrunk meanwhile
    const { used, holders } = this.usage(nowS, caps);
    if (!this.fits(p.amounts, used, caps)) {
      const ends = Object.keys(p.amounts).flatMap((n) => (holders.get(n) ?? []).map((h) => Date.parse(h.expires_at!)));
      if (ends.length > 0) this.timer.at(Math.min(...ends));
      return undefined;
    }
    return commit(this.ctx, (tx) => {
      const seq = nextSeq(this.ctx, tx, 'hold_seq');
      const hold: HoldRow = {
        id: `hold-${seq}`,
        seq,
        worker_id: p.worker_id,
        amounts: p.amounts,
        acquired_at: nowS,
        expires_at: iso(now + p.ttl_seconds * 1000),
        ttl_seconds: p.ttl_seconds,
      };
      tx.w.apply({ op: 'hold', row: hold });
      tx.emit('pool:changed', { pools: Object.keys(hold.amounts), reason: 'acquired', hold });
      return hold;
    }).done;
  }

  private unavailable(amounts: Amounts, waitMs: number, waitedMs: number): HarnessError {
    const caps = this.capacities();
    const { used, holders } = this.usage(nowIso(this.ctx), caps);
    const short = Object.entries(amounts)
      .filter(([n, a]) => (used.get(n) ?? 0) + a > (caps.get(n) ?? 0))
      .map(([n]) => {
        const by = (holders.get(n) ?? []).map((h) => `${h.kind} ${h.id}${h.worker_id ? ` of ${h.worker_id}` : ''} (${h.amount})`);
        return `${n}: ${used.get(n) ?? 0} of ${caps.get(n)} in use${by.length ? ` by ${by.join(', ')}` : ''}`;
      });
    const ahead = Math.max(0, this.waiters.length - (waitedMs > 0 ? 1 : 0));
    const why = [...short, ...(ahead > 0 ? [`${ahead} other request(s) waiting`] : [])].join('; ');
    return new HarnessError(
      ErrorCode.Timeout,
      waitMs > 0 ? `resources ${fmt(amounts)} not granted within ${waitMs} ms: ${why}` : `resources ${fmt(amounts)} are not free: ${why} (pass wait_ms to wait)`,
      { amounts, used: Object.fromEntries(used), waiting: ahead },
    );
  }

  async release(p: ParsedParamsOf<typeof ResourceRelease>): Promise<{ released: HoldRow }> {
    return commit(this.ctx, (tx) => {
      const hold = this.requireHold(p.worker_id, p.hold_id);
      this.drop(tx, [hold], 'released');
      return { released: hold };
    }).done;
  }

  async renew(p: ParsedParamsOf<typeof ResourceRenew>): Promise<{ hold: HoldRow }> {
    return commit(this.ctx, (tx) => {
      const now = this.ctx.clock.now();
      const hold = this.requireHold(p.worker_id, p.hold_id);
      if (hold.expires_at <= iso(now)) {
        throw new HarnessError(ErrorCode.LeaseExpired, `hold ${hold.id} expired ${relative(this.ctx, hold.expires_at)}; acquire again`, {
          hold_id: hold.id,
        });
      }
      const ttl = p.ttl_seconds ?? hold.ttl_seconds;
      const renewed: HoldRow = { ...hold, ttl_seconds: ttl, expires_at: iso(now + ttl * 1000) };
      tx.w.apply({ op: 'hold', row: renewed });
      return { hold: renewed };
    }).done;
  }

  private requireHold(workerId: string, id: string): HoldRow {
    const hold = this.ctx.store.primitives.holds().find((h) => h.id === id);
    if (!hold) throw new HarnessError(ErrorCode.NotFound, `hold ${id} does not exist (released, expired, or never granted)`, { hold_id: id });
    if (hold.worker_id !== workerId) {
      throw new HarnessError(ErrorCode.NotClaimedBy, `hold ${id} belongs to ${hold.worker_id}, not ${workerId}`, { hold_id: id, worker_id: hold.worker_id });
    }
    return hold;
  }

  releaseHolder(tx: PrimitiveTx, workerId: string): string[] {
    const holds = this.ctx.store.primitives.holds().filter((h) => h.worker_id === workerId);
    this.drop(tx, holds, 'holder_gone');
    return holds.map((h) => h.id);
  }

  sweepExpired(tx: PrimitiveTx): string[] {
    const nowS = nowIso(this.ctx);
    const holds = this.ctx.store.primitives.holds().filter((h) => h.expires_at <= nowS);
    this.drop(tx, holds, 'expired');
    return holds.map((h) => h.id);
  }

  private drop(tx: PrimitiveTx, holds: HoldRow[], reason: string): void {
    for (const hold of holds) {
      tx.w.apply({ op: 'hold_delete', id: hold.id });
      tx.emit('pool:changed', { pools: Object.keys(hold.amounts), reason, hold });
    }
  }

  close(): void {
    this.waiters.cancel(() => true, new HarnessError(ErrorCode.Closed, 'the coordinator is shutting down'));
    this.timer.clear();
  }
}
