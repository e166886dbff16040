import { DurableStore, type DurableStoreOptions } from '../core/durable-store';
import type { JournalRecord } from '../core/journal';
import { buildSnapshot } from '../core/snapshot-jobs';
import type { Change, Committed, StoreWriter } from '../core/store';
import { describeNatsError } from './connection';
import { notLeader, type JetStreamLog } from './jetstream-log';
import type { SnapshotStore } from './snapshots';

export interface SnapshotWritten {
  seq: number;
  rows: number;
  bytes: number;
  /** Whether it became the current snapshot (false: a newer one was there first). */
  current: boolean;
  /** The last stream message removed with it. */
  trimmedTo: number;
}

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

  /**
   * Writes a snapshot of the state in memory and trims the log up to it. The rows are taken in one
   * go (frozen values: the state at one record), turned into an image off the request path, and
   * stored only once every record it stands for is durable (a standby's memory is the log's).
   * The log is trimmed only up to the last message confirmed when the rows were taken: everything
   * in it is in the image.
   */
  async snapshot(snapshots: SnapshotStore, node: string, workers: boolean): Promise<SnapshotWritten> {
    const seq = this.sequence;
    const position = this.jetstream.position;
    const rows = this.rows();
    const durable = this.writable ? super.transact(() => undefined).durable : Promise.resolve();
    const step = <T>(what: string, p: Promise<T>) => p.catch((e: unknown) => Promise.reject(new Error(`${what}: ${describeNatsError(e)}`)));
    const image = await step('building the image', buildSnapshot(await jsonChunks(rows), seq, workers));
    await durable;
    const current = await step('storing it', snapshots.publish(image, seq, node));
    if (current) await step('trimming the log', this.jetstream.trim(position));
    return { seq, rows: rows.length, bytes: image.length, current, trimmedTo: current ? position : 0 };
  }

  /** A record the leader appended, in order (the log checked that none is missing). */
  applyRecord(record: JournalRecord): void {
    if (this.writable) throw new Error(`record ${record.s} followed while this store takes transactions`);
    for (const change of record.c) this.applyChange(change);
    this.seq = record.s;
  }
}

/** Rows as JSON arrays of at most a thousand, one chunk per turn of the event loop. */
async function jsonChunks(rows: readonly Change[]): Promise<string[]> {
  const chunks: string[] = [];
  for (let i = 0; i < rows.length; i += 1000) {
    chunks.push(JSON.stringify(rows.slice(i, i + 1000)));
    await new Promise((r) => setImmediate(r));
  }
  return chunks;
}
