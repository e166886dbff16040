// `harness recover`: what of a damaged state directory is intact, and a way to start from it.
// Inspecting reads only. Repairing keeps a copy of every state file first, then writes a new
// snapshot holding the intact part (the snapshot, or what SQLite can still read of a damaged
// one, and every journal record up to the first damaged or missing one) and empty journals.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeError, ErrorCode, HarnessError } from './errors';
import type { FileOps } from './files';
import { scanJournal, type JournalRecord } from './journal';
import { JOURNAL_FILE, journalFiles } from './journal-files';
import { applyRows, scanSnapshot, SNAPSHOT_FILE, SnapshotWriter, verifySnapshot, type RowOp, type SnapshotContents } from './snapshot';
import { assertSafeStateDirectory } from './state-dir';
import { acquireStateLock } from './state-lock';
import type { Change } from './store';

export interface SnapshotReport {
  file: string;
  bytes: number;
  /** intact: checksum good; unchecked: written before checksums; damaged: refused at start; missing. */
  status: 'intact' | 'unchecked' | 'damaged' | 'missing';
  problem?: string;
  /** Whether SQLite can read every row of it despite the damage (then its rows are kept, some maybe altered). */
  readable?: boolean;
  /** The record it stands for, and the tasks in it (when readable). */
  seq?: number;
  tasks?: number;
}

export interface JournalReport {
  file: string;
  bytes: number;
  /** Intact records before the first damage. */
  records: number;
  first_seq?: number;
  last_seq?: number;
  problem?: string;
  /** Lines after the damage, all lost with it. */
  lines_after_damage?: number;
}

export interface StateReport {
  dir: string;
  snapshot: SnapshotReport;
  journals: JournalReport[];
  /** The last record that can be applied in order: the state a repair starts from. */
  intact_through: number;
  /** Records kept on top of the snapshot, and records (or damaged lines) that a repair drops. */
  kept_records: number;
  dropped_records: number;
  /** Tasks in the state a repair would write. */
  tasks: number;
  /** Whether the coordinator would start on it as it is (a torn last record is no damage). */
  healthy: boolean;
  problems: string[];
}

interface Inspection {
  report: StateReport;
  /** The intact part, as changes: what a repair writes. */
  base: Change[];
  records: JournalRecord[];
}

