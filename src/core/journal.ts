import { crc32 } from 'node:zlib';
import { ErrorCode, HarnessError } from './errors';
import type { Change } from './store';

/** One committed transaction: its sequence number and its changes. */
export interface JournalRecord {
  s: number;
  c: Change[];
}

/**
 * A record is one line: 8 hex digits of CRC-32 over the JSON, a space, the JSON, `\n`. JSON never
 * contains a raw newline, so lines are records; the checksum tells a torn or damaged line.
 */
export function encodeRecord(record: JournalRecord): string {
  const json = JSON.stringify(record);
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
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
    if (typeof record.s !== 'number' || !Array.isArray(record.c)) return { reason: 'malformed record' };
    return { record };
  } catch {
    return { reason: 'malformed JSON' };
  }
}
