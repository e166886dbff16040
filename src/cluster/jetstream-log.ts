// The durability log of a cluster: a JetStream stream (file storage, replicated on a quorum of
// NATS servers) holding the records of every committed transaction, in order, plus a snapshot in
// the object store (snapshots.ts). Only the leader appends, and each append says which stream
// sequence it expects to follow (`Nats-Expected-Last-Sequence`): a coordinator that lost
// leadership and did not notice finds its append refused, so two coordinators can never both
// extend the log. That is the fencing; leadership itself (leadership.ts) only decides who tries.
//
// JetStream checks a sequence number, not what is there. Each message therefore also names the
// message it was built on (PREV_HEADER): a coordinator following the log stops at a message that
// does not follow the one it read before (it loads the state again), and one loading the log skips
// it, as every reader does. NATS can lose a message it acknowledged (nats-server 2.9 buffers writes
// in the process for a few milliseconds, so a SIGKILLed server forgets them, and if it restarts
// before the others elect a leader it can help elect one that never had them): a coordinator that
// finds the stream shorter than what it read puts the missing messages back from the ones it keeps
// (RecentMessages) before anyone builds on the shorter stream.
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { DurabilityLog, LoadResult, LogEntry } from '../core/durability';
import { ErrorCode, HarnessError } from '../core/errors';
import type { JournalRecord } from '../core/journal';
import { readSnapshot } from '../core/snapshot-jobs';
import type { Change } from '../core/store';
import { ID_HEADER, LOG_HEADERS, NODE_HEADER, packEntries, PREV_HEADER, RecentMessages, RecordReader, type KeptMessage } from './log-messages';
import type { ClusterNames } from './names';
import { describeNatsError } from './connection';
import { nats } from './nats-loader';
import type { SnapshotStore } from './snapshots';

export interface JetStreamLogOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: ClusterNames;
  /** This coordinator's id, written on each message for people reading the stream. */
  node: string;
  snapshots: SnapshotStore;
  /** Payload bytes per message at most: the server's max_payload, less room for headers. */
  maxMessageBytes: number;
  /** How long a publish waits for JetStream's acknowledgement. */
  publishTimeoutMs: number;
  /** Bytes of the last messages kept to put back what the stream loses (default 32 MB). */
  keepBytes?: number;
  /** Whether this coordinator's leadership lease is valid right now (checked around each append). */
  mayWrite(): boolean;
  /** Told when an append failed: the log refuses further appends until `startWriting` again. */
  onWriteFailure(kind: 'fenced' | 'unknown', error: HarnessError): void;
  log(level: 'info' | 'warn' | 'error', message: string): void;
}

/** A standby following the stream; `stop` resolves once no record is being applied any more. */
export interface Following {
  stop(): Promise<void>;
  /** Settles when following ends: resolves after `stop`, rejects on an error (a gap, a lost stream). */
  readonly ended: Promise<void>;
}

/** A read that got no message for this long looks at the stream again. */
const READ_QUIET_MS = 2000;

export function notLeader(why: string): HarnessError {
  return new HarnessError(ErrorCode.NotLeader, `this coordinator does not lead the cluster (${why}); nothing was applied`);
}

function unavailable(why: string): HarnessError {
  return new HarnessError(
    ErrorCode.Unavailable,
    `the cluster could not confirm the change (${why}): it may or may not have been applied; look before sending it again`,
    { outcome: 'unknown' },
  );
}

/** This coordinator's copy of the log is not what the stream holds: it must load the state again. */
function diverged(why: string, details: Record<string, unknown> = {}): HarnessError {
  return new HarnessError(ErrorCode.StateCorrupt, `this coordinator's copy of the cluster log differs from the stream (${why})`, { ...details, gap: true, diverged: true });
}

