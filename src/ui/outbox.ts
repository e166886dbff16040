/**
 * What the task graph panel sends its webview, and when: the host side of the panel without
 * `vscode`, so plain-Node tests drive it with a fake API and fake timers.
 *
 * - Nothing is posted before the webview said `ready`, nor while the panel is hidden (a hidden
 *   webview without retained context drops messages). State is not queued but marked dirty and
 *   fetched fresh when posting is possible again; output is queued, bounded, and past the bound
 *   replaced by a refetch of the run's whole log.
 * - A second `ready` (the webview reloaded) replays everything: fresh state, the selected run's log.
 * - Coordinator events become one state refresh per burst (and per webview answer, below); `run:output` of the selected run is
 *   posted in batches every `outputFlushMs`, each at most `maxBatchChunks` / `maxBatchChars`.
 * - Flow control: the webview answers each state with `rendered`; the next state goes only then
 *   (or after `renderTimeoutMs`, for a webview that never answers), so a busy webview gets the
 *   newest state once instead of a queue of stale ones.
 */
import { affectsAny, type View } from '../protocol/events';
import type { Logger } from '../protocol/log';
import type { EventLine } from '../protocol/messages';
import { headOf } from '../protocol/output';
import {
  type HostMessage,
  MAX_BATCH_CHARS,
  MAX_BATCH_CHUNKS,
  type OutputChunk,
  type RunLogMessage,
  type StateMessage,
} from '../protocol/webview';
import { PostedText } from './posted-text';

export interface OutboxDeps {
  fetchState(): Promise<StateMessage>;
  fetchLog(runId: string): Promise<RunLogMessage>;
  post(message: HostMessage): void;
  log: Logger;
  timers?: Timers;
  /** Milliseconds on a monotonic clock, for the event-to-rendered latency. */
  now?: () => number;
}

export interface StateTimings {
  waitMs: number;
  fetchMs: number;
  tripMs: number;
  renderMs: number;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface OutboxOptions {
  stateDebounceMs: number;
  outputFlushMs: number;
  maxBatchChunks: number;
  maxBatchChars: number;
  /** Output held while the webview cannot take it; past this it is dropped for a log refetch. */
  maxQueuedChars: number;
  /** How long a sent state may go unanswered before the next one is sent anyway. */
  renderTimeoutMs: number;
}

export const DEFAULT_OUTBOX_OPTIONS: OutboxOptions = {
  // Events in one burst (one tick) are one state; later ones wait for the webview to answer the
  // state before (flow control), so no delay is needed to coalesce: the first change goes at once.
  stateDebounceMs: 0,
  outputFlushMs: 30,
  maxBatchChunks: 200,
  maxBatchChars: 256 * 1024,
  maxQueuedChars: 2 * 1024 * 1024,
  renderTimeoutMs: 2000,
};

/** What the panel shows: events that change none of it (e.g. lock renewals) do not refresh it; unknown ones do. */
const PANEL_VIEWS: readonly View[] = ['tasks', 'instances', 'runs'];

export class PanelOutbox {
  private readonly options: OutboxOptions;
  private readonly timers: Timers;
  private ready = false;
  private visible = true;
  private selected: string | null = null;
  private stateDirty = false;
  private stateTimer: unknown = null;
  private stateInFlight = false;
  private logDirty = false;
  /** The log being fetched: live chunks of its run that arrive meanwhile are in it already. */
  private logFetch: { runId: string; seq: number } | null = null;
  private seq = 0;
  private queue: OutputChunk[] = [];
  private queuedChars = 0;
  private flushTimer: unknown = null;
  private pendingError: string | null = null;
  private hostSelection: string | null | undefined;
  private disposed = false;
  private stateSeq = 0;
  /** The state sent and not yet answered with `rendered`, and when it was sent. */
  private unanswered: { seq: number; timer: unknown; eventAt: number | null; waitMs: number; fetchMs: number; sentAt: number } | null = null;
  /** When the first event not yet in a sent state arrived. */
  private eventAt: number | null = null;
  /** Milliseconds from a coordinator event to the webview having rendered a state with it. */
  lastEventToRenderedMs: number | undefined;
  /**
   * Of the last state answered, in ms: from its first event to reading it (waiting), reading it
   * (host), from posting it to the answer (the trip, the webview's work included), and the
   * webview's checking and rendering alone.
   */
  lastStateTimings: StateTimings | undefined;
  /** What was posted per run, for tests and diagnostics. */
  readonly posted = new PostedText();

