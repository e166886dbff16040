// The durability log of a cluster: a JetStream stream (file storage, replicated on a quorum of
// NATS servers) holding the records of every committed transaction, in order, plus a snapshot in
// the object store (snapshots.ts). Only the leader appends, and each append says which stream
// sequence it expects to follow (`Nats-Expected-Last-Sequence`): a coordinator that lost
// leadership and did not notice finds its append refused, so two coordinators can never both
// extend the log. That is the fencing; leadership itself (leadership.ts) only decides who tries.
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { DurabilityLog, LoadResult, LogEntry } from '../core/durability';
import { ErrorCode, HarnessError } from '../core/errors';
import type { JournalRecord } from '../core/journal';
import { readSnapshot } from '../core/snapshot-jobs';
import type { Change } from '../core/store';
import { NODE_HEADER, packEntries, RecordReader } from './log-messages';
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
  private reader: RecordReader;
  private writable = false;
  /** Payload bytes in the stream since the last snapshot (or since this process started). */
  bytesSinceSnapshot = 0;

  constructor(private readonly options: JetStreamLogOptions) {
    this.reader = new RecordReader(0, options.names.stream);
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
    let records = 0;
    const info = await this.options.jsm.streams.info(names.stream);
    // An empty stream says first 0 when new, last + 1 when trimmed to nothing.
    this.streamSeq = info.state.messages === 0 ? info.state.last_seq : info.state.first_seq - 1;
    await this.readTo(info.state.last_seq, (record) => {
      records++;
      for (const change of record.c) apply(change);
    });
    this.streamSeq = Math.max(this.streamSeq, info.state.last_seq);
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
    const messages = packEntries(entries, this.options.maxMessageBytes);
    const base = this.streamSeq;
    const results = await Promise.allSettled(
      messages.map((m, i) => {
        const h = nats().headers();
        for (const [k, v] of Object.entries(m.headers)) h.set(k, v);
        h.set(NODE_HEADER, node);
        return js.publish(names.logSubject, m.data, { expect: { lastSequence: base + i }, headers: h, timeout: publishTimeoutMs });
      }),
    );
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
      this.reader.last = entries[entries.length - 1]!.seq;
      for (const m of messages) this.bytesSinceSnapshot += m.data.length;
      return;
    }
    const first = results[stored]!;
    const error = first.status === 'rejected' ? first.reason : new Error(`JetStream stored message ${stored + 1} at an unexpected sequence`);
    if (stored === 0 && wrongLastSequence(error)) {
      throw this.failed('fenced', notLeader('another coordinator wrote to the log: leadership moved'));
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
    const state = await this.streamState();
    await this.readTo(state.last_seq, onRecord);
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

  private async readTo(until: number, onRecord: (record: JournalRecord) => void): Promise<void> {
    if (until <= this.streamSeq) return;
    const messages = await this.consume(this.streamSeq + 1);
    try {
      for await (const m of messages) {
        this.take(m, onRecord);
        if (m.seq >= until) break;
      }
    } finally {
      messages.stop();
    }
  }

  /** Follows the stream from where the log is, applying each record as it arrives. */
  follow(onRecord: (record: JournalRecord) => void): Following {
    let stopped = false;
    let messages: Awaited<ReturnType<JetStreamLog['consume']>> | undefined;
    const ended = (async () => {
      await this.streamState();
      messages = await this.consume(this.streamSeq + 1);
      if (stopped) return messages.stop();
      for await (const m of messages) this.take(m, onRecord);
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

  /** One message of the stream, in order: its complete records go to `onRecord`. */
  private take(m: JsMsg, onRecord: (record: JournalRecord) => void): void {
    if (m.seq <= this.streamSeq) return; // delivered again after a reconnect
    const records = this.reader.read({ seq: m.seq, data: m.data, header: (name) => m.headers?.get(name) || undefined });
    this.streamSeq = m.seq;
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
