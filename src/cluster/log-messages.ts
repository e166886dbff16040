// How records (journal.ts: one committed transaction each) travel as messages of the log stream.
// A group commit is one message when it fits: its records' JSON, one per line, so a stream
// message and a record are not the same unit. A record too large for one message (a big plan
// import) goes in parts: consecutive messages, each saying which part of which record it is.
// The reader puts parts back together; a record whose parts stop before the last one was torn
// by a coordinator that died mid-append (it was never acknowledged) and is dropped when the next
// record starts.
import type { LogEntry } from '../core/durability';
import { ErrorCode, HarnessError } from '../core/errors';
import { JOURNAL_FORMAT, type JournalRecord } from '../core/journal';

/** Header naming the records a message holds: `first-last`. */
export const RECORDS_HEADER = 'Harness-Records';
/** Header of a part of one record: `index/count`, 1-based. */
export const PART_HEADER = 'Harness-Part';
/** Header naming the coordinator that wrote a message (for people reading the stream). */
export const NODE_HEADER = 'Harness-Node';
/** Header with a message's own id (unique; a message put back after a loss keeps it). */
export const ID_HEADER = 'Harness-Id';
/**
 * Header with the id of the message the writer built on: the one at the sequence its append
 * expected. Readers check that each message follows the one before it, so a log that JetStream
 * let diverge (a lost message whose number another writer reused) is noticed, not built on.
 */
export const PREV_HEADER = 'Harness-Prev';

/** The headers a log message may carry, all of which a copy put back must carry again. */
export const LOG_HEADERS = [RECORDS_HEADER, PART_HEADER, NODE_HEADER, ID_HEADER, PREV_HEADER] as const;

/** A message of the log as stored: what it takes to put it back if the stream loses it. */
export interface KeptMessage {
  seq: number;
  data: Uint8Array;
  headers: Record<string, string>;
}

/**
 * The last messages a coordinator appended or read, up to a number of bytes. If the stream comes
 * back from a NATS server failure without messages this coordinator had (NATS acknowledged them,
 * then lost them), they are put back from here, the same bytes under the same numbers.
 */
export class RecentMessages {
  private readonly kept = new Map<number, KeptMessage>();
  private bytes = 0;

  constructor(private readonly limitBytes: number) {}

  add(message: KeptMessage): void {
    const old = this.kept.get(message.seq);
    if (old) this.bytes -= old.data.length;
    this.kept.set(message.seq, message);
    this.bytes += message.data.length;
    for (const [seq, m] of this.kept) {
      if (this.bytes <= this.limitBytes || seq === message.seq) break;
      this.kept.delete(seq);
      this.bytes -= m.data.length;
    }
  }

  get(seq: number): KeptMessage | undefined {
    return this.kept.get(seq);
  }
}

export interface OutMessage {
  data: Uint8Array;
  headers: Record<string, string>;
  /** The records it holds (a part holds a piece of `first`, which equals `last`). */
  first: number;
  last: number;
}

/** Packs entries into messages of at most `limit` bytes of payload, in order. */
export function packEntries(entries: readonly LogEntry[], limit: number): OutMessage[] {
  const out: OutMessage[] = [];
  let batch: Buffer[] = [];
  let bytes = 0;
  let first = 0;
  let last = 0;
  const flush = () => {
    if (batch.length === 0) return;
    out.push({ data: Buffer.concat(batch), headers: { [RECORDS_HEADER]: `${first}-${last}` }, first, last });
    batch = [];
    bytes = 0;
  };
  for (const entry of entries) {
    const json = Buffer.from(entry.json, 'utf8');
    if (json.length > limit) {
      flush();
      const count = Math.ceil(json.length / limit);
      for (let i = 0; i < count; i++) {
        out.push({
          data: json.subarray(i * limit, (i + 1) * limit),
          headers: { [RECORDS_HEADER]: `${entry.seq}-${entry.seq}`, [PART_HEADER]: `${i + 1}/${count}` },
          first: entry.seq,
          last: entry.seq,
        });
      }
      continue;
    }
    if (bytes + json.length + 1 > limit) flush();
    if (batch.length === 0) first = entry.seq;
    if (batch.length > 0) batch.push(NEWLINE);
    batch.push(json);
    bytes += json.length + (batch.length > 1 ? 1 : 0);
    last = entry.seq;
  }
  flush();
  return out;
}