  constructor(
    private readonly deps: OutboxDeps,
    options: Partial<OutboxOptions> = {},
  ) {
    this.options = { ...DEFAULT_OUTBOX_OPTIONS, ...options };
    this.options.maxBatchChunks = Math.min(this.options.maxBatchChunks, MAX_BATCH_CHUNKS);
    this.options.maxBatchChars = Math.min(this.options.maxBatchChars, MAX_BATCH_CHARS);
    this.timers = deps.timers ?? { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
  }

  get canPost(): boolean {
    return this.ready && this.visible && !this.disposed;
  }

  /** The webview has said `ready` at least once. */
  get webviewReady(): boolean {
    return this.ready;
  }

  get selectedRunId(): string | null {
    return this.selected;
  }

  /** The webview (re)loaded: everything it shows comes again, for the run it remembers. */
  onReady(selectedRunId: string | null): void {
    this.ready = true;
    this.answered(); // a reloaded webview answers nothing it was sent before
    const hostSelection = this.hostSelection;
    this.hostSelection = undefined;
    this.select(hostSelection === undefined ? selectedRunId : hostSelection);
    if (hostSelection !== undefined) this.send({ type: 'select', run_id: hostSelection });
    this.stateDirty = true;
    this.pump();
  }

  setVisible(visible: boolean): void {
    if (visible === this.visible) return;
    this.visible = visible;
    if (!visible) this.answered(); // a hidden webview is torn down: it will answer nothing
    if (visible) {
      this.stateDirty = true; // events while hidden were not fetched
      this.pump();
    }
  }

  /** The user (webview) or the host picked a run; `fromHost` also tells the webview. */
  selectRun(runId: string | null, fromHost = false): void {
    this.select(runId);
    if (fromHost && this.canPost) this.send({ type: 'select', run_id: runId });
    else if (fromHost) this.hostSelection = runId; // wins over what the reloading webview remembers
    this.pump();
  }

  /** A new API (reconnect): whatever is shown may be stale. */
  reset(): void {
    this.select(this.selected);
    this.stateDirty = true;
    this.pump();
  }

  error(message: string): void {
    this.pendingError = message.slice(0, 10_000);
    this.pump();
  }

  onEvent(line: EventLine): void {
    if (this.disposed) return;
    if (line.event === 'run:output') this.onOutput(line.data);
    else if (line.event === 'coordinator:error') this.error(`coordinator: ${String((line.data as { message?: unknown })?.message)}`);
    if (affectsAny(line.event, PANEL_VIEWS)) {
      this.eventAt ??= this.now();
      this.scheduleState();
    }
  }

  /** The webview has rendered state `seq` (in `renderMs`): the next may go. */
  onRendered(seq: number, renderMs = 0): void {
    if (this.unanswered?.seq !== seq) return;
    const { eventAt, waitMs, fetchMs, sentAt } = this.unanswered;
    const now = this.now();
    if (eventAt !== null) this.lastEventToRenderedMs = now - eventAt;
    this.lastStateTimings = { waitMs, fetchMs, tripMs: now - sentAt, renderMs };
    this.answered();
    this.pump();
  }

  /** A refresh soon, coalescing bursts (a plan import emits one event per task). */
  scheduleState(): void {
    this.stateDirty = true;
    if (this.stateTimer === null) {
      this.stateTimer = this.timers.setTimeout(() => {
        this.stateTimer = null;
        this.pump();
      }, this.options.stateDebounceMs);
    }
  }

  dispose(): void {
    this.disposed = true;
    this.answered();
    if (this.stateTimer !== null) this.timers.clearTimeout(this.stateTimer);
    if (this.flushTimer !== null) this.timers.clearTimeout(this.flushTimer);
    this.queue = [];
  }

  private answered(): void {
    if (this.unanswered) this.timers.clearTimeout(this.unanswered.timer);
    this.unanswered = null;
  }

  private now(): number {
    return (this.deps.now ?? (() => performance.now()))();
  }

  private select(runId: string | null): void {
    this.selected = runId;
    this.seq++; // a log reply for an earlier selection is dropped
    this.logFetch = null;
    this.queue = [];
    this.queuedChars = 0;
    this.logDirty = runId !== null;
  }

  private onOutput(data: unknown): void {
    const d = data as Partial<OutputChunk> | null;
    if (!d || typeof d.run_id !== 'string' || typeof d.data !== 'string' || (d.stream !== 'stdout' && d.stream !== 'stderr')) return;
    if (d.run_id !== this.selected || this.logFetch || this.logDirty) return; // the log will hold it
    this.queue.push({ run_id: d.run_id, stream: d.stream, data: d.data });
    this.queuedChars += d.data.length;
    if (this.queuedChars > this.options.maxQueuedChars) {
      this.deps.log.debug(`panel: ${this.queuedChars} chars of output queued for ${d.run_id}; refetching its log instead`);
      this.queue = [];
      this.queuedChars = 0;
      this.logDirty = true;
    }
    if (this.flushTimer === null) {
      this.flushTimer = this.timers.setTimeout(() => {
        this.flushTimer = null;
        this.pump();
      }, this.options.outputFlushMs);
    }
  }

  /** Does whatever can be done now; called after every change and by the timers. */
  private pump(): void {
    if (!this.canPost) return;
    if (this.pendingError !== null) {
      this.send({ type: 'error', message: this.pendingError });
      this.pendingError = null;
    }
    if (this.stateDirty && !this.stateInFlight && this.stateTimer === null && !this.unanswered) void this.refreshState();
    if (this.logDirty && this.selected !== null && !this.logFetch) void this.refreshLog(this.selected);
    if (this.queue.length > 0 && !this.logFetch) this.flushBatch();
  }

  private async refreshState(): Promise<void> {
    this.stateDirty = false;
    this.stateInFlight = true;
    const eventAt = this.eventAt;
    this.eventAt = null;
    try {
      const fetchStarted = this.now();
      const waitMs = eventAt === null ? 0 : fetchStarted - eventAt;
      const state = await this.deps.fetchState();
      const fetchMs = this.now() - fetchStarted;
      if (this.canPost) {
        const seq = ++this.stateSeq;
        const timer = this.timers.setTimeout(() => {
          if (this.unanswered?.seq !== seq) return;
          this.deps.log.debug(`panel: state ${seq} not rendered within ${this.options.renderTimeoutMs} ms; sending the next anyway`);
          this.unanswered = null;
          this.pump();
        }, this.options.renderTimeoutMs);
        this.unanswered = { seq, timer, eventAt, waitMs, fetchMs, sentAt: this.now() };
        this.send({ ...state, seq });
      } else {
        this.stateDirty = true;
        this.eventAt ??= eventAt;
      }
    } catch (e) {
      this.deps.log.warn(`panel: could not read the coordinator's state: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.stateInFlight = false;
    }
    if (this.stateDirty) this.scheduleState();
  }

  // Only microtasks may run between the request and posting its reply: in-process, the log is
  // read when the request is made; over the socket, events come before the reply in the order
  // the server wrote them. Either way the chunks dropped meanwhile are in the log.
  private async refreshLog(runId: string): Promise<void> {
    const fetch = { runId, seq: this.seq };
    this.logFetch = fetch;
    this.logDirty = false;
    try {
      const log = await this.deps.fetchLog(runId);
      if (this.seq !== fetch.seq) return;
      if (this.canPost) this.send(log);
      else this.logDirty = true;
    } catch (e) {
      if (this.seq !== fetch.seq) return;
      const message = e instanceof Error ? e.message : String(e);
      this.deps.log.warn(`panel: could not read the output of run ${runId}: ${message}`);
      this.send({ type: 'error', message: `Could not read the output of run ${runId}: ${message}` });
    } finally {
      if (this.logFetch === fetch) this.logFetch = null;
    }
    this.pump();
  }

  /** Posts one bounded batch; the rest goes on the next tick. Adjacent chunks of a stream merge. */
  private flushBatch(): void {
    const { maxBatchChunks, maxBatchChars } = this.options;
    const batch: OutputChunk[] = [];
    let chars = 0;
    while (this.queue.length > 0 && batch.length < maxBatchChunks && chars < maxBatchChars) {
      const head = this.queue[0]!;
      let data = head.data;
      if (chars + data.length > maxBatchChars) {
        data = headOf(data, maxBatchChars - chars); // the rest stays queued
        head.data = head.data.slice(data.length);
      } else this.queue.shift();
      const last = batch[batch.length - 1];
      if (last && last.stream === head.stream && last.run_id === head.run_id) last.data += data;
      else batch.push({ run_id: head.run_id, stream: head.stream, data });
      chars += data.length;
      if (data.length === 0) break;
    }
    this.queuedChars -= chars;
    if (batch.length > 0) this.send({ type: 'output', chunks: batch });
    if (this.queue.length > 0 && this.flushTimer === null) {
      this.flushTimer = this.timers.setTimeout(() => {
        this.flushTimer = null;
        this.pump();
      }, this.options.outputFlushMs);
    }
  }

  private send(message: HostMessage): void {
    if (!this.canPost) return;
    this.posted.record(message);
    this.deps.post(message);
  }
}

