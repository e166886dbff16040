// The seam between the state in memory and what makes it durable. A DurabilityLog keeps an
// ordered sequence of records (journal.ts: one committed transaction each, numbered 1, 2, 3 ...
// with no gap) and, from time to time, a snapshot that stands for every record up to some
// number. Implementations: the file log (file-log.ts: journal files and a sql.js snapshot in the
// state directory) and the volatile one below; a replicated log (NATS JetStream: a record per
// message, published with the expected last sequence, so a deposed leader's append fails) fits
// the same four calls. See docs/engine.md.
import type { Change } from './store';

/** One record, ready to append: its number, its JSON (journal.ts recordJson), how many changes it holds. */
export interface LogEntry {
  seq: number;
  json: string;
  changes: number;
}

export interface LoadStats {
  snapshot_bytes: number;
  journal_records: number;
  torn_bytes_dropped: number;
  open_ms: number;
}

export interface LoadResult {
  /** The number of the last record loaded (0 for an empty log). */
  seq: number;
  stats: LoadStats;
}

export interface DurabilityLog {
  /**
   * Hands every durable change to `apply`, in order: the snapshot's rows first, then each record
   * after it. Damage is refused (STATE_CORRUPT, nothing changed on disk); only a record torn by a
   * crash mid-append, at the very end, is dropped.
   */
  load(apply: (change: Change) => void): Promise<LoadResult>;
  /**
   * Makes `entries` durable, after every entry of earlier calls; resolves only once they would
   * survive a crash. The store calls it once per group commit and never twice at a time. A
   * rejection means none of them counts: the log must not return them from `load` later (the
   * file log cuts them off before its next append).
   */
  append(entries: readonly LogEntry[]): Promise<void>;
  /** Resolves once background work (a snapshot being written) has finished. */
  settled(): Promise<void>;
  /** Finishes background work, may write a last snapshot (a fast start next time), releases everything. */
  close(): Promise<void>;
  /** How many rows the state holds now: with it a log can tell how much of its history is superseded. */
  liveRows?: () => number;
}

/** A log that keeps nothing: every append is "durable" at once. For tests and the in-memory store. */
export class VolatileLog implements DurabilityLog {
  async load(): Promise<LoadResult> {
    return { seq: 0, stats: { snapshot_bytes: 0, journal_records: 0, torn_bytes_dropped: 0, open_ms: 0 } };
  }
  append(_entries: readonly LogEntry[]): Promise<void> {
    return Promise.resolve();
  }
  settled(): Promise<void> {
    return Promise.resolve();
  }
  async close(): Promise<void> {}
}
