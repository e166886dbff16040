import BTree from 'sorted-btree';

type Key = readonly [ms: number, seq: number];
const byTime = (a: Key, b: Key) => a[0] - b[0] || a[1] - b[1];

/**
 * Entries that become due at a time: leases that run out, tasks waiting out a retry backoff.
 * They wait in time order; `advance(now)` hands those whose time came to `onDue`, each once, in
 * O(log n) apiece, so finding what is due never scans what is not. Time is expected to move
 * forward; if it moves back (a clock set back), entries due later than the new time wait again.
 */
export class Deadlines {
  private readonly waiting = new BTree<Key, string>(undefined, byTime);
  private readonly where = new Map<string, { key: Key; due: boolean }>();
  /** The latest time seen: entries at or before it are due. */
  private now = -Infinity;

  constructor(
    private readonly onDue: (id: string) => void,
    private readonly onUndue: (id: string) => void,
  ) {}

  add(id: string, ms: number, seq: number): void {
    const key: Key = [ms, seq];
    const due = ms <= this.now;
    this.where.set(id, { key, due });
    if (due) this.onDue(id);
    else this.waiting.set(key, id);
  }

  remove(id: string): void {
    const entry = this.where.get(id);
    if (!entry) return;
    this.where.delete(id);
    if (entry.due) this.onUndue(id);
    else this.waiting.delete(entry.key);
  }

  isDue(id: string): boolean {
    return this.where.get(id)?.due ?? false;
  }

  /** Makes everything due at or before `now` due. */
  advance(now: number): void {
    if (now < this.now) {
      for (const [id, entry] of this.where) {
        if (entry.due && entry.key[0] > now) {
          entry.due = false;
          this.waiting.set(entry.key, id);
          this.onUndue(id);
        }
      }
    }
    this.now = now;
    for (let first = this.waiting.minKey(); first !== undefined && first[0] <= now; first = this.waiting.minKey()) {
      const id = this.waiting.get(first)!;
      this.waiting.delete(first);
      this.where.get(id)!.due = true;
      this.onDue(id);
    }
  }

  /** The earliest time something waits for, if anything does. */
  nextTime(): number | undefined {
    return this.waiting.minKey()?.[0];
  }

  get size(): number {
    return this.where.size;
  }
}
