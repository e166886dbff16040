// File locks: leases on workspace paths, exclusive (`write`) or shared (`read`), each grant with a
// fencing token that grows over all grants. Requests that cannot be granted wait in a fair FIFO
// line per path (in memory), up to their `wait_ms`; the grant itself is a durable write. A lock
// ends on release, at the end of its TTL unless renewed, or at once when its holder deregisters or
// is marked stale.
import type { ParsedParamsOf } from '../protocol/command';
import { DEFAULT_LOCK_TTL_SECONDS, type LockAcquire, type LockList, type LockRelease, type LockRenew } from '../protocol/locks';
import { iso } from './clock';
import { ErrorCode, HarnessError } from './errors';
import { normalizeLockPath } from './lock-path';
import {
  assertNotStale,
  commit,
  nextSeq,
  nowIso,
  relative,
  type LockReleaseReason,
  type PrimitiveContext,
  type PrimitiveTx,
} from './prim-context';
import type { LockMode, LockRow } from './primitive-store';
import { FifoWaiters, WakeTimer } from './waiters';

export { DEFAULT_LOCK_TTL_SECONDS };

export interface LockWaiter {
  path: string;
  worker_id: string;
  mode: LockMode;
  wait_ms: number;
}

export interface LockGrant {
  lock: LockRow;
  waited_ms: number;
}

/** A lock request with its defaults applied. */
type Acquire = Required<ParsedParamsOf<typeof LockAcquire>>;

export class Locks {
  private readonly queues = new Map<string, FifoWaiters<LockRow, LockWaiter>>();
  private readonly timers = new Map<string, WakeTimer>();

  constructor(private readonly ctx: PrimitiveContext) {
    ctx.onAny((name, event) => {
      if (name === 'lock:released') this.pump((event as { lock: LockRow }).lock.path);
      const gone =
        name === 'instance:deregistered'
          ? (event as { worker_id: string }).worker_id
          : name === 'instance:stale'
            ? (event as { instance: { worker_id: string } }).instance.worker_id
            : undefined;
      if (gone !== undefined) {
        const error = new HarnessError(ErrorCode.InstanceStale, `instance ${gone} went away while waiting for a lock`, { worker_id: gone });
        for (const queue of [...this.queues.values()]) queue.cancel((w) => w.worker_id === gone, error);
      }
    });
  }

  /** `root` is the workspace root; `signal` fires when the requester went away. */
  async acquire(params: ParsedParamsOf<typeof LockAcquire>, root: string, signal?: AbortSignal): Promise<LockGrant> {
    const p: Acquire = {
      ...params,
      mode: params.mode ?? 'write',
      ttl_seconds: params.ttl_seconds ?? DEFAULT_LOCK_TTL_SECONDS,
      wait_ms: params.wait_ms ?? 0,
    };
    const path = normalizeLockPath(root, p.path);
    assertNotStale(this.ctx, p.worker_id);
    const started = this.ctx.clock.now();
    let queue = this.queues.get(path);
    if (!queue) this.queues.set(path, (queue = new FifoWaiters(this.ctx.clock)));
    let lock: LockRow;
    try {
      lock = await queue.acquire(
        {
          info: { path, worker_id: p.worker_id, mode: p.mode, wait_ms: p.wait_ms },
          attempt: () => this.attempt(path, p),
          timeoutError: (waited) => this.unavailable(path, p, waited),
        },
        p.wait_ms,
        signal,
      );
    } finally {
      this.forgetIfIdle(path);
    }
    if (signal?.aborted) {
      // Granted to a requester that is gone: nobody would ever release it.
      await commit(this.ctx, (tx) => this.drop(tx, [lock], 'abandoned')).done;
      throw new HarnessError(ErrorCode.Closed, 'the lock request was withdrawn: its connection closed');
    }
    return { lock, waited_ms: this.ctx.clock.now() - started };
  }

  /** Grants the lock in one transaction if nothing live conflicts with it. */
  private attempt(path: string, p: Acquire): Promise<LockRow> | undefined {
    const now = this.ctx.clock.now();
    const nowS = iso(now);
    const rows = this.ctx.store.primitives.locks(path);
    const live = rows.filter((l) => l.expires_at > nowS);
    const blockers = p.mode === 'write' ? live : live.filter((l) => l.mode === 'write');
    if (blockers.length > 0) {
      this.timer(path).at(Math.min(...blockers.map((b) => Date.parse(b.expires_at))));
      return undefined;
    }
    return commit(this.ctx, (tx) => {
      this.drop(
        tx,
        rows.filter((l) => l.expires_at <= nowS),
        'expired',
      );
      const row: LockRow = {
        token: nextSeq(this.ctx, tx, 'lock_seq'),
        path,
        mode: p.mode,
        worker_id: p.worker_id,
        acquired_at: nowS,
        expires_at: iso(now + p.ttl_seconds * 1000),
        ttl_seconds: p.ttl_seconds,
      };
      tx.w.apply({ op: 'lock', row });
      tx.emit('lock:acquired', { lock: row });
      return row;
    }).done;
  }

