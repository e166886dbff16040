// One client connection of the socket: framing, the requests it has sent but that have not run
// yet, the ones running, and what is owed to it. Every bound a hostile or careless client could
// push against is here:
//  - it is read only while what it has not yet taken (unsent replies) and what it has sent but
//    not had run (queued lines) are under their bounds: past them the socket is paused, and the
//    kernel pushes back on the client's writes;
//  - at most `maxInFlight` of its requests run at once;
//  - it runs at most `linesPerTurn` lines (and about `turnSliceMs` of CPU) per turn of the event
//    loop, then waits its turn behind the other connections (TurnScheduler);
//  - replies go out in request order, everything owed in one turn in one write.
// A client that goes away (closes, or shuts its side) has its lines that have not run dropped:
// never run, never acknowledged, never half-applied; the ones running finish, each one atomic
// change in the store, with nobody to tell.
// Event lines (after `subscribe`) go through the same output in the order they happen; live
// output is skipped and counted past a soft bound, and a connection that takes nothing at all
// for BACKLOG_GRACE_MS, or owes past the hard cap, is dropped as a slow consumer.
import type * as net from 'node:net';
import { ErrorCode } from '../protocol/errors';
import type { Logger } from '../protocol/log';
import type { EventLine, Reply } from '../protocol/messages';
import type { TakesTurns, TurnScheduler } from './turns';

/** What a line gets back: a reply, an event line (a refused notification), or nothing. */
export type Answer = Reply | EventLine | undefined;

export interface ConnectionLimits {
  /** A request line longer than this is refused (and skipped to its end). */
  maxLineBytes: number;
  /** Owing more than this, the connection is a slow consumer and is dropped. */
  maxBufferedBytes: number;
  /** Owing this much, its requests are neither read nor run until it has taken what it is owed. */
  replyHighWater: number;
  /** Lines read but not run yet, in bytes, past which reading stops. */
  readAheadBytes: number;
  /** Requests running at once (answered out of order inside, written in order). */
  maxInFlight: number;
  /** Lines run per turn of the event loop, at most ... */
  linesPerTurn: number;
  /** ... and no more once the turn has taken this long (at least one line runs). */
  turnSliceMs: number;
}

export const DEFAULT_LIMITS: Omit<ConnectionLimits, 'maxLineBytes'> = {
  maxBufferedBytes: 16 * 1024 * 1024,
  replyHighWater: 1024 * 1024,
  readAheadBytes: 64 * 1024,
  maxInFlight: 64,
  linesPerTurn: 32,
  turnSliceMs: 1,
};

/** How long a connection may sit on a backlog without draining before it counts as not reading. */
const BACKLOG_GRACE_MS = 5000;

interface Slot {
  done: boolean;
  answer: Answer;
}

/** A line that was too long: answered with an error in its place. */
const TOO_LONG = Symbol('too long');

export class Connection implements TakesTurns {
  private readonly queue: Array<{ line: string | typeof TOO_LONG; bytes: number }> = [];
  private queuedBytes = 0;
  /** The start of a line whose end has not come yet. */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** Inside a line that was too long: skip to its end. */
  private discarding = false;
  private readonly slots: Slot[] = [];
  /** Lines owed this turn, written together at its end. */
  private out: string[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  private paused = false;
  /** No more requests are taken (the server is shutting down). */
  private stopped = false;
  private closed = false;
  /** Live-output events skipped since the reader fell behind. */
  private skipped = 0;
  private backlogTimer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly socket: net.Socket,
    private readonly limits: ConnectionLimits,
    private readonly turns: TurnScheduler,
    private readonly run: (line: string) => Promise<Answer>,
    private readonly log: Logger,
  ) {
    socket.on('data', (data: Buffer) => this.take(data));
    // A client that shuts its side has said goodbye (the CLI withdraws a waiting request so):
    // what it sent that has not run yet is dropped, like at a close.
    socket.on('end', () => this.dropQueue());
    socket.on('drain', () => this.drained());
    socket.on('close', () => this.gone());
    socket.on('error', () => socket.destroy());
  }

  /** Stops taking requests: those read but not run are dropped (they were never acknowledged). */
  stopTaking(): void {
    this.stopped = true;
    this.dropQueue();
    this.updateReading();
  }

  /** Resolves once every request that runs has been answered and its reply handed to the socket. */
  whenIdle(): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Sends an event line (JSON); `droppable` ones (live output) are skipped and counted when the reader is behind. */
  sendEvent(line: string, droppable: boolean): void {
    if (this.closed) return;
    if (this.unsent() > this.limits.maxBufferedBytes) return this.dropSlowConsumer();
    if (droppable && this.unsent() > this.limits.maxBufferedBytes / 4) {
      this.skipped++;
      this.watchBacklog();
      return;
    }
    this.owe(line);
  }

  // ---- reading ----

