// What the primitive modules (locks, pools, shared state, mailboxes) share: the store, the clock,
// the events they emit, and `commit`, the coordinator's "one transaction, durable, then events".
import { iso, type Clock } from './clock';
import { ErrorCode, HarnessError } from './errors';
import type { Disposable } from './events';
import type { Json } from './model';
import type { HoldRow, LockRow } from './primitive-store';
import type { Store, StoreWriter } from './store';

export type LockReleaseReason = 'released' | 'expired' | 'holder_gone' | 'abandoned';

export interface PrimitiveEvents {
  'lock:acquired': { lock: LockRow };
  'lock:renewed': { lock: LockRow };
  'lock:released': { lock: LockRow; reason: LockReleaseReason };
  'state:changed': { key: string; version: number; deleted: boolean; updated_by: string | null };
  /** Pool capacities or usage changed: a pool was set, a hold or a task with resources came or went. */
  'pool:changed': { pools: string[]; reason: string; hold?: HoldRow };
  'message:sent': { message_id: string; to: string; from: string | null; recipients: string[] };
  'message:acked': { message_id: string; worker_id: string };
  'message:dropped': { message_id: string; recipients: string[] };
  'topic:changed': { topic: string; worker_id: string; subscribed: boolean };
}

/** Every event the coordinator emits, as far as the primitives need to hear them. */
export type AnyEventListener = (name: string, event: unknown) => void;

/** A transaction's writer, and the events it announces once durable. */
export interface EventTx<E> {
  w: StoreWriter;
  emit<K extends keyof E>(name: K, event: E[K]): void;
}
export type PrimitiveTx = EventTx<PrimitiveEvents>;

/** What `commit` needs: the store to write, and where events go once durable. */
export interface Emitting<E> {
  store: Store;
  emit<K extends keyof E>(name: K, event: E[K]): void;
}

export interface PrimitiveSettings {
  /** Versions kept per shared-state key. */
  stateHistoryLimit: number;
}

export interface PrimitiveContext {
  store: Store;
  clock: Clock;
  emit<K extends keyof PrimitiveEvents>(name: K, event: PrimitiveEvents[K]): void;
  /** Hears every coordinator event after it happened (the waiters wake on them). */
  onAny(listener: AnyEventListener): Disposable;
  settings(): PrimitiveSettings;
}

export interface Commit<T> {
  /** What the transaction returned: known at once, so a grant can be decided synchronously. */
  value: T;
  /** Resolves with `value` once durable and announced; rejects when the write was not kept. */
  done: Promise<T>;
}

/**
 * Runs `fn` as one store transaction, at once; its events are emitted once it is durable. The
 * synchronous part is what lets a waiter queue decide a grant and move on without a race.
 */
export function commit<T, E = PrimitiveEvents>(ctx: Emitting<E>, fn: (tx: EventTx<E>) => T): Commit<T> {
  const events: Array<[keyof E, unknown]> = [];
  const { value, durable } = ctx.store.transact((w) => fn({ w, emit: (name, event) => events.push([name, event]) }));
  const done = durable.then(() => {
    for (const [name, event] of events) ctx.emit(name, event as never);
    return value;
  });
  done.catch(() => {}); // the caller gets it; this only avoids an unhandled rejection
  return { value, done };
}

/** Waits until everything a read may have seen is durable, then returns the read. */
export async function durableRead<T>(ctx: PrimitiveContext, fn: () => T): Promise<T> {
  const { value, durable } = ctx.store.transact(() => fn());
  await durable;
  return value;
}

export function nowIso(ctx: PrimitiveContext): string {
  return iso(ctx.clock.now());
}

/** The next number of the counter `name`, kept in the store's meta table. */
export function nextSeq(ctx: PrimitiveContext, tx: PrimitiveTx, name: string): number {
  const n = Number(ctx.store.getMeta(name) ?? 0) + 1;
  tx.w.apply({ op: 'meta', key: name, value: String(n) });
  return n;
}

/** A worker marked stale must register again before it takes anything new. */
export function assertNotStale(ctx: PrimitiveContext, workerId: string): void {
  if (ctx.store.getInstance(workerId)?.status === 'stale') {
    throw new HarnessError(ErrorCode.InstanceStale, `instance ${workerId} was marked stale; register it again`, { worker_id: workerId });
  }
}

/** "in 42 s" / "12 s ago", for messages. */
export function relative(ctx: PrimitiveContext, isoTime: string): string {
  const s = Math.round((Date.parse(isoTime) - ctx.clock.now()) / 1000);
  return s >= 0 ? `in ${s} s` : `${-s} s ago`;
}

export type JsonObject = { [key: string]: Json };
