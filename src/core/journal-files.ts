// The journal's files in the state directory: `journal.log`, the one being appended to, and
// sealed ones (`journal-<first record>.log`) that a snapshot being written will replace. Replay
// reads them oldest first as one sequence of records and refuses any gap in it.
import * as path from 'node:path';
import { describeError, ErrorCode, HarnessError } from './errors';
import type { FileOps } from './files';
import { decodeJournal, type JournalRecord } from './journal';

export const JOURNAL_FILE = 'journal.log';
const SEALED = /^journal-(\d+)\.log$/;

export function sealedJournalName(firstSeq: number): string {
  return `journal-${String(firstSeq).padStart(12, '0')}.log`;
}

/** The sealed journals, oldest first, then the active one (paths; the active one may not exist). */
export function journalFiles(dir: string, files: FileOps): { sealed: string[]; active: string } {
  const sealed = files
    .list(dir)
    .map((name) => [name, SEALED.exec(name)?.[1]] as const)
    .filter((x): x is readonly [string, string] => x[1] !== undefined)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map(([name]) => path.join(dir, name));
  return { sealed, active: path.join(dir, JOURNAL_FILE) };
}

export interface ReplayResult {
  /** The number of the last record replayed (or `afterSeq` when none was). */
  seq: number;
  records: number;
  /** Bytes of a torn last record at the end of the active journal (a crash mid-append), dropped. */
  tornBytes: number;
  /** The active journal's length without that torn record. */
  activeLength: number;
  /** The first record in the active journal, if it has any. */
  activeFirstSeq: number | undefined;
}

/**
 * Hands every record after `afterSeq` to `onRecord`, in order, from the given journals. Only
 * `active` (the journal being appended to, when it is among them) may end in a torn record
 * (dropped); any other damage, and any gap in the numbers, is STATE_CORRUPT with the files left
 * as they are.
 */
export function replayJournals(
  sources: readonly string[],
  files: FileOps,
  afterSeq: number,
  onRecord: (record: JournalRecord) => void,
  active?: string,
): ReplayResult {
  let seq = afterSeq;
  let records = 0;
  const result: ReplayResult = { seq, records, tornBytes: 0, activeLength: 0, activeFirstSeq: undefined };
  for (const file of sources) {
    const last = file === active;
    let first: number | undefined;
    // Records are applied as they are read; damage found further on still refuses the whole open.
    const journal = decodeJournal(files.readFile(file) ?? Buffer.alloc(0), file, (record) => {
      first ??= record.s;
      if (record.s <= seq) return; // already in the snapshot
      if (record.s !== seq + 1) {
        // Every record is intact, yet some are missing: a line cut out of the journal, or the
        // snapshot that held them deleted. Replaying on would silently drop committed changes.
        throw new HarnessError(
          ErrorCode.StateCorrupt,
          `journal ${file} jumps from record ${seq} to record ${record.s}: committed changes are missing ` +
            `(a damaged journal, or a removed snapshot); the files were left as they are for inspection`,
          { file, expected: seq + 1, found: record.s },
        );
      }
      try {
        onRecord(record);
      } catch (e) {
        throw new HarnessError(
          ErrorCode.StateCorrupt,
          `journal record ${record.s} in ${file} cannot be applied (${describeError(e)}); the files were left as they are`,
          { file, record: record.s },
        );
      }
      seq = record.s;
      records++;
    });
    if (journal.tornBytes > 0 && !last) {
      throw new HarnessError(
        ErrorCode.StateCorrupt,
        `journal ${file} ends in a damaged record, yet it was complete when sealed; the files were left as they are for inspection`,
        { file },
      );
    }
    if (last) {
      result.tornBytes = journal.tornBytes;
      result.activeLength = journal.goodLength;
      result.activeFirstSeq = first;
    }
  }
  return { ...result, seq, records };
}
