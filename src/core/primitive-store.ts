// The rows of the coordination primitives (locks, pools and holds, shared state, mailboxes), the
// changes that write them, the reads over them, and the in-memory reference implementation.
import { deepFreeze } from './freeze';
import type { Json } from './model';

export type LockMode = 'read' | 'write';

/** A granted file lock: a lease on a path, relative to the workspace root, with '/' separators. */
export interface LockRow {
  /** Fencing token: grows by one at every grant, over all paths. */
  token: number;
  path: string;
  mode: LockMode;
  worker_id: string;
  acquired_at: string;
  expires_at: string;
  ttl_seconds: number;
}

export interface PoolRow {
  name: string;
  capacity: number;
  updated_at: string;
}

/** Amounts of pools held outside any task (`resource_acquire`): a lease like a lock. */
export interface HoldRow {
  id: string;
  seq: number;
  worker_id: string;
  amounts: Record<string, number>;
  acquired_at: string;
  expires_at: string;
  ttl_seconds: number;
}

/** One version of a shared-state key; a delete is a version too (a tombstone). */
export interface StateVersion {
  key: string;
  version: number;
  value: Json;
  deleted: boolean;
  updated_at: string;
  updated_by: string | null;
}

/** One delivery of a message: a direct message has one, a topic message one per subscriber. */
export interface MessageRow {
  id: string;
  seq: number;
  recipient: string;
  to: string;
  from: string | null;
  body: Json;
  sent_at: string;
}

export interface SubscriptionRow {
  topic: string;
  worker_id: string;
  since: string;
}

export type PrimitiveChange =
  | { op: 'lock'; row: LockRow }
  | { op: 'lock_delete'; token: number }
  | { op: 'pool'; row: PoolRow }
  | { op: 'hold'; row: HoldRow }
  | { op: 'hold_delete'; id: string }
  | { op: 'state'; row: StateVersion }
  /** Drops the versions of `key` below `below`. */
  | { op: 'state_prune'; key: string; below: number }
  | { op: 'message'; row: MessageRow }
  /** Drops a message: every delivery of it, or only `recipient`'s. */
  | { op: 'message_delete'; id: string; recipient?: string }
  | { op: 'subscription'; row: SubscriptionRow }
  | { op: 'subscription_delete'; topic: string; worker_id: string };

export interface PrimitiveReader {
  /** Locks (expired ones too, until swept), oldest grant first; of one path when given. */
  locks(path?: string): LockRow[];
  locksOf(workerId: string): LockRow[];
  pools(): PoolRow[];
  holds(): HoldRow[];
  /** The newest version of `key`, which may be a tombstone. */
  state(key: string): StateVersion | undefined;
  /** Every kept version of `key`, newest first. */
  stateHistory(key: string): StateVersion[];
  /** The newest version of every key starting with `prefix`, tombstones included, by key. */
  stateList(prefix: string): StateVersion[];
  /** Deliveries to `recipient`, oldest first. */
  messagesFor(recipient: string, limit: number): MessageRow[];
  /** Every pending delivery, oldest first; of one message when `id` is given. */
  messages(id?: string): MessageRow[];
  subscribers(topic: string): string[];
  subscriptionsOf(workerId: string): string[];
  /** Every subscription, by topic then worker. */
  subscriptions(): SubscriptionRow[];
}

/** Undoes one applied change (a failed transaction is rolled back with these). */
export type Undo = () => void;

const bySeq = (a: MessageRow, b: MessageRow) => a.seq - b.seq;

/** Puts and deletes in a map, each returning its undo. Rows are frozen values, shared with readers. */
class Table<R> {
  readonly rows = new Map<string, R>();
  put(key: string, row: R): Undo {
    const before = this.rows.get(key);
    this.rows.set(key, deepFreeze(row));
    return () => (before === undefined ? this.rows.delete(key) : this.rows.set(key, before));
  }
  delete(key: string): Undo {
    const before = this.rows.get(key);
    this.rows.delete(key);
    return () => before !== undefined && this.rows.set(key, before);
  }
  deleteWhere(accept: (row: R) => boolean): Undo {
    const undo = [...this.rows].filter(([, r]) => accept(r)).map(([k]) => this.delete(k));
    return () => undo.reverse().forEach((u) => u());
  }
  values(accept: (row: R) => boolean = () => true): R[] {
    return [...this.rows.values()].filter(accept);
  }
}

