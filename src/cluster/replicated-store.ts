import { DurableStore, type DurableStoreOptions } from '../core/durable-store';
import type { JournalRecord } from '../core/journal';
import type { Committed, StoreWriter } from '../core/store';
import { notLeader, type JetStreamLog } from './jetstream-log';

/**
 * The store of a cluster coordinator: the same state in memory and group commit as every store
 * (durable-store.ts), over the JetStream log. A standby takes no transaction: it applies the
 * records the leader appends (`applyRecord`), so its memory is current when it takes over. A
 * leader that is fenced has its unconfirmed transactions undone by the durable store, which
 * leaves memory exactly at the log's last confirmed record; from there it follows again.
 */
export class ReplicatedStore extends DurableStore {
  private writable = false;

  private constructor(
    readonly jetstream: JetStreamLog,
    report: DurableStoreOptions['log'],
  ) {
    super(jetstream, report);
  }

  static async open(log: JetStreamLog, options: DurableStoreOptions = {}): Promise<ReplicatedStore> {
    const store = new ReplicatedStore(log, options.log);
    await store.loadFromLog();
    return store;
  }

  override transact<T>(fn: (tx: StoreWriter) => T): Committed<T> {
    // Refused before anything is applied: a followed record must never land between a
    // transaction and its undo.
    if (!this.writable) throw notLeader('it is a standby');
    return super.transact(fn);
  }

  /** Takes transactions (leader) or not (standby). Waits for every transaction before it to settle. */
  async setWritable(writable: boolean): Promise<void> {
    this.writable = writable;
    if (!writable) await this.settled();
  }

  get isWritable(): boolean {
    return this.writable;
  }

  /** A record the leader appended, in order (the log checked that none is missing). */
  applyRecord(record: JournalRecord): void {
    if (this.writable) throw new Error(`record ${record.s} followed while this store takes transactions`);
    for (const change of record.c) this.applyChange(change);
    this.seq = record.s;
  }
}
