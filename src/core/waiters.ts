// A fair (first come, first served) queue of requests waiting for something to free up: a lock
// on one path, or amounts of resource pools. Waiting is in memory only; each grant is a durable
// write made by the request's own `attempt`.
import type { Clock } from './clock';
import { ErrorCode, HarnessError } from './errors';

export interface WaitRequest<T, Info> {
  /** What lists show about a waiter. */
  info: Info;
  /**
   * Tries to take what it waits for, in one transaction, synchronously: undefined when it cannot
   * yet, else the grant (which settles once durable). May throw: the request then fails.
   */
  attempt(): Promise<T> | undefined;
  /** The error for a request whose time ran out. */
  timeoutError(waitedMs: number): Error;
}

interface Entry<T, Info> {
  request: WaitRequest<T, Info>;
  since: number;
  resolve(value: T): void;
  reject(error: Error): void;
  cleanup(): void;
}

export class FifoWaiters<T, Info> {
  private readonly queue: Array<Entry<T, Info>> = [];

  /** `clock` measures the waits: the coordinator's, so tests move it. */
  constructor(private readonly clock: Clock) {}

  get length(): number {
    return this.queue.length;
  }

  /** The waiters, first in line first, with when each started waiting (ms since epoch, the clock's time). */
  list(): Array<{ info: Info; since: number }> {
    return this.queue.map((e) => ({ info: e.request.info, since: e.since }));
  }

  /**
   * Grants at once when nobody is waiting ahead and it is free; else waits in line up to
   * `waitMs` (0: not at all). `signal` (the requester went away) takes the request out of line.
   */
  acquire(request: WaitRequest<T, Info>, waitMs: number, signal?: AbortSignal): Promise<T> {
    if (this.queue.length === 0) {
      const granted = request.attempt();
      if (granted) return granted;
    }
    if (waitMs <= 0) return Promise.reject(request.timeoutError(0));
    if (signal?.aborted) return Promise.reject(gone());
    return new Promise<T>((resolve, reject) => {
      const since = this.clock.now();
      const cancelTimer = this.clock.after(waitMs, () => this.drop(entry, request.timeoutError(this.clock.now() - since)));
      const onAbort = () => this.drop(entry, gone());
      signal?.addEventListener('abort', onAbort, { once: true });
      const entry: Entry<T, Info> = {
        request,
        since,
        resolve,
        reject,
        cleanup: () => {
          cancelTimer();
          signal?.removeEventListener('abort', onAbort);
        },
      };
      this.queue.push(entry);
    });
  }

  /** Grants from the head of the line for as long as the head can be granted. */
  pump(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      let granted: Promise<T> | undefined;
      try {
        granted = head.request.attempt();
      } catch (e) {
        this.drop(head, e as Error);
        continue;
      }
      if (!granted) return;
      this.queue.shift();
      head.cleanup();
      granted.then(head.resolve, head.reject);
    }
  }

  /** Fails every waiter `accept` picks (e.g. those of a worker that went away). */
  cancel(accept: (info: Info) => boolean, error: Error): void {
    for (const entry of this.queue.filter((e) => accept(e.request.info))) this.drop(entry, error);
  }

  private drop(entry: Entry<T, Info>, error: Error): void {
    const i = this.queue.indexOf(entry);
    if (i === -1) return; // granted meanwhile
    this.queue.splice(i, 1);
    entry.cleanup();
    entry.reject(error);
    // The one that left may have held up those behind it (a writer in front of readers).
    if (i === 0) this.pump();
  }
}

function gone(): HarnessError {
  return new HarnessError(ErrorCode.Closed, 'the request was withdrawn: its connection closed while it waited');
}

/**
 * One timer that wakes a queue when what blocks it runs out (a lease's expiry, in the injected
 * clock's time), keeping only the earliest such moment.
 */
export class WakeTimer {
  private cancel: (() => void) | undefined;
  private atMs = Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly wake: () => void,
  ) {}

  at(atMs: number): void {
    if (this.cancel && atMs >= this.atMs) return;
    this.clear();
    this.atMs = atMs;
    this.cancel = this.clock.after(
      atMs - this.clock.now(),
      () => {
        this.cancel = undefined;
        this.atMs = Infinity;
        this.wake();
      },
      { unref: true },
    );
  }

  clear(): void {
    this.cancel?.();
    this.cancel = undefined;
    this.atMs = Infinity;
  }
}