/** The primitives' part of the in-memory state: plain maps (few rows: locks, pools, holds, keys, messages). */
export class MemoryPrimitives implements PrimitiveReader {
  private readonly lockRows = new Table<LockRow>();
  private readonly poolRows = new Table<PoolRow>();
  private readonly holdRows = new Table<HoldRow>();
  private readonly stateRows = new Table<StateVersion>();
  private readonly messageRows = new Table<MessageRow>();
  private readonly subscriptionRows = new Table<SubscriptionRow>();

  apply(c: PrimitiveChange): Undo {
    switch (c.op) {
      case 'lock':
        return this.lockRows.put(String(c.row.token), c.row);
      case 'lock_delete':
        return this.lockRows.delete(String(c.token));
      case 'pool':
        return this.poolRows.put(c.row.name, c.row);
      case 'hold':
        return this.holdRows.put(c.row.id, c.row);
      case 'hold_delete':
        return this.holdRows.delete(c.id);
      case 'state':
        return this.stateRows.put(JSON.stringify([c.row.key, c.row.version]), c.row);
      case 'state_prune':
        return this.stateRows.deleteWhere((r) => r.key === c.key && r.version < c.below);
      case 'message':
        return this.messageRows.put(JSON.stringify([c.row.id, c.row.recipient]), c.row);
      case 'message_delete':
        return this.messageRows.deleteWhere((r) => r.id === c.id && (c.recipient === undefined || r.recipient === c.recipient));
      case 'subscription':
        return this.subscriptionRows.put(JSON.stringify([c.row.topic, c.row.worker_id]), c.row);
      case 'subscription_delete':
        return this.subscriptionRows.delete(JSON.stringify([c.topic, c.worker_id]));
    }
  }

  /** Every row as the change that puts it back (a snapshot of this part of the state). */
  rows(): PrimitiveChange[] {
    return [
      ...this.lockRows.values().map((row): PrimitiveChange => ({ op: 'lock', row })),
      ...this.poolRows.values().map((row): PrimitiveChange => ({ op: 'pool', row })),
      ...this.holdRows.values().map((row): PrimitiveChange => ({ op: 'hold', row })),
      ...this.stateRows.values().map((row): PrimitiveChange => ({ op: 'state', row })),
      ...this.messageRows.values().map((row): PrimitiveChange => ({ op: 'message', row })),
      ...this.subscriptionRows.values().map((row): PrimitiveChange => ({ op: 'subscription', row })),
    ];
  }

  locks(path?: string): LockRow[] {
    return this.lockRows.values((l) => path === undefined || l.path === path).sort((a, b) => a.token - b.token);
  }
  locksOf(workerId: string): LockRow[] {
    return this.locks().filter((l) => l.worker_id === workerId);
  }
  pools(): PoolRow[] {
    return this.poolRows.values().sort((a, b) => (a.name < b.name ? -1 : 1));
  }
  holds(): HoldRow[] {
    return this.holdRows.values().sort((a, b) => a.seq - b.seq);
  }
  state(key: string): StateVersion | undefined {
    return this.stateHistory(key)[0];
  }
  stateHistory(key: string): StateVersion[] {
    return this.stateRows.values((r) => r.key === key).sort((a, b) => b.version - a.version);
  }
  stateList(prefix: string): StateVersion[] {
    const newest = new Map<string, StateVersion>();
    for (const r of this.stateRows.values((r) => r.key.startsWith(prefix))) {
      if ((newest.get(r.key)?.version ?? -1) < r.version) newest.set(r.key, r);
    }
    return [...newest.values()].sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  }
  messagesFor(recipient: string, limit: number): MessageRow[] {
    return this.messageRows.values((m) => m.recipient === recipient).sort(bySeq).slice(0, limit);
  }
  messages(id?: string): MessageRow[] {
    return this.messageRows.values((m) => id === undefined || m.id === id).sort((a, b) => bySeq(a, b) || (a.recipient < b.recipient ? -1 : 1));
  }
  subscribers(topic: string): string[] {
    return this.subscriptionRows.values((s) => s.topic === topic).map((s) => s.worker_id).sort();
  }
  subscriptionsOf(workerId: string): string[] {
    return this.subscriptionRows.values((s) => s.worker_id === workerId).map((s) => s.topic).sort();
  }
  subscriptions(): SubscriptionRow[] {
    return this.subscriptionRows.values().sort((a, b) => (a.topic === b.topic ? (a.worker_id < b.worker_id ? -1 : 1) : a.topic < b.topic ? -1 : 1));
  }
}
