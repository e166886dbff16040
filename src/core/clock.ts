/** Time comes from here, so tests move it instead of sleeping. */
export interface Clock {
  now(): number;
  /**
   * Calls `fn` once this clock has moved `ms` on (never before); the returned function cancels it.
   * `unref`: the timer alone does not keep the process alive.
   */
  after(ms: number, fn: () => void, options?: { unref?: boolean }): () => void;
}

/** Node's timers take at most this many ms; a longer wait is made of several. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn, options) {
    const due = Date.now() + Math.max(0, ms);
    let timer: NodeJS.Timeout;
    const arm = (delay: number) => {
      timer = setTimeout(() => {
        // A timer may fire a little before Date.now() reaches its moment, or be a part of a long wait.
        const left = due - Date.now();
        if (left > 0) arm(left);
        else fn();
      }, Math.min(delay, MAX_TIMER_MS));
      if (options?.unref) timer.unref();
    };
    arm(due - Date.now());
    return () => clearTimeout(timer);
  },
};

interface ManualTimer {
  at: number;
  fn: () => void;
}

/** A clock that only moves when told to; its timers run as it passes their moment. */
export class ManualClock implements Clock {
  private timers: ManualTimer[] = [];

  constructor(private ms = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.ms;
  }

  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.ms + Math.max(0, ms), fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  advance(ms: number): void {
    this.set(this.ms + ms);
  }

  /** Moves to `ms`; each timer due on the way runs with the clock at its own moment, earliest first. */
  set(ms: number): void {
    for (;;) {
      const next = this.timers.reduce<ManualTimer | undefined>((a, t) => (t.at <= ms && (!a || t.at < a.at) ? t : a), undefined);
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.ms = Math.max(this.ms, next.at);
      next.fn();
    }
    this.ms = ms;
  }
}

let lastMs = NaN;
let lastIso = '';

/** ISO-8601 UTC with milliseconds. A claim formats the same instant a few times: the last one is kept. */
export function iso(ms: number): string {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastIso;
}
