import * as assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { HarnessError } from '../../src/core/errors';
import { decodeJournal, encodeRecord, type JournalRecord } from '../../src/core/journal';
import type { TaskRow } from '../../src/core/store';
import { taskRow } from '../support/rows';

const FILE = '/state/journal.log';

function row(id: string): TaskRow {
  return taskRow(id, {
    description: `task ${id} with "quotes", a \\ backslash,\na newline and ünïcødé ✓`,
    payload: { nested: [1, 'two', null] },
  });
}

const records: JournalRecord[] = [
  { s: 1, c: [{ op: 'task', row: row('a') }, { op: 'meta', key: 'task_seq', value: '1' }] },
  { s: 2, c: [{ op: 'instance_delete', worker_id: 'w1' }] },
  { s: 3, c: [{ op: 'task', row: row('b') }] },
];

function journalOf(recs: JournalRecord[]): Buffer {
  return Buffer.from(recs.map(encodeRecord).join(''), 'utf8');
}

/** The journal with the `index`-th record (0-based) changed in one byte of its JSON, same length. */
function damaged(recs: JournalRecord[], index: number): Buffer {
  const lines = recs.map(encodeRecord);
  const line = lines[index]!;
  const at = line.indexOf('"op"') + 2; // the `p` of "op"
  lines[index] = line.slice(0, at) + 'q' + line.slice(at + 1);
  return Buffer.from(lines.join(''), 'utf8');
}

function corrupt(fn: () => unknown): HarnessError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof HarnessError, `expected a HarnessError, got ${String(e)}`);
    assert.equal(e.code, 'STATE_CORRUPT', e.message);
    return e;
  }
  assert.fail('expected STATE_CORRUPT');
}

describe('journal encoding', () => {
  it('encodes one line per record: 8 hex digits of CRC-32, a space, the JSON, a newline', () => {
    const line = encodeRecord(records[0]!);
    assert.match(line, /^[0-9a-f]{8} \{.*\}\n$/s);
    assert.equal(line.indexOf('\n'), line.length - 1, 'a raw newline in the data must not split the record');
  });

  it('round-trips records, including newlines, quotes and non-ASCII text', () => {
    const data = journalOf(records);
    const decoded = decodeJournal(data, FILE);
    assert.deepEqual(decoded.records, records);
    assert.equal(decoded.goodLength, data.length);
    assert.equal(decoded.tornBytes, 0);
  });

  it('reads an empty journal as no records', () => {
    assert.deepEqual(decodeJournal(Buffer.alloc(0), FILE), { records: [], goodLength: 0, tornBytes: 0 });
  });
});

describe('journal damage', () => {
  it('drops a torn tail (part of a record, no newline) and reports where the intact part ends', () => {
    const intact = journalOf(records.slice(0, 2));
    const last = Buffer.from(encodeRecord(records[2]!), 'utf8');
    for (const cut of [1, 8, 9, Math.floor(last.length / 2), last.length - 1]) {
      const data = Buffer.concat([intact, last.subarray(0, cut)]);
      const decoded = decodeJournal(data, FILE);
      assert.deepEqual(decoded.records, records.slice(0, 2), `cut at ${cut}`);
      assert.equal(decoded.goodLength, intact.length, `cut at ${cut}`);
      assert.equal(decoded.tornBytes, cut, `cut at ${cut}`);
    }
  });

  it('drops a torn tail that is the only content', () => {
    const half = Buffer.from(encodeRecord(records[0]!)).subarray(0, 20);
    assert.deepEqual(decodeJournal(half, FILE), { records: [], goodLength: 0, tornBytes: 20 });
  });

  it('drops a complete last record whose checksum does not match', () => {
    const data = damaged(records, 2);
    const decoded = decodeJournal(data, FILE);
    assert.deepEqual(decoded.records, records.slice(0, 2));
    assert.equal(decoded.goodLength, journalOf(records.slice(0, 2)).length);
    assert.equal(decoded.tornBytes, data.length - decoded.goodLength);
  });

  it('drops a damaged last record followed by a torn one (one interrupted group write)', () => {
    const data = Buffer.concat([damaged(records, 2), Buffer.from(encodeRecord(records[0]!)).subarray(0, 15)]);
    const decoded = decodeJournal(data, FILE);
    assert.deepEqual(decoded.records, records.slice(0, 2));
    assert.equal(decoded.tornBytes, data.length - journalOf(records.slice(0, 2)).length);
  });

  it('refuses damage followed by an intact record, naming the damaged line and the file', () => {
    const e = corrupt(() => decodeJournal(damaged(records, 1), FILE));
    assert.match(e.message, /record 2\b/);
    assert.match(e.message, /checksum mismatch/);
    assert.ok(e.message.includes(FILE), e.message);
    assert.deepEqual(e.details, { file: FILE, line: 2 });
  });

  it('refuses a damaged first record when intact ones follow', () => {
    const e = corrupt(() => decodeJournal(damaged(records, 0), FILE));
    assert.deepEqual(e.details, { file: FILE, line: 1 });
  });

  it('refuses a blank or malformed line in the middle', () => {
    const [a, b] = records.map(encodeRecord);
    corrupt(() => decodeJournal(Buffer.from(`${a}\n${b}`), FILE));
    corrupt(() => decodeJournal(Buffer.from(`${a}not a record at all\n${b}`), FILE));
  });

  it('refuses a well-checksummed line that is not a record, when intact records follow', () => {
    const json = JSON.stringify({ hello: 'world' });
    const bogus = `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
    const e = corrupt(() => decodeJournal(Buffer.from(bogus + encodeRecord(records[0]!)), FILE));
    assert.match(e.message, /malformed record/);
  });

  it('refuses two damaged records at the end: one crash tears only the last record', () => {
    const lines = records.map(encodeRecord);
    const bad = (l: string) => l.replace('"s":', '"S":');
    const e = corrupt(() => decodeJournal(Buffer.from(lines[0]! + bad(lines[1]!) + bad(lines[2]!)), FILE));
    assert.match(e.message, /record 2 \(checksum mismatch\) and has more damaged records after it/);
  });

  it('refuses a garbage file, keeping the line number of the first damage', () => {
    const garbage = Buffer.from('\x00\x01binary junk\nmore junk\nand more\n'.repeat(10), 'latin1');
    assert.deepEqual(corrupt(() => decodeJournal(garbage, FILE)).details, { file: FILE, line: 1 });
    const e = corrupt(() => decodeJournal(Buffer.concat([journalOf(records), garbage]), FILE));
    assert.deepEqual(e.details, { file: FILE, line: 4 });
    corrupt(() => decodeJournal(Buffer.concat([garbage, journalOf(records)]), FILE));
  });
});