  private unavailable(path: string, p: Acquire, waitedMs: number): HarnessError {
    const nowS = nowIso(this.ctx);
    const live = this.ctx.store.primitives.locks(path).filter((l) => l.expires_at > nowS);
    const holders = live.map((l) => `${l.worker_id} (${l.mode}, token ${l.token}, expires ${relative(this.ctx, l.expires_at)})`);
    const waiting = Math.max(0, (this.queues.get(path)?.length ?? 0) - (waitedMs > 0 ? 1 : 0));
    const why = [holders.length ? `held by ${holders.join(', ')}` : '', waiting > 0 ? `${waiting} other request(s) waiting` : '']
      .filter(Boolean)
      .join('; ');
    const message =
      p.wait_ms > 0
        ? `${p.mode} lock on ${path} not granted within ${p.wait_ms} ms: ${why || 'still taken'}`
        : `${p.mode} lock on ${path} is not free: ${why || 'taken'} (pass wait_ms to wait for it)`;
    return new HarnessError(ErrorCode.Timeout, message, {
      path,
      holders: live.map(({ worker_id, mode, token, expires_at }) => ({ worker_id, mode, token, expires_at })),
      waiting,
    });
  }

  async release(p: ParsedParamsOf<typeof LockRelease>, root: string): Promise<{ released: LockRow[] }> {
    const path = p.path === undefined ? undefined : normalizeLockPath(root, p.path);
    const released = await commit(this.ctx, (tx) => {
      const mine = this.ctx.store.primitives
        .locksOf(p.worker_id)
        .filter((l) => (p.token === undefined || l.token === p.token) && (path === undefined || l.path === path));
      if (mine.length === 0) throw this.notHeld(p.worker_id, p.token, path);
      this.drop(tx, mine, 'released');
      return mine;
    }).done;
    return { released };
  }

  async renew(p: ParsedParamsOf<typeof LockRenew>): Promise<{ lock: LockRow }> {
    const lock = await commit(this.ctx, (tx) => {
      const now = this.ctx.clock.now();
      const row = this.ctx.store.primitives.locksOf(p.worker_id).find((l) => l.token === p.token);
      if (!row) throw this.notHeld(p.worker_id, p.token, undefined);
      if (row.expires_at <= iso(now)) {
        throw new HarnessError(
          ErrorCode.LeaseExpired,
          `lock ${row.token} on ${row.path} expired ${relative(this.ctx, row.expires_at).replace('in ', '')}; acquire it again`,
          { token: row.token, path: row.path, expires_at: row.expires_at },
        );
      }
      const ttl = p.ttl_seconds ?? row.ttl_seconds;
      const renewed: LockRow = { ...row, ttl_seconds: ttl, expires_at: iso(now + ttl * 1000) };
      tx.w.apply({ op: 'lock', row: renewed });
      tx.emit('lock:renewed', { lock: renewed });
      return renewed;
    }).done;
    return { lock };
  }

  private notHeld(workerId: string, token: number | undefined, path: string | undefined): HarnessError {
    const other = token === undefined ? undefined : this.ctx.store.primitives.locks().find((l) => l.token === token);
    if (other) {
      return new HarnessError(ErrorCode.NotClaimedBy, `lock ${token} on ${other.path} is held by ${other.worker_id}, not ${workerId}`, {
        token,
        worker_id: other.worker_id,
      });
    }
    const what = token !== undefined ? `lock ${token}` : `a lock on ${path}`;
    return new HarnessError(ErrorCode.NotFound, `${workerId} does not hold ${what} (released, expired, or never granted)`, {
      worker_id: workerId,
      ...(token !== undefined ? { token } : { path }),
    });
  }

  /** Live locks (of one path when given) and the requests waiting for them. */
  list(p: ParsedParamsOf<typeof LockList>, root: string): { locks: LockRow[]; waiting: Array<LockWaiter & { since: string; position: number }> } {
    const path = p.path === undefined ? undefined : normalizeLockPath(root, p.path);
    const nowS = nowIso(this.ctx);
    const queues = path === undefined ? [...this.queues.values()] : [this.queues.get(path)].filter((q) => q !== undefined);
    return {
      locks: this.ctx.store.primitives.locks(path).filter((l) => l.expires_at > nowS),
      waiting: queues.flatMap((q) => q.list().map((w, i) => ({ ...w.info, since: new Date(w.since).toISOString(), position: i + 1 }))),
    };
  }

  /** In the coordinator's deregister/stale transaction: the worker's locks end at once. */
  releaseHolder(tx: PrimitiveTx, workerId: string): number[] {
    const rows = this.ctx.store.primitives.locksOf(workerId);
    this.drop(tx, rows, 'holder_gone');
    return rows.map((l) => l.token);
  }

  /** In the sweep: expired locks are deleted (and announced). */
  sweepExpired(tx: PrimitiveTx): number[] {
    const nowS = nowIso(this.ctx);
    const rows = this.ctx.store.primitives.locks().filter((l) => l.expires_at <= nowS);
    this.drop(tx, rows, 'expired');
    return rows.map((l) => l.token);
  }

  private drop(tx: PrimitiveTx, rows: LockRow[], reason: LockReleaseReason): void {
    for (const lock of rows) {
      tx.w.apply({ op: 'lock_delete', token: lock.token });
      tx.emit('lock:released', { lock, reason });
    }
  }

  private pump(path: string): void {
    this.queues.get(path)?.pump();
    this.forgetIfIdle(path);
  }

  private timer(path: string): WakeTimer {
    let t = this.timers.get(path);
    if (!t) this.timers.set(path, (t = new WakeTimer(this.ctx.clock, () => this.pump(path))));
    return t;
  }

  private forgetIfIdle(path: string): void {
    if ((this.queues.get(path)?.length ?? 0) > 0) return;
    this.queues.delete(path);
    this.timers.get(path)?.clear();
    this.timers.delete(path);
  }

  close(): void {
    const error = new HarnessError(ErrorCode.Closed, 'the coordinator is shutting down');
    for (const queue of this.queues.values()) queue.cancel(() => true, error);
    for (const t of this.timers.values()) t.clear();
    this.timers.clear();
  }
}

export type { LockMode };
