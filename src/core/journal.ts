import { crc32 } from 'node:zlib';
import { ErrorCode, HarnessError } from './errors';
import type { Change } from './store';

/**
 * The record format this program writes. Version 0 (no `v` field) is what the first releases
 * wrote: the same changes, read the same way. A record of a newer version is refused, never
 * guessed at: a newer program may have changed what a change means.
 */
export const JOURNAL_FORMAT = 1;

/**
 * One committed transaction: the format, its sequence number and its changes. The same record is
 * the unit of every durability log (a line in the file journal, a message in a replicated log).
 */
export interface JournalRecord {
  v?: number;
  s: number;
  c: Change[];
}

/** The JSON of a record as this program writes it. */
export function recordJson(s: number, changes: readonly Change[]): string {
  return JSON.stringify({ v: JOURNAL_FORMAT, s, c: changes });
}

/**
 * A record is one line: 8 hex digits of CRC-32 over the JSON, a space, the JSON, `\n`. JSON never
 * contains a raw newline, so lines are records; the checksum tells a torn or damaged line.
 */
export function frameRecord(json: string): string {
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
}

export function encodeRecord(record: JournalRecord): string {
  return frameRecord(JSON.stringify(record));
}

export interface DecodedJournal {
  records: JournalRecord[];
  /** Bytes of intact records from the start; anything after is a torn tail to cut off. */
  goodLength: number;
  tornBytes: number;
}

/**
 * Reads a journal. Damage at the very end is what a crash mid-write leaves: one damaged or
 * unfinished last record, which is dropped. Damage followed by more records is not a crash; it is
 * an error, and the file is left alone.
 */
export function decodeJournal(data: Buffer, file: string): DecodedJournal {
  const records: JournalRecord[] = [];
  let offset = 0;
  let goodLength = 0;
  let firstBad: { line: number; reason: string } | undefined;
  let line = 0;
  while (offset < data.length) {
    line++;
    const end = data.indexOf(0x0a, offset);
    const next = end === -1 ? data.length : end + 1;
    const reason = end === -1 ? 'incomplete record' : undefined;
    const parsed = reason ? { reason } : parseLine(data.subarray(offset, end));
    // A crash tears the last record; after a damaged record only an unfinished fragment (no
    // newline) may follow. More whole records after it, intact or not, are not a crash.
    if (firstBad && end !== -1) {
      throw new HarnessError(
        ErrorCode.StateCorrupt,
        `journal ${file} is damaged at record ${firstBad.line} (${firstBad.reason}) and has ` +
          `${'record' in parsed ? 'intact' : 'more damaged'} records after it; the files were left as they are for inspection`,
        { file, line: firstBad.line },
      );
    }
    if ('record' in parsed) {
      const version = parsed.record.v ?? 0;
      if (version > JOURNAL_FORMAT) {
        throw new HarnessError(
          ErrorCode.StateCorrupt,
          `journal ${file} record ${line} has format ${version}, newer than this program reads (${JOURNAL_FORMAT}): ` +
            'it was written by a newer Agent Harness; the files were left as they are',
          { file, line, format: version },
        );
      }
      records.push(parsed.record);
      goodLength = next;
    } else if (!firstBad) {
      firstBad = { line, reason: parsed.reason };
    }
    offset = next;
  }
  return { records, goodLength, tornBytes: data.length - goodLength };
}

function parseLine(bytes: Buffer): { record: JournalRecord } | { reason: string } {
  const text = bytes.toString('utf8');
  if (text.length < 10 || text[8] !== ' ') return { reason: 'malformed record' };
  const json = text.slice(9);
  if (crc32(json).toString(16).padStart(8, '0') !== text.slice(0, 8)) return { reason: 'checksum mismatch' };
  try {
    const record = JSON.parse(json) as JournalRecord;
    if (typeof record.s !== 'number' || !Array.isArray(record.c) || (record.v !== undefined && !Number.isInteger(record.v))) {
      return { reason: 'malformed record' };
    }
    return { record };
  } catch {
    return { reason: 'malformed JSON' };
  }
}