async function inspect(dir: string, files: FileOps): Promise<Inspection> {
  assertSafeStateDirectory(dir);
  const problems: string[] = [];
  const snapshotPath = path.join(dir, SNAPSHOT_FILE);
  const bytes = files.readFile(snapshotPath);
  const snapshot: SnapshotReport = { file: snapshotPath, bytes: bytes?.length ?? 0, status: bytes ? 'intact' : 'missing' };
  const base: Change[] = [];
  let seq = 0;
  if (bytes) {
    const sink = (out: Change[]) => ({
      meta: (key: string, value: string) => out.push({ op: 'meta', key, value }),
      rows: (op: RowOp, chunk: string) => applyRows(op, chunk, (c) => out.push(c), snapshotPath),
    });
    let contents: SnapshotContents | undefined;
    try {
      contents = await scanSnapshot(bytes, snapshotPath, sink(base));
      snapshot.status = contents.checked ? 'intact' : 'unchecked';
    } catch (e) {
      snapshot.status = 'damaged';
      snapshot.problem = describeError(e);
      problems.push(snapshot.problem);
      base.length = 0;
      // What SQLite still reads of it, checksum aside: offered, never taken silently.
      try {
        contents = await scanSnapshot(bytes, snapshotPath, sink(base), { ignoreChecksum: true });
        snapshot.readable = true;
      } catch {
        base.length = 0;
        snapshot.readable = false;
      }
    }
    if (contents) {
      seq = contents.seq;
      snapshot.seq = contents.seq;
      snapshot.tasks = base.filter((c) => c.op === 'task').length;
    }
  }

  const { sealed, active } = journalFiles(dir, files);
  const journals: JournalReport[] = [];
  const records: JournalRecord[] = [];
  let stopped: string | undefined;
  let dropped = 0;
  for (const file of [...sealed, active]) {
    const data = files.readFile(file);
    if (!data) continue;
    const scan = scanJournal(data);
    const report: JournalReport = { file, bytes: data.length, records: scan.records.length };
    if (scan.records.length > 0) {
      report.first_seq = scan.records[0]!.s;
      report.last_seq = scan.records.at(-1)!.s;
    }
    const tornTail = file === active && scan.damage !== undefined && scan.damage.linesAfter === 0 && scan.damage.newer === undefined;
    if (scan.damage && !tornTail) {
      report.problem = `its line ${scan.damage.line} is damaged (${scan.damage.reason})`;
      report.lines_after_damage = scan.damage.linesAfter;
      problems.push(`${file}: ${report.problem}, ${scan.damage.linesAfter} more line(s) after it`);
    }
    journals.push(report);
    for (const r of scan.records) {
      if (stopped) {
        dropped++;
      } else if (r.s <= seq) {
        continue;
      } else if (r.s !== seq + 1) {
        stopped =
          snapshot.status === 'damaged' && !snapshot.readable
            ? `the records in ${file} start at ${r.s}: the snapshot they build on is unreadable`
            : `${file} jumps from record ${seq} to record ${r.s}: records in between are missing`;
        problems.push(stopped);
        dropped++;
      } else {
        records.push(r);
        seq = r.s;
      }
    }
    if (scan.damage && !tornTail) {
      stopped ??= `${file} is damaged at line ${scan.damage.line}`;
      dropped += 1 + scan.damage.linesAfter;
    }
  }
  const tasks = new Set(base.filter((c) => c.op === 'task').map((c) => (c as { row: { id: string } }).row.id));
  for (const r of records) for (const c of r.c) if (c.op === 'task') tasks.add(c.row.id);
  return {
    report: {
      dir,
      snapshot,
      journals,
      intact_through: seq,
      kept_records: records.length,
      dropped_records: dropped,
      tasks: tasks.size,
      healthy: problems.length === 0,
      problems,
    },
    base,
    records,
  };
}

/** What is intact in a state directory; reads only. */
export async function inspectState(dir: string, files: FileOps): Promise<StateReport> {
  return (await inspect(dir, files)).report;
}

export interface RepairResult {
  report: StateReport;
  /** Where copies of the files as they were are kept. */
  backup: string;
}

/**
 * Starts `dir` over from its intact part: copies every state file into `damaged-<time>/` under
 * it, writes a snapshot of the intact part and empties the journals. Refused while a coordinator
 * holds the directory.
 */
export async function repairState(dir: string, files: FileOps, now = new Date()): Promise<RepairResult> {
  assertSafeStateDirectory(dir);
  const lock = acquireStateLock(dir);
  try {
    const { report, base, records } = await inspect(dir, files);
    const backup = path.join(dir, `damaged-${now.toISOString().replace(/[:.]/g, '-')}`);
    const present = [report.snapshot.file, ...report.journals.map((j) => j.file)].filter((f) => files.readFile(f) !== undefined);
    fs.mkdirSync(backup, { recursive: true, mode: 0o700 });
    for (const f of present) files.writeAtomic(path.join(backup, path.basename(f)), files.readFile(f)!);
    const writer = await SnapshotWriter.open(undefined, report.snapshot.file);
    let image: Uint8Array;
    try {
      for (const c of base) writer.apply(c);
      for (const r of records) for (const c of r.c) writer.apply(c);
      image = writer.finish(report.intact_through);
    } finally {
      writer.close();
    }
    verifySnapshot(image, report.snapshot.file);
    files.writeAtomic(report.snapshot.file, image);
    for (const j of report.journals) files.remove(j.file);
    files.close(files.openAppend(path.join(dir, JOURNAL_FILE)));
    files.syncDirectory(dir);
    return { report, backup };
  } catch (e) {
    if (e instanceof HarnessError) throw e;
    throw new HarnessError(ErrorCode.Storage, `could not repair ${dir}: ${describeError(e)}`);
  } finally {
    lock.release();
  }
}
