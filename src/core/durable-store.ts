import { describeError, ErrorCode, HarnessError, isHarnessError } from './errors';
import type { DurabilityLog, LoadStats, LogEntry } from './durability';
import { recordJson } from './journal';
import { MemoryState } from './memory-state';
import type { Undo } from './primitive-store';
import type { Change, Committed, Store, StoreWriter } from './store';

interface Pending {
  entry: LogEntry;
  /** How to take the transaction back out of memory if its append fails. */
  undo: Undo[];
  resolve: () => void;
  reject: (e: Error) => void;
}

export interface DurableStoreOptions {
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

/**
 * The store: the whole state in memory (memory-state.ts, real indexes, every read O(log n) or
 * better, inherited from there) behind a durability log. A transaction applies to memory at once, so the next one sees
 * it; its record goes to the log, many transactions per append (group commit: everything that
 * arrived while the previous append was in flight, or in the same turn of the event loop); it
 * counts as durable only when the log says so. If an append fails, every transaction not yet
 * durable is undone in memory, newest first, so memory holds exactly what the log holds.
 */
export class DurableStore extends MemoryState implements Store {
  /** The number of the last committed record; a replicated store moves it as it follows the log. */
  protected seq = 0;
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private lastDurable: Promise<void> = Promise.resolve();
  private closed = false;
  stats: LoadStats = { snapshot_bytes: 0, journal_records: 0, torn_bytes_dropped: 0, open_ms: 0 };

  protected constructor(
    protected readonly log: DurabilityLog,
    private readonly report: NonNullable<DurableStoreOptions['log']> = () => {},
  ) {
    super();
  }

  /** A store over `log`, holding what the log holds. */
  static async over(log: DurabilityLog, options: DurableStoreOptions = {}): Promise<DurableStore> {
    const store = new DurableStore(log, options.log);
    log.liveRows = () => store.rowCount;
    await store.loadFromLog();
    return store;
  }

  protected async loadFromLog(): Promise<void> {
    const { seq, stats } = await this.log.load((change) => this.applyChange(change));
    this.seq = seq;
    this.stats = stats;
  }

  /** The number of the last committed record (durable or on its way). */
  get sequence(): number {
    return this.seq;
  }

  transact<T>(fn: (tx: StoreWriter) => T): Committed<T> {
    if (this.closed) throw new HarnessError(ErrorCode.Closed, 'the store is closed');
    const changes: Change[] = [];
    const undo: Undo[] = [];
    let value: T;
    try {
      value = fn({
        apply: (change) => {
          undo.push(this.applyChange(change));
          changes.push(change);
        },
      });
    } catch (e) {
      for (let i = undo.length - 1; i >= 0; i--) undo[i]!();
      throw e;
    }
    // Nothing changed: still answer only once what this read may have seen is durable.
    if (changes.length === 0) return { value, durable: this.lastDurable };
    const seq = ++this.seq;
    const entry = { seq, json: recordJson(seq, changes), changes: changes.length };
    const durable = new Promise<void>((resolve, reject) => this.queue.push({ entry, undo, resolve, reject }));
    durable.catch(() => {}); // the caller gets it; this only avoids an unhandled rejection
    this.lastDurable = durable;
    this.flushing ??= new Promise<void>((r) => setImmediate(r)).then(() => this.flush());
    return { value, durable };
  }

  /** Appends queued records, many per append, until the queue is empty. */
  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        await this.log.append(batch.map((p) => p.entry));
        for (const p of batch) p.resolve();
      } catch (e) {
        // A log that knows what happened says so with its own code (a replicated log: NOT_LEADER,
        // nothing applied; UNAVAILABLE, the outcome unknown); anything else was not saved.
        const error = isHarnessError(e) ? e : new HarnessError(ErrorCode.Storage, `could not save the change (${describeError(e)}); it was not applied`);
        this.report('error', error.message);
        // Everything after the last durable record goes, newest first: later transactions were
        // built on the earlier ones.
        const lost = [...batch, ...this.queue];
        this.queue = [];
        for (let i = lost.length - 1; i >= 0; i--) {
          const { undo } = lost[i]!;
          for (let j = undo.length - 1; j >= 0; j--) undo[j]!();
        }
        this.seq = lost[0]!.entry.seq - 1;
        // Memory is what the log holds again: a read-only call must not inherit the failed write.
        this.lastDurable = Promise.resolve();
        for (const p of lost) p.reject(error);
      }
    }
    this.flushing = undefined;
  }

  /** Resolves once everything written so far is durable (or refused) and background work is done. */
  async settled(): Promise<void> {
    await this.flushing;
    await this.log.settled();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flushing;
    await this.log.close();
  }
}