const NEWLINE = Buffer.from('\n');

function damaged(where: string, why: string): HarnessError {
  return new HarnessError(ErrorCode.StateCorrupt, `the cluster log ${where} cannot be read: ${why}`, { where });
}

/** Parses one record's JSON as written by recordJson, refusing a newer format than this program reads. */
export function parseRecord(json: string, where: string): JournalRecord {
  let record: JournalRecord;
  try {
    record = JSON.parse(json) as JournalRecord;
  } catch (e) {
    throw damaged(where, `a record is not valid JSON (${(e as Error).message})`);
  }
  if (!record || typeof record.s !== 'number' || !Array.isArray(record.c) || (record.v !== undefined && !Number.isInteger(record.v))) {
    throw damaged(where, 'a record is malformed');
  }
  if ((record.v ?? 0) > JOURNAL_FORMAT) {
    throw new HarnessError(
      ErrorCode.StateCorrupt,
      `the cluster log ${where} holds record ${record.s} of format ${record.v}, newer than this program reads (${JOURNAL_FORMAT}): ` +
        'a newer Agent Harness wrote it; upgrade this coordinator',
      { where, format: record.v },
    );
  }
  return record;
}

/** A message as the reader sees it. */
export interface InMessage {
  /** Its sequence number in the stream. */
  seq: number;
  data: Uint8Array;
  header(name: string): string | undefined;
}

/**
 * Turns stream messages back into records, in order. Records are checked to follow each other
 * without a gap: `next` is the number the next record must carry; records at or below the last
 * one taken (already in a snapshot) are skipped.
 */
export class RecordReader {
  private parts: { record: number; count: number; pieces: Uint8Array[]; from: number } | undefined;
  /** Records dropped because they were torn (never finished by the coordinator that wrote them). */
  torn = 0;

  constructor(
    /** The number of the last record already applied. */
    public last: number,
    private readonly where: string,
  ) {}

  /** The complete records `message` finishes, after the last one applied, in order. */
  read(message: InMessage): JournalRecord[] {
    const part = message.header(PART_HEADER);
    if (part === undefined) {
      this.dropTorn();
      const text = Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength).toString('utf8');
      return this.take(text.split('\n').map((line) => parseRecord(line, `${this.where} message ${message.seq}`)), message.seq);
    }
    const m = /^(\d+)\/(\d+)$/.exec(part);
    const range = /^(\d+)-\1$/.exec(message.header(RECORDS_HEADER) ?? '');
    if (!m || !range) throw damaged(`${this.where} message ${message.seq}`, `bad part headers (${PART_HEADER}: ${part})`);
    const [index, count, record] = [Number(m[1]), Number(m[2]), Number(range[1])];
    if (index === 1) {
      this.dropTorn();
      this.parts = { record, count, pieces: [], from: message.seq };
    } else if (!this.parts || this.parts.record !== record || this.parts.count !== count || this.parts.pieces.length !== index - 1) {
      // The rest of a record whose beginning is not here: torn, or written before a snapshot.
      this.dropTorn();
      this.torn++;
      return [];
    }
    this.parts.pieces.push(message.data);
    if (this.parts.pieces.length < count) return [];
    const json = Buffer.concat(this.parts.pieces).toString('utf8');
    this.parts = undefined;
    return this.take([parseRecord(json, `${this.where} message ${message.seq}`)], message.seq);
  }

  /** Whether a record is half read (its remaining parts may still come). */
  get pending(): boolean {
    return this.parts !== undefined;
  }

  private dropTorn(): void {
    if (this.parts) this.torn++;
    this.parts = undefined;
  }

  private take(records: JournalRecord[], streamSeq: number): JournalRecord[] {
    const out: JournalRecord[] = [];
    for (const record of records) {
      if (record.s <= this.last) continue;
      if (record.s !== this.last + 1) {
        throw new HarnessError(
          ErrorCode.StateCorrupt,
          `the cluster log ${this.where} skips from record ${this.last} to ${record.s} at message ${streamSeq}`,
          { where: this.where, expected: this.last + 1, found: record.s, gap: true },
        );
      }
      this.last = record.s;
      out.push(record);
    }
    return out;
  }
}
