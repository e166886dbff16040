import { crc32 } from 'node:zlib';
import { ErrorCode, HarnessError } from './errors';
import type { Change } from './store';

/**
 * The record format this program writes. Version 0 (no `v` field) is what the first releases
 * wrote: the same changes, read the same way. A record of a newer version is refused, never
 * guessed at: a newer program may have changed what a change means. 2: records may hold
 * targets, slots and budgets (a program of format 1 would drop them unnoticed).
 */
export const JOURNAL_FORMAT = 2;

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
  return `${checksum(json)} ${json}\n`;
}

function checksum(json: string): string {
  return crc32(json).toString(16).padStart(8, '0');
}

/**
 * Records framed as lines, straight into one buffer: no framed copy of each JSON string, which
 * for a large plan import would be tens of megabytes more at the moment memory peaks.
 */
export function frameRecords(jsons: readonly string[]): Buffer {
  let total = 0;
  for (const json of jsons) total += 10 + Buffer.byteLength(json);
  const out = Buffer.allocUnsafeSlow(total);
  let at = 0;
  for (const json of jsons) {
    at += out.write(checksum(json), at, 'latin1');
    out[at++] = 0x20;
    at += out.write(json, at, 'utf8');
    out[at++] = 0x0a;
  }
  return out;
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

/** What is in a journal up to its first damaged line, and what follows that line. */
export interface JournalScan {
  /** The intact records before the first damaged line. */
  records: JournalRecord[];
  goodLength: number;
  damage?: {
    /** Line number (1-based) of the first damaged record, and why it is damaged. */
    line: number;
    reason: string;
    /** A record of a newer format than this program reads: not damage, but as unreadable. */
    newer?: number;
    /** Complete lines after it (intact or not); 0 when only an unfinished fragment follows. */
    linesAfter: number;
    intactAfter: number;
  };
}

/**
 * Reads a journal's records up to its first damaged line, without judging the damage. With
 * `onRecord`, each record goes there as it is read instead of into `records` (a large journal is
 * then never all in memory at once).
 */
export function scanJournal(data: Buffer, onRecord?: (record: JournalRecord) => void): JournalScan {
  const records: JournalRecord[] = [];
  let offset = 0;
  let goodLength = 0;
  let damage: JournalScan['damage'];
  let line = 0;
  while (offset < data.length) {
    line++;
    const end = data.indexOf(0x0a, offset);
    const next = end === -1 ? data.length : end + 1;
    const parsed = end === -1 ? { reason: 'incomplete record' } : parseLine(data.subarray(offset, end));
    if (damage) {
      if (end !== -1) {
        damage.linesAfter++;
        if ('record' in parsed) damage.intactAfter++;
      }
    } else if ('record' in parsed && (parsed.record.v ?? 0) > JOURNAL_FORMAT) {
      const v = parsed.record.v!;
      damage = { line, reason: `format ${v}, newer than this program reads (${JOURNAL_FORMAT})`, newer: v, linesAfter: 0, intactAfter: 0 };
    } else if ('record' in parsed) {
      if (onRecord) onRecord(parsed.record);
      else records.push(parsed.record);
      goodLength = next;
    } else {
      damage = { line, reason: parsed.reason, linesAfter: 0, intactAfter: 0 };
    }
    offset = next;
  }
  return { records, goodLength, ...(damage ? { damage } : {}) };
}

/**
 * Reads a journal. Damage at the very end is what a crash mid-write leaves: one damaged or
 * unfinished last record, which is dropped. Damage followed by more records is not a crash; it is
 * an error, and the file is left alone. So is a record of a newer format, anywhere.
 */
export function decodeJournal(data: Buffer, file: string, onRecord?: (record: JournalRecord) => void): DecodedJournal {
  const { records, goodLength, damage } = scanJournal(data, onRecord);
  if (damage?.newer !== undefined) {
    throw new HarnessError(
      ErrorCode.StateCorrupt,
      `journal ${file} record ${damage.line} has ${damage.reason}: it was written by a newer Agent Harness; the files were left as they are`,
      { file, line: damage.line, format: damage.newer },
    );
  }
  // A crash tears the last record; after a damaged record only an unfinished fragment (no
  // newline) may follow. More whole records after it, intact or not, are not a crash.
  if (damage && damage.linesAfter > 0) {
    throw new HarnessError(
      ErrorCode.StateCorrupt,
      `journal ${file} is damaged at record ${damage.line} (${damage.reason}) and has ` +
        `${damage.intactAfter > 0 ? 'intact' : 'more damaged'} records after it; the files were left as they are for inspection ` +
        '(`harness recover` shows what is intact)',
      { file, line: damage.line },
    );
  }
  return { records, goodLength, tornBytes: data.length - goodLength };
}

function parseLine(bytes: Buffer): { record: JournalRecord } | { reason: string } {
  const text = bytes.toString('utf8');
  if (text.length < 10 || text[8] !== ' ') return { reason: 'malformed record' };
  const json = text.slice(9);
  if (checksum(json) !== text.slice(0, 8)) return { reason: 'checksum mismatch' };
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