function wrongLastSequence(e: unknown): boolean {
  const { JetStreamApiError, JetStreamApiCodes } = nats();
  return e instanceof JetStreamApiError && (e.code === JetStreamApiCodes.StreamWrongLastSequence || e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}

function noResponders(e: unknown): boolean {
  const { RequestError } = nats();
  const cause = (e as { cause?: unknown }).cause;
  return (e instanceof RequestError && e.isNoResponders()) || (cause instanceof RequestError && cause.isNoResponders());
}

export class JetStreamLog implements DurabilityLog {
  /** The stream sequence of the last message applied or appended: the next append expects it. */
  private streamSeq = 0;
  /** The id of the message at `streamSeq`, when known (older messages carry none). */
  private lastId: string | undefined;
  private reader: RecordReader;
  private recent: RecentMessages;
  /** Messages a load skipped because they did not follow the one before them. */
  skipped = 0;
  private writable = false;
  /** Payload bytes in the stream since the last snapshot (or since this process started). */
  bytesSinceSnapshot = 0;

  constructor(private readonly options: JetStreamLogOptions) {
    this.reader = new RecordReader(0, options.names.stream);
    this.recent = this.emptyRecent();
  }

  private emptyRecent(): RecentMessages {
    return new RecentMessages(this.options.keepBytes ?? 32 * 1024 * 1024);
  }

  /** The id of the stream's message `seq`: null when there is none, undefined when it carries none. */
  private async idAt(seq: number): Promise<string | undefined | null> {
    const there = await this.options.jsm.streams.getMessage(this.options.names.stream, { seq });
    return there ? there.header?.get(ID_HEADER) || undefined : null;
  }

  /** The stream sequence the log is at (everything up to it is in memory). */
  get position(): number {
    return this.streamSeq;
  }

  /** The number of the last record applied or appended. */
  get lastRecord(): number {
    return this.reader.last;
  }

  async load(apply: (change: Change) => void): Promise<LoadResult> {
    const started = performance.now();
    const { snapshots, names } = this.options;
    const current = await snapshots.current();
    let snapshotBytes = 0;
    let from = 0;
    if (current) {
      const image = await snapshots.read(current.pointer);
      snapshotBytes = image.length;
      const label = `${names.snapshotStore}/${current.pointer.object}`;
      const contents = await readSnapshot(Buffer.from(image.buffer, image.byteOffset, image.byteLength), label, apply);
      if (contents.seq !== current.pointer.seq) {
        throw new HarnessError(ErrorCode.StateCorrupt, `snapshot ${label} stands for record ${contents.seq}, its pointer says ${current.pointer.seq}`);
      }
      from = contents.seq;
    }
    this.reader = new RecordReader(from, names.stream);
    this.lastId = undefined;
    this.recent = this.emptyRecent();
    let records = 0;
    const info = await this.options.jsm.streams.info(names.stream);
    // An empty stream says first 0 when new, last + 1 when trimmed to nothing.
    this.streamSeq = info.state.messages === 0 ? info.state.last_seq : info.state.first_seq - 1;
    await this.readTo(
      info.state.last_seq,
      (record) => {
        records++;
        for (const change of record.c) apply(change);
      },
      'load',
    );
    return {
      seq: this.reader.last,
      stats: { snapshot_bytes: snapshotBytes, journal_records: records, torn_bytes_dropped: 0, open_ms: performance.now() - started },
    };
  }

  /** Lets appends through (the node has caught up and holds the leadership). */
  startWriting(): void {
    this.writable = true;
  }

  stopWriting(): void {
    this.writable = false;
  }

  async append(entries: readonly LogEntry[]): Promise<void> {
    const { js, names, node, publishTimeoutMs, mayWrite } = this.options;
    if (!this.writable) throw notLeader('it is following the log');
    if (!mayWrite()) {
      // Checked before anything is sent: a leader that was paused past its lease writes nothing.
      throw this.failed('fenced', notLeader('its leadership lease ran out'));
    }
    const base = this.streamSeq;
    let prev = this.lastId;
    const messages = packEntries(entries, this.options.maxMessageBytes).map((m, i): KeptMessage => {
      const id = nats().nuid.next();
      const headers: Record<string, string> = { ...m.headers, [NODE_HEADER]: node, [ID_HEADER]: id, ...(prev === undefined ? {} : { [PREV_HEADER]: prev }) };
      prev = id;
      return { seq: base + i + 1, data: m.data, headers };
    });
    const results = await Promise.allSettled(messages.map((m) => this.publish(m, publishTimeoutMs)));
    let stored = 0;
    while (stored < results.length) {
      const r = results[stored]!;
      if (r.status !== 'fulfilled' || r.value.seq !== base + stored + 1) break;
      stored++;
    }
    if (stored === messages.length) {
      if (!mayWrite()) {
        // In the log and valid (nobody else wrote in between), but the lease ran out while it was
        // being written: a leader that was paused must not answer for it. The new leader has it;
        // so does this node once it reads on from its position, which therefore stays where it was
        // (the store undoes what it is not told is durable).
        throw this.failed('unknown', unavailable('this coordinator lost its leadership lease while the change was being written'));
      }
      this.streamSeq = base + stored;
      this.lastId = messages[messages.length - 1]!.headers[ID_HEADER];
      this.reader.last = entries[entries.length - 1]!.seq;
      for (const m of messages) {
        this.bytesSinceSnapshot += m.data.length;
        this.recent.add(m);
      }
      return;
    }
    const first = results[stored]!;
    const error = first.status === 'rejected' ? first.reason : new Error(`JetStream stored message ${stored + 1} at an unexpected sequence`);
    if (stored === 0 && wrongLastSequence(error)) {
      // Either another coordinator wrote, or the stream lost messages this leader had written
      // (then they go back before anything else: nobody may build on the shorter stream).
      const restored = await this.restoreLost().catch((e: unknown) => {
        this.options.log('error', describeNatsError(e));
        return 0;
      });
      const why = restored > 0 ? 'the log stream had lost messages it acknowledged; they were put back' : 'another coordinator wrote to the log: leadership moved';
      throw this.failed('fenced', notLeader(why));
    }
    if (stored === 0 && noResponders(error)) {
      throw this.failed('fenced', notLeader('the log stream has no leader among the NATS servers right now'));
    }
    throw this.failed('unknown', unavailable(`the log stream did not confirm the write: ${describeNatsError(error)}`));
  }

  private failed(kind: 'fenced' | 'unknown', error: HarnessError): HarnessError {
    this.writable = false;
    this.options.onWriteFailure(kind, error);
    return error;
  }

  /** Applies every record up to the end of the stream, as it is now. */
  async catchUp(onRecord: (record: JournalRecord) => void): Promise<void> {
    const state = await this.reconcile();
    await this.readTo(state.last_seq, onRecord, 'follow');
  }

  private publish(m: KeptMessage, timeout: number) {
    const h = nats().headers();
    for (const [k, v] of Object.entries(m.headers)) h.set(k, v);
    return this.options.js.publish(this.options.names.logSubject, m.data, { expect: { lastSequence: m.seq - 1 }, headers: h, timeout });
  }

  /**
   * Where this node reads or writes next is where the stream is: messages the stream lost are put
   * back, and the message at this node's position must be the one it read there.
   */
  private async reconcile(): Promise<{ first_seq: number; last_seq: number }> {
    let state = await this.streamState();
    if (state.last_seq < this.streamSeq) {
      await this.restoreLost();
      state = await this.streamState();
    }
    if (this.lastId !== undefined && this.streamSeq >= state.first_seq && this.streamSeq > 0) {
      const id = await this.idAt(this.streamSeq);
      if (id !== null && id !== this.lastId) {
        throw diverged(`message ${this.streamSeq} is ${id ?? 'one without an id'}, this coordinator read ${this.lastId} there`, { position: this.streamSeq });
      }
    }
    return state;
  }

  /**
   * Puts back the messages after the stream's end up to this node's position, when the stream is
   * shorter than what this node read or wrote (NATS lost acknowledged messages), from the copies
   * it keeps, under their own numbers and ids. Returns how many it put back; throws (diverged) when
   * it holds no copy of one or another writer got there first.
   */
  async restoreLost(): Promise<number> {
    const { jsm, names, publishTimeoutMs } = this.options;
    const { state } = await jsm.streams.info(names.stream);
    if (state.last_seq >= this.streamSeq) return 0;
    const [from, to] = [state.last_seq + 1, this.streamSeq];
    const lost = `the log stream ends at message ${state.last_seq}, this coordinator had read or written up to ${to}`;
    const before = this.recent.get(state.last_seq);
    if (before && state.messages > 0) {
      const id = await this.idAt(state.last_seq);
      if (id !== null && id !== before.headers[ID_HEADER]) throw diverged(`${lost}, and its message ${state.last_seq} is another one`);
    }
    for (let seq = from; seq <= to; seq++) {
      const m = this.recent.get(seq);
      if (!m) throw diverged(`${lost}; message ${seq} is no longer kept here to put it back`, { lost: [from, to] });
      try {
        const ack = await this.publish(m, publishTimeoutMs);
        if (ack.seq !== seq) throw new Error(`stored at ${ack.seq}`);
      } catch (e) {
        throw diverged(`${lost}; putting back message ${seq} failed: ${describeNatsError(e)}`, { lost: [from, to] });
      }
    }
    this.options.log('warn', `${lost}: NATS lost messages it had acknowledged (a NATS server failure); this coordinator put back messages ${from}-${to}`);
    return to - from + 1;
  }

  /**
   * The stream's state, refusing one trimmed past this log's position: the messages this node has
   * not read are gone (a snapshot stands for them), so it must load the state again. Checked up
   * front because a stream trimmed to nothing would otherwise just never deliver the next message.
   */
  private async streamState(): Promise<{ first_seq: number; last_seq: number }> {
    const { state } = await this.options.jsm.streams.info(this.options.names.stream);
    if (state.first_seq > this.streamSeq + 1 && state.last_seq > this.streamSeq) {
      throw new HarnessError(
        ErrorCode.StateCorrupt,
        `the cluster log ${this.options.names.stream} was trimmed past message ${this.streamSeq} (it starts at ${state.first_seq}): a snapshot stands for what this coordinator has not read`,
        { gap: true, position: this.streamSeq, first: state.first_seq },
      );
    }
    return state;
  }

  /**
   * Reads the stream up to message `until` (or further). When nothing arrives for a while, the
   * stream is looked at again: trimmed past this node (a gap: thrown), or ending before `until`
   * after all (the read is done), rather than waiting for messages that will never come.
   */
  private async readTo(until: number, onRecord: (record: JournalRecord) => void, mode: 'load' | 'follow'): Promise<void> {
    if (until <= this.streamSeq) return;
    const messages = await this.consume(this.streamSeq + 1);
    let trouble: unknown;
    let quietSince = Date.now();
    let looking = false;
    const watch = setInterval(() => {
      if (looking || Date.now() - quietSince < READ_QUIET_MS) return;
      looking = true;
      this.streamState()
        .then(
          (state) => state.last_seq <= this.streamSeq && messages.stop(),
          (e: unknown) => {
            trouble = e;
            messages.stop();
          },
        )
        .finally(() => {
          looking = false;
          quietSince = Date.now();
        });
    }, READ_QUIET_MS / 4);
    try {
      for await (const m of messages) {
        quietSince = Date.now();
        this.take(m, onRecord, mode);
        if (m.seq >= until) break;
      }
    } finally {
      clearInterval(watch);
      messages.stop();
    }
    if (trouble !== undefined) throw trouble;
  }

  /** Follows the stream from where the log is, applying each record as it arrives. */
  follow(onRecord: (record: JournalRecord) => void): Following {
    let stopped = false;
    let messages: Awaited<ReturnType<JetStreamLog['consume']>> | undefined;
    const ended = (async () => {
      await this.reconcile();
      messages = await this.consume(this.streamSeq + 1);
      if (stopped) return messages.stop();
      for await (const m of messages) this.take(m, onRecord, 'follow');
    })();
    ended.catch(() => {}); // the node awaits it
    return {
      ended,
      stop: async () => {
        stopped = true;
        messages?.stop();
        await ended.catch(() => {});
      },
    };
  }

  private async consume(from: number) {
    const { js, names } = this.options;
    const consumer = await js.consumers.get(names.stream, {
      deliver_policy: nats().DeliverPolicy.StartSequence,
      opt_start_seq: from,
      filter_subjects: names.logSubject,
    });
    return consumer.consume({ max_messages: 256 });
  }

  /**
   * One message of the stream, in order: its complete records go to `onRecord`. A message that
   * does not follow the one read before it: following, this node's copy is not the stream's (it
   * loads again); loading, JetStream should have refused it, and it is skipped, as by every reader.
   */
  private take(m: JsMsg, onRecord: (record: JournalRecord) => void, mode: 'load' | 'follow'): void {
    if (m.seq <= this.streamSeq) return; // delivered again after a reconnect
    if (m.seq !== this.streamSeq + 1) {
      // Messages this node has not read are gone: trimmed (a snapshot stands for them).
      throw new HarnessError(
        ErrorCode.StateCorrupt,
        `the cluster log ${this.options.names.stream} was trimmed past message ${this.streamSeq} (the next one there is ${m.seq}): a snapshot stands for what this coordinator has not read`,
        { gap: true, position: this.streamSeq, first: m.seq },
      );
    }
    const header = (name: string) => m.headers?.get(name) || undefined;
    const prev = header(PREV_HEADER);
    if (prev !== undefined && this.lastId !== undefined && prev !== this.lastId) {
      const why = `message ${m.seq} was built on ${prev}, not on message ${this.streamSeq} (${this.lastId})`;
      if (mode === 'follow') throw diverged(why, { position: this.streamSeq });
      this.options.log('warn', `the cluster log ${this.options.names.stream}: skipped ${why}`);
      this.skipped++;
      this.streamSeq = m.seq;
      return;
    }
    const records = this.reader.read({ seq: m.seq, data: m.data, header });
    this.streamSeq = m.seq;
    this.lastId = header(ID_HEADER);
    const headers: Record<string, string> = {};
    for (const name of LOG_HEADERS) {
      const value = header(name);
      if (value !== undefined) headers[name] = value;
    }
    this.recent.add({ seq: m.seq, data: m.data, headers });
    this.bytesSinceSnapshot += m.data.length;
    for (const record of records) onRecord(record);
  }

  /** Removes every message up to and including stream sequence `upTo` (a snapshot stands for them). */
  async trim(upTo: number): Promise<void> {
    await this.options.jsm.streams.purge(this.options.names.stream, { seq: upTo + 1 });
  }

  settled(): Promise<void> {
    return Promise.resolve();
  }

  async close(): Promise<void> {
    this.writable = false;
  }
}
