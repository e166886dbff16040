// Taking turns: the connections of the socket share one event loop, so each runs a share of its
// requests per turn of the loop and waits behind the others for its next.
import type { Clock } from '../core/clock';

/** Sub-millisecond time for turns; the coordinator's clock is in whole milliseconds. */
const fineClock: Clock = {
  now: () => performance.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};

/** A heavy connection sits out this many times as long as its turn took ... */
const REST_FACTOR = 2;
/** ... when a light one had a turn this recently. */
const LIGHT_RECENTLY_MS = 100;

/** Something that takes turns at running its queued work. */
export interface TakesTurns {
  /** Runs this turn's share; true when there is more it could run right away. */
  runTurn(): boolean;
}

/**
 * Gives every connection with runnable lines a turn, round robin, once per turn of the event loop
 * (setImmediate: after the loop has polled for I/O, so the other connections' requests and the
 * journal's fsync completions are taken in between two turns of a busy connection).
 *
 * A connection whose turn ran past `sliceMs` (an expensive request, say a page of big tasks) is
 * heavy: in a turn the light ones go first (a claim starts its fsync before the heavy request,
 * not after it), and while light connections are being served, a heavy one sits out twice as
 * long as its turn took before its next (the others' replies then go out without waiting behind
 * another of its requests; it gets about a third of the loop). Alone, it runs flat out.
 */
export class TurnScheduler {
  private light: TakesTurns[] = [];
  private heavy: TakesTurns[] = [];
  private readonly waiting = new Set<TakesTurns>();
  private readonly resting = new Map<TakesTurns, { until: number; cancel: (() => void) | undefined }>();
  private readonly heavyOnes = new WeakSet<TakesTurns>();
  private scheduled = false;
  /** When a light connection last had a turn. */
  private lightAt = -Infinity;

  constructor(
    private readonly sliceMs: number,
    private readonly clock: Clock = fineClock,
  ) {}

  ready(c: TakesTurns): void {
    if (this.waiting.has(c)) return;
    const rest = this.resting.get(c);
    if (rest) {
      const left = rest.until - this.clock.now();
      if (left > 0) {
        rest.cancel ??= this.clock.after(left, () => {
          this.resting.delete(c);
          this.ready(c);
        });
        return;
      }
      rest.cancel?.();
      this.resting.delete(c);
    }
    this.waiting.add(c);
    (this.heavyOnes.has(c) ? this.heavy : this.light).push(c);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.turn);
    }
  }

  /**
   * Gives a connection that has just been read its turn right away, when it is light and not
   * already waiting for one: a client sending one request at a time is answered in the same turn
   * of the loop it was read in (and its write joins the fsync that turn's requests share), as
   * without a scheduler. What it has beyond its share waits for the next turn; a heavy, resting or
   * already waiting one waits for its turn as `ready` has it.
   */
  runNow(c: TakesTurns): void {
    if (this.waiting.has(c) || this.resting.has(c) || this.heavyOnes.has(c)) return this.ready(c);
    this.settle([this.take(c)]);
  }

  private readonly turn = () => {
    this.scheduled = false;
    const now = [...this.light, ...this.heavy];
    this.light = [];
    this.heavy = [];
    this.waiting.clear();
    this.settle(now.map((c) => this.take(c)));
  };

  /** Runs one turn of `c`, and tells heavy from light by how long it took. */
  private take(c: TakesTurns): Turn {
    const started = this.clock.now();
    const more = c.runTurn();
    const ended = this.clock.now();
    if (ended - started > this.sliceMs) this.heavyOnes.add(c);
    else {
      this.heavyOnes.delete(c);
      this.lightAt = started;
    }
    return { c, more, started, ended };
  }

  /** After the turns: the heavy ones rest while light ones are being served; who has more waits for the next turn. */
  private settle(turns: Turn[]): void {
    for (const { c, more, started, ended } of turns) {
      if (this.heavyOnes.has(c) && ended - this.lightAt < LIGHT_RECENTLY_MS) {
        this.resting.set(c, { until: ended + (ended - started) * REST_FACTOR, cancel: undefined });
      }
      if (more) this.ready(c);
    }
  }
}

interface Turn {
  c: TakesTurns;
  more: boolean;
  started: number;
  ended: number;
}