  private take(data: Buffer): void {
    if (this.stopped || this.closed) return;
    let start = 0;
    for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a, start)) {
      const piece = data.subarray(start, nl);
      start = nl + 1;
      if (this.discarding) {
        this.discarding = false;
        continue;
      }
      const bytes = this.partialBytes + piece.length; // the limit is in bytes, not UTF-16 characters
      const line = (this.partialBytes > 0 ? Buffer.concat([...this.partial, piece]) : piece).toString('utf8');
      this.partial = [];
      this.partialBytes = 0;
      if (bytes > this.limits.maxLineBytes) this.enqueue(TOO_LONG, 0);
      else if (line.trim() !== '') this.enqueue(line, bytes);
    }
    if (start < data.length && !this.discarding) {
      this.partial.push(data.subarray(start));
      this.partialBytes += data.length - start;
      if (this.partialBytes > this.limits.maxLineBytes) {
        this.partial = [];
        this.partialBytes = 0;
        this.discarding = true;
        this.enqueue(TOO_LONG, 0);
      }
    }
    this.updateReading();
    if (this.canRun()) this.turns.runNow(this);
  }

  private enqueue(line: string | typeof TOO_LONG, bytes: number): void {
    this.queue.push({ line, bytes });
    this.queuedBytes += bytes;
  }

  private dropQueue(): void {
    this.queue.length = 0;
    this.queuedBytes = 0;
  }

  /** Reads while the queue and what is owed are under their bounds; pauses the socket otherwise. */
  private updateReading(): void {
    const read = !this.stopped && !this.closed && this.queuedBytes < this.limits.readAheadBytes && this.unsent() < this.limits.replyHighWater;
    if (read && this.paused) {
      this.paused = false;
      this.socket.resume();
    } else if (!read && !this.paused && !this.closed) {
      this.paused = true;
      this.socket.pause();
    }
  }

  // ---- running ----

  private canRun(): boolean {
    return (
      this.queue.length > 0 &&
      !this.stopped &&
      !this.closed &&
      this.slots.length < this.limits.maxInFlight &&
      this.unsent() < this.limits.replyHighWater
    );
  }

  runTurn(): boolean {
    const started = performance.now();
    for (let n = 0; n < this.limits.linesPerTurn && this.canRun(); n++) {
      this.runNext();
      if (performance.now() - started >= this.limits.turnSliceMs) break;
    }
    this.updateReading();
    return this.canRun();
  }

  private runNext(): void {
    const { line, bytes } = this.queue.shift()!;
    this.queuedBytes -= bytes;
    const slot: Slot = { done: false, answer: undefined };
    this.slots.push(slot);
    if (line === TOO_LONG) {
      slot.done = true;
      slot.answer = tooLong(this.limits.maxLineBytes);
      this.collect();
      return;
    }
    void this.run(line).then((answer) => {
      slot.done = true;
      slot.answer = answer;
      this.collect();
    });
  }

  /** Moves the answers at the head, in request order, to what is owed. */
  private collect(): void {
    let freed = false;
    while (this.slots.length > 0 && this.slots[0]!.done) {
      const { answer } = this.slots.shift()!;
      freed = true;
      if (answer && !this.closed) this.owe(JSON.stringify(answer));
    }
    if (!freed) return;
    if (this.canRun()) this.turns.ready(this);
    this.settle();
  }

  // ---- writing ----

  /** What is owed and not yet taken by the client: in the socket's buffer, or waiting for this turn's write. */
  private unsent(): number {
    return this.socket.writableLength + this.outBytes;
  }

  private owe(line: string): void {
    // Skipped output is announced before the next line that does go out, so a reader learns of
    // the gap in order (before a run:finished, say).
    if (this.skipped > 0) this.out.push(this.skippedNotice());
    this.out.push(line);
    this.outBytes += line.length + 1;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // After the microtasks of this turn: every reply that one fsync (or one handler) settled
      // goes out in the same write.
      process.nextTick(this.flushNow);
    }
  }

  private readonly flushNow = () => this.flush();

  private flush(): void {
    this.flushScheduled = false;
    if (this.out.length === 0) return;
    const text = this.out.length === 1 ? `${this.out[0]}\n` : `${this.out.join('\n')}\n`;
    this.out = [];
    this.outBytes = 0;
    if (this.closed) return;
    if (this.socket.writableLength > this.limits.maxBufferedBytes) return this.dropSlowConsumer();
    this.socket.write(text);
    if (this.socket.writableLength > this.limits.maxBufferedBytes / 4) this.watchBacklog();
    this.updateReading();
    this.settle();
  }

  private drained(): void {
    clearTimeout(this.backlogTimer);
    this.backlogTimer = undefined;
    // Caught up: say what was skipped now, not at a next write that may never come.
    if (this.skipped > 0 && !this.closed) this.owe(this.skippedNotice());
    this.updateReading();
    if (this.canRun()) this.turns.ready(this);
  }

  private skippedNotice(): string {
    const notice: EventLine = { event: 'events:dropped', data: { count: this.skipped, reason: 'output_backlog' }, ts: new Date().toISOString() };
    this.skipped = 0;
    return JSON.stringify(notice);
  }

  private watchBacklog(): void {
    if (this.backlogTimer) return;
    this.backlogTimer = setTimeout(() => this.dropSlowConsumer(), BACKLOG_GRACE_MS);
    this.backlogTimer.unref();
  }

  private dropSlowConsumer(): void {
    this.log.warn('dropping a connection that does not read what it is sent (slow consumer)');
    this.socket.destroy();
  }

  // ---- the end ----

  private idle(): boolean {
    return this.slots.length === 0 && this.out.length === 0;
  }

  /** Tells whoever waits for this connection to be idle. */
  private settle(): void {
    if (this.idle()) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private gone(): void {
    this.closed = true;
    clearTimeout(this.backlogTimer);
    // Lines read but not run are dropped: never acknowledged, never half-applied. Those running
    // finish (each is one atomic change in the store); their replies have nowhere to go.
    this.dropQueue();
    this.out = [];
    this.outBytes = 0;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}

function tooLong(max: number): Reply {
  return { status: 'error', code: ErrorCode.InvalidArgument, message: `message too long: a line may be at most ${max} bytes` };
}
